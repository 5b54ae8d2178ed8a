"""Class names: COCO's 80 by default, or read from a labels file (txt, one per line, or yaml)."""
from __future__ import annotations

import os
from typing import Sequence

COCO_NAMES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)


def _parse_yaml_names(text: str) -> list[str]:
    """Reads `names:` from a YOLO-style data yaml (list or index mapping) without needing PyYAML."""
    try:
        import yaml  # type: ignore

        data = yaml.safe_load(text)
        names = data.get("names", data) if isinstance(data, dict) else data
        if isinstance(names, dict):
            return [str(names[k]) for k in sorted(names, key=int)]
        return [str(n) for n in names]
    except ImportError:
        pass
    names: dict[int, str] = {}
    listed: list[str] = []
    in_names = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not raw.startswith((" ", "\t", "-")):
            key, _, rest = line.partition(":")
            in_names = key.strip() == "names"
            rest = rest.strip()
            if in_names and rest.startswith("["):
                return [s.strip().strip("'\"") for s in rest.strip("[]").split(",") if s.strip()]
            continue
        if not in_names:
            continue
        item = line.strip()
        if item.startswith("-"):
            listed.append(item[1:].strip().strip("'\""))
        elif ":" in item:
            k, _, v = item.partition(":")
            names[int(k.strip())] = v.strip().strip("'\"")
    if names:
        return [names[k] for k in sorted(names)]
    return listed


def load_names(source: str | os.PathLike | Sequence[str] | None, num_classes: int) -> list[str]:
    """Names for `num_classes` classes. `source` may be a list, a txt/yaml path, or None."""
    if source is None:
        if num_classes == len(COCO_NAMES):
            return list(COCO_NAMES)
        return [f"class{i}" for i in range(num_classes)]
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"labels file not found: {path}")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if path.endswith((".yaml", ".yml")):
            names = _parse_yaml_names(text)
        else:
            names = [ln.strip() for ln in text.splitlines() if ln.strip()]
    else:
        names = [str(n) for n in source]
    if len(names) != num_classes:
        raise ValueError(f"the labels give {len(names)} names but the model has {num_classes} classes")
    return names
