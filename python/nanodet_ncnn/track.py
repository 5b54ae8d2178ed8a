"""Tracking over predict(): results -> ByteTrack -> results with tracker ids, trails and
line-crossing counts.

The tracker is ByteTrack from the ``trackers`` package and the counting line is supervision's
``LineZone`` (``pip install 'nanodet-ncnn[track]'``). This layer only consumes the Results that
``predict(source, stream=True)`` yields; it never touches the source.
"""
from __future__ import annotations

import os
from collections import deque
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from .detections import Detections
from .results import Result

TRACKERS = ("bytetrack",)


def _require():
    try:
        import supervision as sv
        from trackers import ByteTrackTracker
    except ImportError as exc:
        raise ImportError("tracking needs the optional packages 'trackers' and 'supervision': "
                          "pip install 'nanodet-ncnn[track]'") from exc
    return sv, ByteTrackTracker


def parse_line(text: str | Sequence[float]) -> tuple[float, float, float, float]:
    """'x1,y1,x2,y2' (or four numbers) -> a line in source-image pixels."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    try:
        vals = tuple(float(v) for v in parts)
    except (TypeError, ValueError):
        vals = ()
    if len(vals) != 4:
        raise ValueError(f"a counting line is four numbers x1,y1,x2,y2, got {text!r}")
    if vals[:2] == vals[2:]:
        raise ValueError(f"a counting line needs two different end points, got {text!r}")
    return vals  # type: ignore[return-value]


def _to_sv(sv, d: Detections, tracker_id=None):
    return sv.Detections(xyxy=d.xyxy.astype(np.float32), confidence=d.scores.astype(np.float32),
                         class_id=d.class_ids.astype(int),
                         tracker_id=None if tracker_id is None else np.asarray(tracker_id, int),
                         data={"index": np.arange(len(d))})


class LineCounter:
    """Counts tracked objects whose box crosses a line, per direction and class.

    ``in`` / ``out`` follow supervision's LineZone: for a line drawn left to right, crossing it
    upwards on screen counts as ``in``, downwards as ``out``. A box counts once it has moved
    wholly to the other side; each object counts at most once per direction.
    """

    def __init__(self, line, names: Sequence[str]):
        sv, _ = _require()
        self._sv = sv
        self.line = parse_line(line)
        x1, y1, x2, y2 = self.line
        self.names = list(names)
        self._zone = sv.LineZone(start=sv.Point(x1, y1), end=sv.Point(x2, y2))
        self._seen: dict[str, set] = {"in": set(), "out": set()}

    def update(self, d: Detections) -> dict:
        tracked = d.tracker_id is not None and np.any(d.tracker_id >= 0)
        if tracked:
            keep = d.tracker_id >= 0
            sub = d[keep]
            crossed_in, crossed_out = self._zone.trigger(_to_sv(self._sv, sub, sub.tracker_id))
            for flags, way in ((crossed_in, "in"), (crossed_out, "out")):
                self._seen[way].update(int(t) for t in sub.tracker_id[np.asarray(flags, bool)])
        return self.counts()

    def counts(self) -> dict:
        z = self._zone
        per: dict[str, dict[str, int]] = {}
        for way, table in (("in", z.in_count_per_class), ("out", z.out_count_per_class)):
            for cid, n in table.items():
                k = None if cid is None else int(cid)
                name = self.names[k] if k is not None and 0 <= k < len(self.names) else str(cid)
                per.setdefault(name, {"in": 0, "out": 0})[way] = int(n)
        return {"line": [round(v, 2) for v in self.line], "in": int(z.in_count),
                "out": int(z.out_count), "per_class": per,
                "ids": {k: sorted(v) for k, v in self._seen.items()}}


class ByteTracker:
    """Assigns persistent ids to the detections of consecutive Results (ByteTrack).

    ``track_buffer``: frames a lost track is kept before its id retires (an object returning
    later gets a new id). ``track_thresh``: score a detection needs to start a track (and to be
    matched in ByteTrack's first stage); lower-scored ones can only continue existing tracks.
    ``match_iou``: minimum IoU between a track's predicted box and a detection. ``trail``: points
    of recent path kept per track for drawing. ``count_line``: x1,y1,x2,y2 to count crossings.
    """

    def __init__(self, *, track_buffer: int = 30, track_thresh: float = 0.5,
                 match_iou: float = 0.1, min_hits: int = 1, trail: int = 30,
                 count_line=None, names: Sequence[str] = ()):
        sv, ByteTrackTracker = _require()
        if track_buffer < 0 or trail < 0 or min_hits < 1:
            raise ValueError("track_buffer and trail must be >= 0 and min_hits >= 1")
        if not 0.0 <= track_thresh <= 1.0 or not 0.0 <= match_iou <= 1.0:
            raise ValueError("track_thresh and match_iou must be within [0, 1]")
        self._sv = sv
        self._bt = ByteTrackTracker(lost_track_buffer=int(track_buffer), frame_rate=30.0,
                                    track_activation_threshold=track_thresh,
                                    high_conf_det_threshold=track_thresh,
                                    minimum_consecutive_frames=min_hits,
                                    minimum_iou_threshold=match_iou)
        self.track_buffer = int(track_buffer)
        self.trail = int(trail)
        self.counter = LineCounter(count_line, names) if count_line is not None else None
        self._paths: dict[int, tuple[int, deque, int]] = {}  # id -> (class, points, last frame)
        self._frame = 0
        self.ids_seen: set[int] = set()

    def update(self, result: Result) -> Result:
        """Sets ``result.detections.tracker_id``, ``result.trails`` and (with a line)
        ``result.counts``; returns the same Result."""
        d = result.detections
        ids = np.full(len(d), -1, np.int32)
        out = self._bt.update(_to_sv(self._sv, d))
        if len(out):
            ids[np.asarray(out.data["index"], int)] = np.asarray(out.tracker_id, np.int32)
        d.tracker_id = ids
        self._frame += 1
        trails = {}
        for i in np.flatnonzero(ids >= 0):
            tid = int(ids[i])
            self.ids_seen.add(tid)
            x1, y1, x2, y2 = d.xyxy[i]
            cls = int(d.class_ids[i])
            _, pts, _ = self._paths.get(tid, (cls, deque(maxlen=max(1, self.trail)), 0))
            pts.append((float(x1 + x2) / 2, float(y1 + y2) / 2))
            self._paths[tid] = (cls, pts, self._frame)
            if self.trail:
                trails[tid] = (cls, list(pts))
        stale = [t for t, (_, _, last) in self._paths.items()
                 if self._frame - last > self.track_buffer]
        for t in stale:
            del self._paths[t]
        result.trails = trails
        if self.counter is not None:
            result.counts = self.counter.update(d)
        return result


class Tracking:
    """A lazy, single-pass run of tracked Results over a source.

    Iterate for Results (each with ``detections.tracker_id``), or call ``save("out.mp4",
    jsonl="out.jsonl")`` to write the annotated video and / or one JSON line per frame.
    ``counts`` holds the line counts so far (None without a line).
    """

    def __init__(self, results: Iterable[Result], tracker: ByteTracker, source=None):
        self._results = results
        self.tracker = tracker
        self.source = source
        self.frames = 0
        self._used = False

    @property
    def counts(self) -> dict | None:
        return self.tracker.counter.counts() if self.tracker.counter else None

    def __iter__(self) -> Iterator[Result]:
        if self._used:
            raise RuntimeError("a Tracking run can be iterated once; call model.track() again")
        self._used = True
        try:
            for r in self._results:
                self.frames += 1
                yield self.tracker.update(r)
        finally:
            close = getattr(self._results, "close", None)
            if close:
                close()

    def _source_fps(self) -> float:
        import cv2

        src = self.source
        if isinstance(src, (str, os.PathLike)) and Path(src).is_file():
            cap = cv2.VideoCapture(os.fspath(src))
            fps = cap.get(cv2.CAP_PROP_FPS)
            cap.release()
            if fps and 0 < fps < 1000:
                return float(fps)
        return 30.0

    def save(self, path: str | os.PathLike | None = None, *, jsonl: str | os.PathLike | None = None,
             fps: float | None = None, codec: str = "mp4v") -> dict:
        """Runs the whole source; writes the annotated video to ``path`` and / or the per-frame
        JSON lines to ``jsonl``. Returns a summary (frames, unique ids, counts, written files)."""
        import cv2

        if path is None and jsonl is None:
            raise ValueError("save() needs a video path, a jsonl path, or both")
        writer = None
        jf = None
        summary: dict = {}
        try:
            if jsonl is not None:
                Path(jsonl).parent.mkdir(parents=True, exist_ok=True)
                jf = open(jsonl, "w")
            for r in self:
                if path is not None:
                    img = r.plot()
                    if writer is None:
                        Path(path).parent.mkdir(parents=True, exist_ok=True)
                        h, w = img.shape[:2]
                        writer = cv2.VideoWriter(os.fspath(path), cv2.VideoWriter_fourcc(*codec),
                                                 fps or self._source_fps(), (w, h))
                        if not writer.isOpened():
                            raise OSError(f"cannot write video {path} with codec {codec!r}")
                    writer.write(img)
                if jf is not None:
                    jf.write(r.to_json() + "\n")
        finally:
            if writer is not None:
                writer.release()
            if jf is not None:
                jf.close()
        summary = {"frames": self.frames, "tracks": len(self.tracker.ids_seen)}
        if self.counts is not None:
            summary["counts"] = self.counts
        if path is not None:
            summary["saved"] = os.fspath(path)
        if jsonl is not None:
            summary["jsonl"] = os.fspath(jsonl)
        return summary


def track(model, source, *, tracker: str = "bytetrack", stream: bool = False,
          count_line=None, track_buffer: int = 30, track_thresh: float = 0.5,
          match_iou: float = 0.1, trail: int = 30, progress: bool = True, **predict_kwargs):
    """Tracked predictions over any source ``model.predict`` takes.

    Returns a generator of Results with ``stream=True``, else a :class:`Tracking` (iterate it or
    call ``.save()``). Other keyword arguments (conf, iou, ...) go to ``predict``.
    """
    if tracker not in TRACKERS:
        raise ValueError(f"tracker must be one of {', '.join(TRACKERS)}, got {tracker!r}")
    bt = ByteTracker(track_buffer=track_buffer, track_thresh=track_thresh, match_iou=match_iou,
                     trail=trail, count_line=count_line, names=model.names)
    results = model.predict(source, stream=True, progress=progress, **predict_kwargs)
    run = Tracking(results, bt, source)
    return iter(run) if stream else run


def summary_line(summary: dict) -> str:
    text = f"{summary['frames']} frames, {summary['tracks']} tracks"
    c = summary.get("counts")
    if c:
        text += f", line in {c['in']} out {c['out']}"
        if c["per_class"]:
            text += " (" + ", ".join(f"{k}: in {v['in']} out {v['out']}" for k, v in c["per_class"].items()) + ")"
    return text
