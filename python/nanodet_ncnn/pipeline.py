"""Frames -> core -> results: runs a Detector over a stream of frames, serially or on the C++
worker pool (N concurrent inferences on one shared network, results in submission order).

The scheduling lives in the core (``_core.Pool``); this module only keeps the pool fed with at
most ``max_pending`` frames and pairs each collected result with its frame.
"""
from __future__ import annotations

import collections
import os
import time
from typing import Iterable, Iterator

from .sources import Frame


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def auto_workers(frames: int | None) -> int:
    """The ``workers="auto"`` rule: one single-threaded worker per usable core (at most 8) when
    there is more than one frame (``frames`` None: unknown, e.g. a video), else 1 (a single
    image runs on one instance with ``num_threads`` threads)."""
    if frames is not None and frames <= 1:
        return 1
    return max(1, min(8, usable_cores()))


def resolve_workers(workers, frames: int | None) -> int:
    if workers is None or workers == "auto":
        return auto_workers(frames)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer or 'auto', got {workers!r}")
    return workers


def _result(detector, frame: Frame, out):
    from .results import Result

    dets = detector._detections(*out)
    r = Result(dets, frame.image, frame.path, frame.index, frame.pixel_format,
               timestamp=frame.timestamp)
    r.speed["latency"] = (time.time() - frame.timestamp) * 1000.0
    return r


def run_serial(detector, frames: Iterable[Frame], args: dict) -> Iterator:
    """One frame at a time on the detector's own ncnn threads (latency mode, single images)."""
    core = detector._core
    for fr in frames:
        out = core.detect(fr.image, **args, pixel_format=fr.pixel_format or detector.defaults["pixel_format"])
        yield _result(detector, fr, out)


def run_pooled(detector, frames: Iterable[Frame], args: dict, *, workers: int,
               threads_per_worker: int = 1) -> Iterator:
    """Frames through the C++ worker pool, results in frame order. If the frame source fails,
    the frames already submitted are still yielded before the error is raised."""
    from . import _core

    if workers == 1 and threads_per_worker == detector.num_threads:
        yield from run_serial(detector, frames, args)
        return
    fmt = detector.defaults["pixel_format"]
    pool = _core.Pool(detector._core, workers=workers, threads_per_worker=threads_per_worker)
    limit = 2 * workers
    inflight: collections.deque = collections.deque()
    it = iter(frames)
    try:
        while True:
            try:
                fr = next(it)
            except StopIteration:
                break
            except Exception:
                while inflight:
                    yield _collect(detector, pool, inflight)
                raise
            if len(inflight) >= limit:
                yield _collect(detector, pool, inflight)
            pool.submit(fr.image, **args, pixel_format=fr.pixel_format or fmt)
            inflight.append(fr)
        while inflight:
            yield _collect(detector, pool, inflight)
    finally:
        pool.close()
        close = getattr(it, "close", None)
        if close:
            close()


def _collect(detector, pool, inflight):
    out = pool.collect()
    return _result(detector, inflight.popleft(), out[1:])
