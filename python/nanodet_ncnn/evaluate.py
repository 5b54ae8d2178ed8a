"""COCO-style evaluation (mAP@[.5:.95], mAP@.5, per-class AP) with pycocotools.

Datasets: a YOLO-format folder (images/ + labels/*.txt with `class cx cy w h` normalised, plus
names.yaml / data.yaml / classes.txt) or a COCO json (with the image folder beside it or given).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .names import load_names
from .sources import IMAGE_EXTS


@dataclass
class GroundTruth:
    """Images and boxes in a dataset-independent form (boxes as x1, y1, x2, y2 pixels)."""

    names: list[str]
    images: list[dict] = field(default_factory=list)  # {"id", "path", "width", "height"}
    boxes: list[dict] = field(default_factory=list)   # {"image_id", "class_id", "xyxy", "iscrowd"}


def _find_names_file(root: Path) -> Path | None:
    for name in ("names.yaml", "data.yaml", "dataset.yaml", "classes.txt", "names.txt", "labels.txt"):
        if (root / name).is_file():
            return root / name
    return None


def load_yolo(root: str | os.PathLike, names=None) -> GroundTruth:
    import cv2

    root = Path(root)
    img_dir = root / "images" if (root / "images").is_dir() else root
    lbl_dir = root / "labels" if (root / "labels").is_dir() else root
    paths = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not paths:
        raise FileNotFoundError(f"no images in {img_dir}")
    if names is None:
        nf = _find_names_file(root)
        if nf is None:
            raise FileNotFoundError(f"no class names in {root} (names.yaml, data.yaml or classes.txt)")
        names = load_names(nf, _count_names(nf))
    gt = GroundTruth(list(names))
    for i, p in enumerate(paths):
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ValueError(f"cannot decode {p}")
        h, w = img.shape[:2]
        gt.images.append({"id": i + 1, "path": str(p), "width": w, "height": h})
        lf = lbl_dir / (p.stem + ".txt")
        if not lf.exists():
            continue  # an image without objects
        for ln, line in enumerate(lf.read_text().splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 5:
                raise ValueError(f"{lf}:{ln}: expected 'class cx cy w h'")
            c = int(float(parts[0]))
            cx, cy, bw, bh = (float(v) for v in parts[1:5])
            if not 0 <= c < len(gt.names):
                raise ValueError(f"{lf}:{ln}: class {c} outside the {len(gt.names)} names")
            gt.boxes.append({"image_id": i + 1, "class_id": c, "iscrowd": 0,
                             "xyxy": [(cx - bw / 2) * w, (cy - bh / 2) * h,
                                      (cx + bw / 2) * w, (cy + bh / 2) * h]})
    return gt


def _count_names(path: Path) -> int:
    from .names import _parse_yaml_names

    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        return len(_parse_yaml_names(text))
    return len([ln for ln in text.splitlines() if ln.strip()])


def load_coco_json(path: str | os.PathLike, images_dir: str | os.PathLike | None = None) -> GroundTruth:
    path = Path(path)
    data = json.loads(path.read_text())
    cats = sorted(data["categories"], key=lambda c: c["id"])
    cat_index = {c["id"]: i for i, c in enumerate(cats)}
    if images_dir is None:
        for cand in (path.parent / "images", path.parent.parent / "images", path.parent):
            if cand.is_dir():
                images_dir = cand
                break
    images_dir = Path(images_dir)
    gt = GroundTruth([c["name"] for c in cats])
    id_map = {}
    for i, im in enumerate(data["images"]):
        id_map[im["id"]] = i + 1
        gt.images.append({"id": i + 1, "path": str(images_dir / im["file_name"]),
                          "width": im["width"], "height": im["height"]})
    for a in data.get("annotations", []):
        x, y, w, h = a["bbox"]
        gt.boxes.append({"image_id": id_map[a["image_id"]], "class_id": cat_index[a["category_id"]],
                         "iscrowd": a.get("iscrowd", 0), "xyxy": [x, y, x + w, y + h]})
    return gt


def load_dataset(data: str | os.PathLike, images_dir=None) -> GroundTruth:
    p = Path(data)
    if p.is_file() and p.suffix == ".json":
        return load_coco_json(p, images_dir)
    if p.is_dir():
        return load_yolo(p)
    raise FileNotFoundError(f"dataset not found or not understood: {p} (a YOLO folder or a COCO json)")


def class_mapping(model_names: list[str], data_names: list[str]) -> list[int]:
    """For each model class, the dataset class it means (-1: not in the dataset). By name where
    the names agree, by index otherwise."""
    if model_names == data_names:
        return list(range(len(model_names)))
    lookup = {n.lower(): i for i, n in enumerate(data_names)}
    by_name = [lookup.get(n.lower(), -1) for n in model_names]
    if sum(i >= 0 for i in by_name) >= max(1, len(model_names) // 2):
        return by_name
    if len(model_names) == len(data_names):
        return list(range(len(model_names)))
    raise ValueError("the model's classes do not match the dataset's (by name or by count)")


def coco_map(gt: GroundTruth, predictions: list[dict], curves: bool = False) -> dict:
    """mAP figures for predictions [{"image_id", "class_id", "xyxy", "score"}] against gt.
    ``curves``: also the IoU-0.5 precision-recall curves ("pr_curve": recall points, precision
    per class present in gt, their mean)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    cats = [{"id": i + 1, "name": n} for i, n in enumerate(gt.names)]
    anns = []
    for k, b in enumerate(gt.boxes):
        x1, y1, x2, y2 = b["xyxy"]
        anns.append({"id": k + 1, "image_id": b["image_id"], "category_id": b["class_id"] + 1,
                     "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                     "iscrowd": b.get("iscrowd", 0)})
    coco_gt = COCO()
    coco_gt.dataset = {"images": [{"id": im["id"], "width": im["width"], "height": im["height"]}
                                  for im in gt.images], "annotations": anns, "categories": cats}
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt.createIndex()
    result = {"map": 0.0, "map50": 0.0, "map75": 0.0, "per_class": {},
              "images": len(gt.images), "boxes": len(gt.boxes), "predictions": len(predictions)}
    if not predictions or not anns:
        return result
    dets = [{"image_id": p["image_id"], "category_id": p["class_id"] + 1,
             "bbox": [p["xyxy"][0], p["xyxy"][1], p["xyxy"][2] - p["xyxy"][0],
                      p["xyxy"][3] - p["xyxy"][1]], "score": p["score"]} for p in predictions]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(dets)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    result["map"], result["map50"], result["map75"] = (float(v) for v in ev.stats[:3])
    # precision: [T, R, K, A, M]; area "all" (0), maxDets 100 (last)
    prec = ev.eval["precision"][:, :, :, 0, -1]
    present = {b["class_id"] for b in gt.boxes}
    for k, name in enumerate(gt.names):
        if k not in present:
            continue
        p = prec[:, :, k]
        p = p[p > -1]
        result["per_class"][name] = float(p.mean()) if p.size else 0.0
    if curves:
        at50 = np.clip(prec[0], 0, None)  # [R, K]; -1 (no such class) only for absent classes
        per_class = {name: at50[:, k].tolist() for k, name in enumerate(gt.names) if k in present}
        result["pr_curve"] = {"iou": 0.5, "recall": ev.params.recThrs.tolist(), "per_class": per_class,
                              "mean": np.mean([per_class[n] for n in per_class], 0).tolist()}
    return result


def confusion_matrix(gt: GroundTruth, predictions: list[dict], conf: float = 0.25,
                     iou: float = 0.5) -> dict:
    """Predicted (rows) x true (columns) class counts, the last row / column "background": per
    image, predictions scoring >= conf are matched to ground truth boxes of any class with IoU
    >= iou, best IoU first (as ultralytics' val does)."""
    n = len(gt.names)
    m = np.zeros((n + 1, n + 1), np.int64)
    by_image: dict = {}
    for b in gt.boxes:
        by_image.setdefault(b["image_id"], ([], []))[0].append(b)
    for p in predictions:
        if p["score"] >= conf:
            by_image.setdefault(p["image_id"], ([], []))[1].append(p)
    for gts, preds in by_image.values():
        g = np.array([b["xyxy"] for b in gts], float).reshape(-1, 4)
        d = np.array([p["xyxy"] for p in preds], float).reshape(-1, 4)
        lt = np.maximum(d[:, None, :2], g[None, :, :2])
        rb = np.minimum(d[:, None, 2:], g[None, :, 2:])
        inter = np.clip(rb - lt, 0, None).prod(2)
        area = lambda a: np.clip(a[:, 2:] - a[:, :2], 0, None).prod(1)  # noqa: E731
        union = area(d)[:, None] + area(g)[None, :] - inter
        ious = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
        used_d, used_g = set(), set()
        for flat in np.argsort(-ious, axis=None, kind="stable"):
            i, j = divmod(int(flat), len(gts))
            if ious[i, j] < iou:
                break
            if i in used_d or j in used_g:
                continue
            used_d.add(i)
            used_g.add(j)
            m[preds[i]["class_id"], gts[j]["class_id"]] += 1
        for j, b in enumerate(gts):
            if j not in used_g:
                m[n, b["class_id"]] += 1
        for i, p in enumerate(preds):
            if i not in used_d:
                m[p["class_id"], n] += 1
    return {"names": list(gt.names) + ["background"], "matrix": m.tolist(), "conf": conf,
            "iou": iou}


def evaluate(model, data: str | os.PathLike, *, images_dir=None, conf: float = 0.001,
             iou: float = 0.6, nms: str = "class", max_det: int = 100, progress: bool = True,
             limit: int | None = None, curves: bool = False) -> dict:
    """Runs `model` (a Detector) over the dataset and returns coco_map()'s figures plus timing;
    ``curves``: also the precision-recall curves and the confusion matrix (for plots)."""
    from .sources import to_frames

    gt = load_dataset(data, images_dir)
    if limit:
        keep = {im["id"] for im in gt.images[:limit]}
        gt.images = gt.images[:limit]
        gt.boxes = [b for b in gt.boxes if b["image_id"] in keep]
    mapping = class_mapping(list(model.names), gt.names)
    preds: list[dict] = []
    times = []
    it = gt.images
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(it), unit="img", desc="eval", leave=False)
    with to_frames([im["path"] for im in it]) as frames:
        for im, fr in zip(it, frames):
            d = model.detect(fr.image, conf=conf, iou=iou, nms=nms, max_det=max_det)
            times.append(d.times["total"])
            for box, score, c in zip(d.xyxy.tolist(), d.scores.tolist(), d.class_ids.tolist()):
                if mapping[c] >= 0:
                    preds.append({"image_id": im["id"], "class_id": mapping[c], "xyxy": box, "score": score})
            if bar:
                bar.update(1)
    if bar:
        bar.close()
    out = coco_map(gt, preds, curves=curves)
    if curves:
        out["confusion"] = confusion_matrix(gt, preds)
    out["detect_ms_median"] = float(np.median(times)) if times else 0.0
    return out


def format_table(result: dict) -> str:
    lines = [f"mAP@[.5:.95] {result['map']:.4f}   mAP@.5 {result['map50']:.4f}   "
             f"mAP@.75 {result['map75']:.4f}   ({result['images']} images, {result['boxes']} boxes)"]
    if result["per_class"]:
        lines.append(f"{'class':<20}{'AP':>8}")
        for name, ap in sorted(result["per_class"].items(), key=lambda kv: -kv[1]):
            lines.append(f"{name:<20}{ap:>8.4f}")
    return "\n".join(lines)
