"""Detections: numpy arrays of boxes, scores and class ids, with the class names."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np


@dataclass(frozen=True)
class Detection:
    """One detected object: box in source-image pixels (x1, y1, x2, y2)."""

    xyxy: tuple[float, float, float, float]
    score: float
    class_id: int
    name: str
    tracker_id: int = -1  # -1: not tracked


class Detections:
    """Detections for one image.

    ``xyxy`` (n x 4 float32, source-image pixels), ``scores`` (n,) float32, ``class_ids`` (n,)
    int32 and ``names`` (every class name of the model); ``tracker_id`` (n,) int32 after
    tracking (-1 where untracked), else None. Supports ``len``, iteration (yielding
    :class:`Detection`), integer indexing, and slicing / boolean masks / index arrays (yielding
    ``Detections``, which keep ``times`` and ``input_size``).
    """

    __slots__ = ("xyxy", "scores", "class_ids", "names", "times", "tracker_id", "input_size")

    def __init__(self, xyxy, scores, class_ids, names: Sequence[str], times: dict | None = None,
                 tracker_id=None, input_size: tuple[int, int] | None = None):
        #: per-stage milliseconds of the call that produced these detections (if any)
        self.times = dict(times or {})
        #: (width, height) of the network input that call used (if any)
        self.input_size = tuple(input_size) if input_size is not None else None
        self.xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(scores, dtype=np.float32).reshape(-1)
        self.class_ids = np.asarray(class_ids, dtype=np.int32).reshape(-1)
        self.names = list(names)
        if not (len(self.xyxy) == len(self.scores) == len(self.class_ids)):
            raise ValueError("xyxy, scores and class_ids must have the same length")
        self.tracker_id = None if tracker_id is None else np.asarray(tracker_id, np.int32).reshape(-1)
        if self.tracker_id is not None and len(self.tracker_id) != len(self.scores):
            raise ValueError("tracker_id must have one entry per detection")

    @classmethod
    def empty(cls, names: Sequence[str] = ()) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), names)

    def __len__(self) -> int:
        return len(self.scores)

    def __iter__(self) -> Iterator[Detection]:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            i = int(index)
            c = int(self.class_ids[i])
            tid = -1 if self.tracker_id is None else int(self.tracker_id[i])
            return Detection(tuple(float(v) for v in self.xyxy[i]), float(self.scores[i]), c,
                             self.class_name(c), tid)
        return Detections(self.xyxy[index], self.scores[index], self.class_ids[index], self.names,
                          self.times, None if self.tracker_id is None else self.tracker_id[index],
                          self.input_size)

    def class_name(self, class_id: int) -> str:
        return self.names[class_id] if 0 <= class_id < len(self.names) else str(class_id)

    @property
    def class_names(self) -> list[str]:
        """The class name of each detection."""
        return [self.class_name(int(c)) for c in self.class_ids]

    def to_list(self) -> list[dict]:
        tracked = self.tracker_id is not None
        return [{"box": [round(float(v), 2) for v in d.xyxy], "score": round(d.score, 5),
                 "class_id": d.class_id, "name": d.name,
                 **({"tracker_id": d.tracker_id} if tracked else {})} for d in self]

    def to_dict(self) -> dict:
        return {"detections": self.to_list()}

    def to_json(self, **kwargs) -> str:
        import json

        return json.dumps(self.to_dict(), **kwargs)

    def __repr__(self) -> str:
        if not len(self):
            return "Detections(0)"
        counts: dict[str, int] = {}
        for n in self.class_names:
            counts[n] = counts.get(n, 0) + 1
        summary = ", ".join(f"{v} {k}" for k, v in counts.items())
        return f"Detections({len(self)}: {summary})"
