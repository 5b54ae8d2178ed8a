"""Real QR codes (the `qrcode` package) pasted onto the shared photos at several sizes and
angles: test images that the 1-class QR model must find."""
from __future__ import annotations

import cv2
import numpy as np


def qr_patch(text: str, side: int, angle: float) -> np.ndarray:
    """A BGR QR code of about `side` pixels with its white quiet zone, rotated by `angle`
    degrees on a white square (so no black corners appear)."""
    import qrcode

    img = np.asarray(qrcode.make(text, border=4).convert("L"))
    img = cv2.resize(img, (side, side), interpolation=cv2.INTER_NEAREST)
    diag = int(np.ceil(side * 1.5))
    canvas = np.full((diag, diag), 255, np.uint8)
    o = (diag - side) // 2
    canvas[o:o + side, o:o + side] = img
    m = cv2.getRotationMatrix2D((diag / 2, diag / 2), angle, 1.0)
    rot = cv2.warpAffine(canvas, m, (diag, diag), flags=cv2.INTER_LINEAR, borderValue=255)
    return cv2.cvtColor(rot, cv2.COLOR_GRAY2BGR)


# (side as a fraction of the photo's shorter side, angle in degrees, centre x, centre y)
PLACEMENTS = ((0.45, 0, 0.5, 0.5), (0.3, 15, 0.3, 0.4), (0.22, -30, 0.7, 0.6), (0.35, 45, 0.5, 0.55))


def qr_scene(photo: np.ndarray, k: int) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """(photo with QR code number `k` pasted in, the pasted square's box x1, y1, x2, y2)."""
    frac, angle, fx, fy = PLACEMENTS[k % len(PLACEMENTS)]
    h, w = photo.shape[:2]
    patch = qr_patch(f"nanodet-ncnn test {k}", int(frac * min(h, w)), angle)
    ph, pw = patch.shape[:2]
    x0 = int(np.clip(fx * w - pw / 2, 0, w - pw))
    y0 = int(np.clip(fy * h - ph / 2, 0, h - ph))
    out = photo.copy()
    out[y0:y0 + ph, x0:x0 + pw] = patch
    return out, (x0, y0, x0 + pw, y0 + ph)
