package com.nanodet.ncnn.demo;

import java.nio.ByteBuffer;

/**
 * The native detector (libnanodetncnn.so: jni_bridge.cpp over the project's C++ core).
 *
 * <p>Plain Java on purpose (no android.* imports): tools/android/run_checks.sh compiles this very
 * file with javac and drives a desktop build of the same native library with it.
 *
 * <p>Frames go in as bytes plus width, height, row stride, pixel format, rotation (clockwise
 * degrees that turn the stored frame upright) and a mirror flag (flip left-right afterwards, for
 * the front camera). Detections come out in the coordinates of that upright, mirrored frame:
 * exactly what the screen shows.
 */
public final class NanoDet implements AutoCloseable {
    // Pixel formats: same numbers as nanodet::FrameFormat (cpp/include/nanodet_ncnn/frame.h).
    public static final int FORMAT_BGR = 0;
    public static final int FORMAT_RGB = 1;
    public static final int FORMAT_RGBA = 2;
    public static final int FORMAT_BGRA = 3;
    public static final int FORMAT_GRAY = 4;
    public static final int FORMAT_NV21 = 5;
    public static final int FORMAT_NV12 = 6;
    public static final int FORMAT_YUV420 = 7;

    // CPU cores used for inference (ncnn powersave modes).
    public static final int CORES_ALL = 0;
    public static final int CORES_LITTLE = 1;
    public static final int CORES_BIG = 2;

    static {
        System.loadLibrary("nanodetncnn");
    }

    private long handle;

    /**
     * @param param the model's .param text, as bytes
     * @param bin the model's .bin weights
     * @param numThreads ncnn threads (1..256)
     * @param inputSize network input side, 0 = the size the model was exported with
     */
    public NanoDet(byte[] param, byte[] bin, int numThreads, int inputSize) {
        handle = nativeCreate(param, bin, numThreads, inputSize);
        if (handle == 0) throw new IllegalStateException("model could not be loaded");
    }

    /** Frames in a byte array: BGR/RGB/RGBA/BGRA/GRAY rows, or NV21/NV12 (Y plane then chroma). */
    public synchronized Result detect(byte[] data, int width, int height, int rowStride, int format,
                                      int rotation, boolean mirror, float conf, float iou) {
        return new Result(nativeDetect(live(), data, width, height, rowStride, format, rotation,
                mirror, conf, iou));
    }

    /**
     * Camera frames as Android's YUV_420_888 hands them out: three direct ByteBuffers (planes 0,
     * 1, 2 = Y, U, V), the Y row stride and the chroma row and pixel strides.
     */
    public synchronized Result detectYuv420(ByteBuffer y, ByteBuffer u, ByteBuffer v, int width,
                                            int height, int yRowStride, int uvRowStride,
                                            int uvPixelStride, int rotation, boolean mirror,
                                            float conf, float iou) {
        return new Result(nativeDetectYuv420(live(), y, u, v, width, height, yRowStride,
                uvRowStride, uvPixelStride, rotation, mirror, conf, iou));
    }

    public synchronized String describe() {
        return nativeDescribe(live());
    }

    public synchronized int numClasses() {
        return nativeNumClasses(live());
    }

    @Override
    public synchronized void close() {
        if (handle != 0) nativeRelease(handle);
        handle = 0;
    }

    private long live() {
        if (handle == 0) throw new IllegalStateException("detector is closed");
        return handle;
    }

    /** The upright, mirrored frame as packed BGR bytes: what the detector sees (diagnostics). */
    public static byte[] toBgr(byte[] data, int width, int height, int rowStride, int format,
                               int rotation, boolean mirror) {
        return nativeToBgr(data, width, height, rowStride, format, rotation, mirror);
    }

    public static byte[] toBgrYuv420(ByteBuffer y, ByteBuffer u, ByteBuffer v, int width,
                                     int height, int yRowStride, int uvRowStride,
                                     int uvPixelStride, int rotation, boolean mirror) {
        return nativeToBgrYuv420(y, u, v, width, height, yRowStride, uvRowStride, uvPixelStride,
                rotation, mirror);
    }

    /** CORES_ALL, CORES_LITTLE or CORES_BIG; applies from the next detection on. */
    public static boolean setCpuCores(int mode) {
        return nativeSetCpuCores(mode);
    }

    /** {all cores, little cores, big cores} as ncnn counts them. */
    public static int[] cpuInfo() {
        return nativeCpuInfo();
    }

    public static String version() {
        return nativeVersion();
    }

    /** One frame's detections and stage timings (see nanodet::pack_result). */
    public static final class Result {
        public static final int HEADER = 8;
        public static final int PER_DETECTION = 6;

        public final float[] raw;
        public final int count;
        public final int width;   // upright frame size: the coordinate space of the boxes
        public final int height;
        public final float convertMs;      // YUV -> RGB, rotation, mirror (part of preprocessMs)
        public final float preprocessMs;
        public final float inferenceMs;
        public final float postprocessMs;  // decode + NMS
        public final float totalMs;

        public Result(float[] raw) {
            if (raw == null || raw.length < HEADER) throw new IllegalArgumentException("bad result");
            this.raw = raw;
            count = (int) raw[0];
            width = (int) raw[1];
            height = (int) raw[2];
            convertMs = raw[3];
            preprocessMs = raw[4];
            inferenceMs = raw[5];
            postprocessMs = raw[6];
            totalMs = raw[7];
            if (raw.length != HEADER + PER_DETECTION * count)
                throw new IllegalArgumentException("result length does not match its count");
        }

        private float at(int i, int k) {
            return raw[HEADER + PER_DETECTION * i + k];
        }

        public float x1(int i) { return at(i, 0); }
        public float y1(int i) { return at(i, 1); }
        public float x2(int i) { return at(i, 2); }
        public float y2(int i) { return at(i, 3); }
        public float score(int i) { return at(i, 4); }
        public int classId(int i) { return (int) at(i, 5); }
    }

    private static native long nativeCreate(byte[] param, byte[] bin, int numThreads, int inputSize);
    private static native void nativeRelease(long handle);
    private static native String nativeDescribe(long handle);
    private static native int nativeNumClasses(long handle);
    private static native float[] nativeDetect(long handle, byte[] data, int width, int height,
                                               int rowStride, int format, int rotation,
                                               boolean mirror, float conf, float iou);
    private static native float[] nativeDetectYuv420(long handle, ByteBuffer y, ByteBuffer u,
                                                     ByteBuffer v, int width, int height,
                                                     int yRowStride, int uvRowStride,
                                                     int uvPixelStride, int rotation,
                                                     boolean mirror, float conf, float iou);
    private static native byte[] nativeToBgr(byte[] data, int width, int height, int rowStride,
                                             int format, int rotation, boolean mirror);
    private static native byte[] nativeToBgrYuv420(ByteBuffer y, ByteBuffer u, ByteBuffer v,
                                                   int width, int height, int yRowStride,
                                                   int uvRowStride, int uvPixelStride,
                                                   int rotation, boolean mirror);
    private static native boolean nativeSetCpuCores(int mode);
    private static native int[] nativeCpuInfo();
    private static native String nativeVersion();
}
