#!/usr/bin/env python3
"""Convert any image OpenCV (or Pillow) can read into a binary PPM for bench_arm and the C++ tests.

Usage: to_ppm.py IN OUT.ppm
"""
import sys


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    src, dst = sys.argv[1], sys.argv[2]
    try:
        import cv2  # BGR

        bgr = cv2.imread(src, cv2.IMREAD_COLOR)
        if bgr is None:
            print(f"to_ppm: cannot read {src}", file=sys.stderr)
            return 1
        h, w = bgr.shape[:2]
        rgb = bgr[:, :, ::-1].tobytes()
    except ImportError:
        from PIL import Image

        im = Image.open(src).convert("RGB")
        w, h = im.size
        rgb = im.tobytes()
    with open(dst, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(rgb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
