"""Drawing detections: boxes, class names and scores, one stable colour per class."""
from __future__ import annotations

import numpy as np

from .detections import Detections


def class_color(class_id: int) -> tuple[int, int, int]:
    """A fixed, well-spread BGR colour for a class id (golden-ratio hue steps)."""
    import colorsys

    h = (class_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 0.95)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_detections(image: np.ndarray, dets: Detections, *, line_width: int | None = None,
                    labels: bool = True, scores: bool = True) -> np.ndarray:
    """A copy of the BGR `image` with `dets` drawn on it."""
    import cv2

    out = np.ascontiguousarray(image).copy()
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    elif out.shape[2] == 4:
        out = cv2.cvtColor(out, cv2.COLOR_BGRA2BGR)
    h, w = out.shape[:2]
    lw = line_width or max(1, round((h + w) / 2 * 0.003))
    font_scale = max(0.4, lw / 3)
    for d in dets:
        color = class_color(d.class_id)
        x1, y1, x2, y2 = (int(round(v)) for v in d.xyxy)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, lw, cv2.LINE_AA)
        if not (labels or scores):
            continue
        text = " ".join(t for t in (d.name if labels else "", f"{d.score:.2f}" if scores else "") if t)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, max(1, lw - 1))
        x1 = max(0, min(x1, w - tw - 2))
        ty = y1 - 2 if y1 - th - base - 2 >= 0 else y1 + th + base + 2
        cv2.rectangle(out, (x1, ty - th - base), (x1 + tw + 2, ty + 1), color, -1)
        cv2.putText(out, text, (x1 + 1, ty - base + 1), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (255, 255, 255), max(1, lw - 1), cv2.LINE_AA)
    return out
