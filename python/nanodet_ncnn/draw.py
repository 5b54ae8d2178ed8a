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
        text = " ".join(t for t in (d.name if labels else "", f"#{d.tracker_id}" if d.tracker_id >= 0 else "",
                                    f"{d.score:.2f}" if scores else "") if t)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, max(1, lw - 1))
        x1 = max(0, min(x1, w - tw - 2))
        ty = y1 - 2 if y1 - th - base - 2 >= 0 else y1 + th + base + 2
        cv2.rectangle(out, (x1, ty - th - base), (x1 + tw + 2, ty + 1), color, -1)
        cv2.putText(out, text, (x1 + 1, ty - base + 1), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (255, 255, 255), max(1, lw - 1), cv2.LINE_AA)
    return out


def draw_trails(image: np.ndarray, trails: dict, *, line_width: int | None = None) -> np.ndarray:
    """Draws in place each track's recent path: ``trails`` maps tracker id -> (class id,
    [(x, y), ...] oldest first)."""
    import cv2

    h, w = image.shape[:2]
    lw = line_width or max(1, round((h + w) / 2 * 0.003))
    for class_id, points in trails.values():
        if len(points) > 1:
            pts = np.round(np.asarray(points, np.float32)).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(image, [pts], False, class_color(class_id), lw, cv2.LINE_AA)
    return image


def draw_count_line(image: np.ndarray, line, counts: dict, *, line_width: int | None = None) -> np.ndarray:
    """Draws in place the counting line and its in / out totals."""
    import cv2

    h, w = image.shape[:2]
    lw = line_width or max(1, round((h + w) / 2 * 0.003))
    x1, y1, x2, y2 = (int(round(v)) for v in line)
    cv2.line(image, (x1, y1), (x2, y2), (255, 255, 255), lw + 2, cv2.LINE_AA)
    cv2.line(image, (x1, y1), (x2, y2), (0, 0, 0), max(1, lw - 1), cv2.LINE_AA)
    text = f"in {counts.get('in', 0)}  out {counts.get('out', 0)}"
    scale = max(0.5, lw / 2.5)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, lw)
    tx = max(0, min((x1 + x2) // 2 - tw // 2, w - tw - 4))
    ty = max(th + base + 4, min((y1 + y2) // 2 - 6, h - 4))
    cv2.rectangle(image, (tx - 2, ty - th - base - 2), (tx + tw + 2, ty + 2), (255, 255, 255), -1)
    cv2.putText(image, text, (tx, ty - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), lw,
                cv2.LINE_AA)
    return image
