"""Ray Data batch inference (``pip install "nanodet-ncnn[ray]"``).

>>> import ray, nanodet_ncnn
>>> from nanodet_ncnn.ray import NanoDetPredictor
>>> ds = ray.data.read_images("images/", include_paths=True)            # or a `path` column
>>> out = ds.map_batches(NanoDetPredictor, fn_constructor_kwargs={"model": "nanodet-plus-m-416"},
...                      compute=ray.data.ActorPoolStrategy(size=2), num_cpus=1, batch_size=16)
>>> out.write_parquet("detections/")

Each actor builds one network (from a zoo name or path, or from a pickled Detector) with as many
ncnn threads as the CPUs Ray gave it (``num_cpus``), so actors never oversubscribe a node.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from .batch_rows import RESULT_COLUMNS, detect_row, resolve_model, rows_to_arrow
from .detector import Detector

__all__ = ["NanoDetPredictor", "assigned_cpus"]

_IMAGE_COLUMNS = ("image", "frame")  # read_images / read_videos


def assigned_cpus() -> int | None:
    """The CPUs Ray reserved for the current actor or task (None outside a Ray worker)."""
    import ray

    if not ray.is_initialized():
        return None
    try:
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    except Exception:  # the driver, or an old Ray without the call
        return None
    return max(1, int(round(cpus))) if cpus else None


class NanoDetPredictor:
    """A Ray Data class UDF: batches with an ``image`` (or ``frame``) column of H x W x 3 uint8
    RGB arrays, any size, or a ``path`` column of image files -> the same rows with ``boxes``
    ([[x1, y1, x2, y2], ...]), ``scores``, ``class_ids``, ``class_names``, ``image_height``,
    ``image_width``, ``model_id`` and ``error`` (why an image could not be read, else null).
    Other 1-D input columns (``path``, ids, ``frame_index``) are passed through; the image
    column is not (join back on ``path`` or an id column when the pixels are needed).

    ``model``: a zoo name, a .param path (must exist on every node) or a Detector (pickled to
    each actor: its file paths, or its bytes for ``Detector.from_bytes``). ``num_threads``:
    default the actor's ``num_cpus``. ``conf``, ``iou``, ``nms``, ``max_det`` as for
    ``detect``; ``image_column`` picks the column (default: ``image``, ``frame``, then
    ``path``); ``pixel_format`` is that of the arrays ("rgb" as Ray's readers give). Other
    keywords go to ``nanodet_ncnn.load`` when ``model`` is a name or a path.
    """

    def __init__(self, model: Detector | str | os.PathLike = "nanodet-plus-m-416", *,
                 num_threads: int | None = None, conf: float | None = None,
                 iou: float | None = None, nms: str | None = None, max_det: int | None = None,
                 image_column: str | None = None, pixel_format: str = "rgb", **load_kwargs):
        self.detector = resolve_model(model, num_threads or assigned_cpus(), **load_kwargs)
        self.detect_kwargs = {k: v for k, v in dict(conf=conf, iou=iou, nms=nms,
                                                     max_det=max_det).items() if v is not None}
        self.image_column, self.pixel_format = image_column, pixel_format
        self.detector.num_threads  # build the network now, not inside the first batch

    def _source_column(self, batch: dict[str, Any]) -> str:
        if self.image_column:
            if self.image_column not in batch:
                raise KeyError(f"batch has no column {self.image_column!r} (has {sorted(batch)})")
            return self.image_column
        for name in (*_IMAGE_COLUMNS, "path"):
            if name in batch:
                return name
        raise KeyError(f"batch needs an 'image', 'frame' or 'path' column, has {sorted(batch)}")

    def __call__(self, batch: dict[str, Any]):
        col = self._source_column(batch)
        items = batch[col]
        if col == "path":
            images = [str(p) for p in items]
        else:
            images = list(items) if isinstance(items, (list, np.ndarray)) else [items]
        rows = [detect_row(self.detector, img, pixel_format=self.pixel_format, **self.detect_kwargs)
                for img in images]
        keep = {k: v for k, v in batch.items()
                if (k != col or col == "path") and k not in RESULT_COLUMNS and _is_scalar_column(v)}
        return rows_to_arrow(rows, keep)


def _is_scalar_column(col) -> bool:
    """1-D columns of scalars or strings (not tensors, not arrays of arrays)."""
    col = np.asarray(col) if isinstance(col, list) else col
    if getattr(col, "ndim", 0) != 1:
        return False
    return col.dtype != object or not any(isinstance(v, np.ndarray) for v in col[:1])

