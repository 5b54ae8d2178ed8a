"""Dask batch inference (``pip install "nanodet-ncnn[dask]"``): one model per worker process,
built lazily on the first task that needs it and reused by every later task there.

>>> import dask.bag as db, nanodet_ncnn
>>> from nanodet_ncnn.dask import detect_bag
>>> bag = db.from_sequence(paths, npartitions=16)
>>> rows = detect_bag(bag, nanodet_ncnn.load("nanodet-plus-m-416")).compute()

or, on a dataframe with a ``path`` column::

    ddf.map_partitions(detect_partition, model, meta=partition_meta(ddf))
"""
from __future__ import annotations

import os
import threading
from typing import Any, Iterable

from .batch_rows import RESULT_COLUMNS, detect_row, resolve_model
from .detector import Detector

__all__ = ["detect_bag", "detect_partition", "detect_paths", "partition_meta", "to_parquet",
           "worker_detector"]

_LOCK = threading.Lock()
_WORKER_MODELS: dict[Any, Detector] = {}
builds = 0  # networks built in this process (one per distinct model and options)


def _key(model, num_threads, load_kwargs) -> Any:
    if isinstance(model, Detector):
        state = model.__getstate__()
        return ("detector", model.model_id, repr(sorted(state["core_options"].items())),
                repr(sorted(state["defaults"].items())), tuple(state["names"]), num_threads)
    return ("load", os.fspath(model), num_threads, repr(sorted(load_kwargs.items())))


def worker_detector(model: Detector | str | os.PathLike, num_threads: int | None = 1,
                    **load_kwargs) -> Detector:
    """This process's Detector for ``model`` (a pickled Detector, a zoo name or a .param path):
    built on first use, then cached for every later task in the same worker process."""
    global builds
    key = _key(model, num_threads, load_kwargs)
    with _LOCK:
        det = _WORKER_MODELS.get(key)
        if det is None:
            det = resolve_model(model, num_threads, **load_kwargs)
            det.num_threads  # build now, under the lock, so concurrent tasks share one network
            _WORKER_MODELS[key] = det
            builds += 1
    return det


def detect_paths(paths: Iterable[str | os.PathLike], model: Detector | str | os.PathLike, *,
                 num_threads: int | None = 1, conf: float | None = None,
                 iou: float | None = None, nms: str | None = None, max_det: int | None = None,
                 **load_kwargs) -> list[dict]:
    """Result rows (``path`` + the columns of :data:`RESULT_COLUMNS`) for one partition of
    image paths. ``num_threads`` is ncnn's per task: keep worker threads x it <= cores."""
    det = worker_detector(model, num_threads, **load_kwargs)
    kw = {k: v for k, v in dict(conf=conf, iou=iou, nms=nms, max_det=max_det).items()
          if v is not None}
    return [{"path": os.fspath(p), **detect_row(det, os.fspath(p), **kw)} for p in paths]


def detect_bag(bag, model: Detector | str | os.PathLike, **kwargs):
    """A bag of result dicts, one per path in ``bag``. The model goes into the graph once (as a
    shared delayed value), not once per partition."""
    import dask

    shared = dask.delayed(model, pure=True, traverse=False) if isinstance(model, Detector) else model
    return bag.map_partitions(detect_paths, shared, **kwargs)


def detect_partition(df, model: Detector | str | os.PathLike, column: str = "path", **kwargs):
    """For ``ddf.map_partitions``: a pandas partition with an image path column -> the same rows
    with the result columns added (lists in object columns)."""
    import pandas as pd

    rows = detect_paths(df[column].tolist(), model, **kwargs)
    res = pd.DataFrame([{k: r[k] for k in RESULT_COLUMNS} for r in rows], index=df.index,
                       columns=list(RESULT_COLUMNS))
    for name in ("image_height", "image_width"):
        res[name] = res[name].astype("Int32")
    return pd.concat([df, res], axis=1)


def partition_meta(ddf) -> "Any":
    """The ``meta`` for ``map_partitions(detect_partition, ...)`` on ``ddf``."""
    import pandas as pd

    meta = ddf._meta.copy()
    for name in RESULT_COLUMNS:
        meta[name] = pd.Series(dtype="Int32" if name.startswith("image_") else object)
    return meta


def to_parquet(rows_bag, folder: str | os.PathLike) -> list[str]:
    """Writes a bag of result rows (from :func:`detect_bag`) as one Parquet file per partition
    with fixed column types (so partitions without any detection share the schema); returns the
    file names. Runs the computation."""
    import dask

    os.makedirs(folder, exist_ok=True)
    parts = rows_bag.to_delayed()
    return list(dask.compute(*[dask.delayed(_write_part)(p, os.fspath(folder), i)
                               for i, p in enumerate(parts)]))


def _write_part(rows: list[dict], folder: str, index: int) -> str:
    import pyarrow.parquet as pq

    from .batch_rows import rows_to_arrow

    name = os.path.join(folder, f"part-{index:05d}.parquet")
    pq.write_table(rows_to_arrow(rows, {"path": [r["path"] for r in rows]}), name)
    return name
