"""Ray Data and Dask tests (their own CI stage: `pip install ".[ray,dask,test]"`). Local only:
clusters bind 127.0.0.1 and use the shared COCO128 images."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from oracle import shared_dir  # noqa: E402

SHARED = shared_dir()
COCO_IMAGES = SHARED / "datasets" / "coco128-val2017" / "images"
if not COCO_IMAGES.is_dir():
    raise pytest.UsageError(f"shared COCO128 images not found at {COCO_IMAGES}: set NANODET_NCNN_SHARED")
os.environ.setdefault("NANODET_NCNN_MODELS", str(SHARED / "models"))
MODEL = "nanodet-plus-m-416"


def coco_paths() -> list[str]:
    return sorted(str(p) for p in COCO_IMAGES.glob("*.jpg"))


@pytest.fixture(scope="session")
def serial():
    """{path: (xyxy, scores, class_ids, names, (h, w))} from one plain detect() per image."""
    import nanodet_ncnn

    det = nanodet_ncnn.load(MODEL, num_threads=1)
    out = {}
    for p in coco_paths():
        img = nanodet_ncnn.read_image(p)
        d = det.detect(img)
        out[p] = (d.xyxy, d.scores, d.class_ids, list(d.class_names), img.shape[:2])
    return out


def assert_row_matches(row: dict, ref) -> None:
    xyxy, scores, ids, names, (h, w) = ref
    boxes = np.asarray([list(b) for b in row["boxes"]], np.float32).reshape(-1, 4)
    assert np.array_equal(boxes, xyxy), row.get("path")
    assert np.array_equal(np.asarray(row["scores"], np.float32), scores)
    assert np.array_equal(np.asarray(row["class_ids"]), ids)
    assert list(row["class_names"]) == names
    assert (row["image_height"], row["image_width"]) == (h, w)
    assert row["error"] is None
