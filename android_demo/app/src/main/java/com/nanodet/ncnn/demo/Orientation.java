package com.nanodet.ncnn.demo;

/**
 * EXIF orientation -> (rotation, mirror) in the native convention
 * displayed = mirror(rotate_clockwise(stored, rotation)). Plain Java (no android.*).
 */
public final class Orientation {
    private Orientation() {}

    /** Clockwise degrees that turn a stored image with this EXIF orientation upright. */
    public static int rotation(int exif) {
        switch (exif) {
            case 3: case 4: return 180;
            case 5: case 6: return 90;
            case 7: case 8: return 270;
            default: return 0;
        }
    }

    /** Whether the EXIF orientation also flips the image (2, 4, 5, 7). */
    public static boolean mirror(int exif) {
        return exif == 2 || exif == 4 || exif == 5 || exif == 7;
    }
}
