"""Detections -> flat, Arrow/Parquet-friendly rows: the one output format of the Ray Data and Dask
helpers (boxes as lists of [x1, y1, x2, y2], one row per input image, empty lists when nothing
was found)."""
from __future__ import annotations

import os
from typing import Any, Iterable

import numpy as np

from .detector import Detector, default_threads, read_image

RESULT_COLUMNS = ("boxes", "scores", "class_ids", "class_names", "image_height", "image_width",
                  "model_id", "error")


def arrow_schema():
    import pyarrow as pa

    return pa.schema([
        ("boxes", pa.list_(pa.list_(pa.float32()))),
        ("scores", pa.list_(pa.float32())),
        ("class_ids", pa.list_(pa.int32())),
        ("class_names", pa.list_(pa.string())),
        ("image_height", pa.int32()),
        ("image_width", pa.int32()),
        ("model_id", pa.string()),
        ("error", pa.string()),
    ])


def list_inputs(source: str | os.PathLike) -> list[str]:
    """Image paths from a folder or glob, or from the ``path`` column of a Parquet file or
    folder of Parquet files (the inputs of the batch examples)."""
    from pathlib import Path

    p = Path(source)
    if p.suffix == ".parquet" or (p.is_dir() and any(p.glob("*.parquet"))):
        import pyarrow.parquet as pq

        table = pq.read_table(p, columns=["path"])
        return [str(x) for x in table.column("path").to_pylist()]
    from .sources import image_items

    return [str(x) for x in image_items(source)]


def resolve_model(model: Detector | str | os.PathLike, num_threads: int | None,
                  **load_kwargs) -> Detector:
    """A Detector for this worker: a pickled Detector (rebuilt here, with this worker's thread
    count) or a zoo name / .param path loaded here with ``load_kwargs``."""
    if isinstance(model, Detector):
        if load_kwargs:
            raise TypeError(f"options {sorted(load_kwargs)} only apply when `model` is a name or a "
                            "path; set them on the Detector instead")
        return model._with_options(num_threads=num_threads) if num_threads else model
    from . import load

    return load(model, num_threads=num_threads or default_threads(), **load_kwargs)


def detect_row(det: Detector, image: Any, *, pixel_format: str | None = None,
               **detect_kwargs) -> dict:
    """One result row for one image (an array, or a path read here). An unreadable file gives a
    row with empty detections and the reason in ``error`` instead of stopping the whole job."""
    try:
        if isinstance(image, (str, os.PathLike)):
            arr, fmt = read_image(image), "bgr"
        else:
            arr, fmt = np.asarray(image), pixel_format
        dets = det.detect(arr, pixel_format=fmt, **detect_kwargs)
    except (FileNotFoundError, IsADirectoryError, ValueError) as exc:
        return dict(boxes=[], scores=[], class_ids=[], class_names=[], image_height=None,
                    image_width=None, model_id=det.model_id, error=str(exc))
    return dict(boxes=dets.xyxy.tolist(), scores=dets.scores.tolist(),
                class_ids=dets.class_ids.astype(np.int32).tolist(),
                class_names=list(dets.class_names), image_height=int(arr.shape[0]),
                image_width=int(arr.shape[1]), model_id=det.model_id, error=None)


def rows_to_arrow(rows: Iterable[dict], passthrough: dict[str, Any] | None = None):
    """A pyarrow Table with the result columns (fixed types, so blocks without any detection
    still concatenate and write to one Parquet schema) after the passed-through input columns."""
    import pyarrow as pa

    rows = list(rows)
    schema = arrow_schema()
    arrays, fields = [], []
    for name, col in (passthrough or {}).items():
        arr = pa.array(list(col) if isinstance(col, np.ndarray) and col.dtype == object else col)
        arrays.append(arr)
        fields.append(pa.field(name, arr.type))
    for field in schema:
        arrays.append(pa.array([r[field.name] for r in rows], type=field.type))
        fields.append(field)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def parquet_summary(path: str | os.PathLike) -> tuple[int, int, int]:
    """(rows, detections, unreadable inputs) of a result written in :func:`arrow_schema`."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["scores", "error"])
    found = sum(len(s) for s in table.column("scores").to_pylist())
    bad = sum(e is not None for e in table.column("error").to_pylist())
    return table.num_rows, found, bad
