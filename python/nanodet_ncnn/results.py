"""Prediction results: one image (Result), many images (Results), a video (VideoPrediction)."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from .detections import Detections
from .draw import draw_detections


def _has_display() -> bool:
    if os.name == "nt" or os.uname().sysname == "Darwin":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def show_image(image: np.ndarray, title: str = "nanodet-ncnn", wait: int = 0) -> int:
    """Shows a BGR image in a window; a clear error where no window can be opened."""
    import cv2

    from .errors import NanodetRuntimeError

    if not _has_display():
        raise NanodetRuntimeError("cannot show a window: no display (DISPLAY/WAYLAND_DISPLAY unset). "
                           "Use .save(path) instead, or run where a desktop is available.")
    try:
        cv2.imshow(title, image)
        return cv2.waitKey(wait)
    except cv2.error as exc:
        raise NanodetRuntimeError("cannot show a window: this OpenCV build has no GUI support "
                           "(opencv-python-headless). Install opencv-python for .show(), or use "
                           ".save(path).") from exc


class Result:
    """Detections for one image or frame, with the image they came from.

    ``detections`` (a :class:`Detections`), ``orig_img`` (BGR array), ``path``, ``index``
    (frame number), ``timestamp`` (capture / decode time, ``time.time()`` seconds), ``speed``
    (milliseconds per stage; ``speed["latency"]`` is capture -> result). ``plot()``, ``show()``,
    ``save()``, ``to_dict()``, ``to_json()``, ``to_supervision()``. After tracking, ``trails``
    (tracker id -> (class id, recent points)) and ``counts`` (line-crossing counts) are set.
    """

    trails: dict | None = None
    counts: dict | None = None

    def __init__(self, detections: Detections, orig_img: np.ndarray, path: str | None = None,
                 index: int = 0, pixel_format: str | None = None, timestamp: float | None = None):
        self.detections = detections
        self.timestamp = timestamp
        self.orig_img = orig_img
        self.path = path
        self.index = index
        self.pixel_format = pixel_format
        self.speed = dict(detections.times)

    # convenience pass-throughs
    xyxy = property(lambda self: self.detections.xyxy)
    scores = property(lambda self: self.detections.scores)
    class_ids = property(lambda self: self.detections.class_ids)
    names = property(lambda self: self.detections.names)

    def __len__(self) -> int:
        return len(self.detections)

    def __iter__(self):
        return iter(self.detections)

    def __repr__(self) -> str:
        src = self.path or f"frame {self.index}"
        return f"Result({src}: {self.detections!r})"

    def _bgr(self) -> np.ndarray:
        import cv2

        img = self.orig_img
        if self.pixel_format == "rgb" and img.ndim == 3 and img.shape[2] == 3:
            return cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
        return img

    def plot(self, *, labels: bool = True, scores: bool = True,
             line_width: int | None = None) -> np.ndarray:
        """The image (BGR) with boxes, class names and scores drawn in per-class colours."""
        out = draw_detections(self._bgr(), self.detections, labels=labels, scores=scores,
                              line_width=line_width)
        if self.trails:
            from .draw import draw_trails

            draw_trails(out, self.trails, line_width=line_width)
        if self.counts:
            from .draw import draw_count_line

            draw_count_line(out, self.counts["line"], self.counts, line_width=line_width)
        return out

    def show(self, title: str | None = None, wait: int = 0) -> None:
        show_image(self.plot(), title or (Path(self.path).name if self.path else "nanodet-ncnn"), wait)

    def save(self, path: str | os.PathLike = ".") -> Path:
        """Writes the annotated image. A folder (existing, or a name without a suffix) receives
        the source's file name; returns the written path."""
        import cv2

        dest = Path(path)
        if dest.is_dir() or not dest.suffix:
            dest.mkdir(parents=True, exist_ok=True)
            name = Path(self.path).name if self.path else f"image{self.index}.jpg"
            if Path(name).suffix.lower() not in (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"):
                name = Path(name).stem + ".jpg"
            dest = dest / name
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(dest), self.plot()):
            raise OSError(f"could not write {dest} (unsupported extension or unwritable folder)")
        return dest

    def to_dict(self) -> dict:
        h, w = self.orig_img.shape[:2]
        return {"path": self.path, "index": self.index, "width": int(w), "height": int(h),
                "speed_ms": {k: round(float(v), 3) for k, v in self.speed.items()},
                **self.detections.to_dict(), **({"counts": self.counts} if self.counts else {})}

    def to_json(self, **kwargs) -> str:
        import json

        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, d: dict, names, orig_img: np.ndarray | None = None) -> "Result":
        """Rebuilds a Result from ``to_dict()`` output (the image is not part of the JSON)."""
        dets = d["detections"]
        ids = [x["tracker_id"] for x in dets] if dets and "tracker_id" in dets[0] else None
        detections = Detections([x["box"] for x in dets], [x["score"] for x in dets],
                                [x["class_id"] for x in dets], names, d.get("speed_ms"), ids)
        img = orig_img if orig_img is not None else np.zeros((d["height"], d["width"], 3), np.uint8)
        r = cls(detections, img, d.get("path"), d.get("index", 0))
        r.counts = d.get("counts")
        return r

    def to_supervision(self):
        """The detections as ``supervision.Detections`` (pip install supervision)."""
        try:
            import supervision as sv
        except ImportError as exc:
            raise ImportError("to_supervision() needs the optional package 'supervision': "
                              "pip install 'nanodet-ncnn[supervision]'") from exc
        d = self.detections
        return sv.Detections(xyxy=d.xyxy.astype(np.float32), confidence=d.scores.copy(),
                             class_id=d.class_ids.astype(int),
                             tracker_id=None if d.tracker_id is None else d.tracker_id.astype(int),
                             data={"class_name": np.array(d.class_names, dtype=str)})


class Results(list):
    """A list of :class:`Result`; ``save(folder)`` saves each annotated image."""

    def save(self, folder: str | os.PathLike = ".") -> list[Path]:
        folder = Path(folder)
        if folder.suffix:
            raise ValueError(f"saving {len(self)} results needs a folder, got {folder}")
        return [r.save(folder) for r in self]

    def to_json(self, **kwargs) -> str:
        import json

        return json.dumps([r.to_dict() for r in self], **kwargs)


class VideoPrediction:
    """Lazy predictions over a video file, webcam, stream URL, iterable or callable.

    Iterate to get one :class:`Result` per frame, or call ``save("out.mp4")`` to write an
    annotated video at the source's frame rate. Decoding, inference and encoding overlap on
    separate threads; ``stats`` holds throughput figures after a run.
    """

    def __init__(self, open_frames, run, source, *, max_frames: int | None = None,
                 progress: bool = True):
        self._open = open_frames      # () -> FrameSource
        self._run = run               # frames -> iterator of Results, in order
        self.source = source
        self.max_frames = max_frames
        self.progress = progress
        self.stats: dict = {}
        self.info = None
        from .sources import is_video_file

        if is_video_file(source):  # files fail here, not on first use; live sources open lazily
            with open_frames() as frames:
                self.info = frames.info

    def __iter__(self) -> Iterator[Result]:
        with self._open() as frames:
            yield from self._loop(frames, None)

    def _progress_bar(self, frames):
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        total = frames.total
        if self.max_frames is not None:
            total = self.max_frames if total is None else min(total, self.max_frames)
        return tqdm(total=total, unit="frame", desc=str(self.source)[:40], leave=False)

    def _loop(self, frames, sink) -> Iterator[Result]:
        import itertools

        bar = self._progress_bar(frames)
        n = 0
        infer_ms = 0.0
        latency: list[float] = []
        t0 = time.perf_counter()
        feed = frames if self.max_frames is None else itertools.islice(frames, self.max_frames)
        results = self._run(feed)
        try:
            for r in results:
                infer_ms += r.speed.get("total", 0.0)
                latency.append(r.speed.get("latency", 0.0))
                if sink is not None:
                    sink(r)
                n += 1
                if bar is not None:
                    bar.update(1)
                yield r
        finally:
            results.close()
            frames.close()
            if bar is not None:
                bar.close()
            wall = time.perf_counter() - t0
            self.info = frames.info
            info = frames.info
            self.stats = {"frames": n, "wall_s": wall, "fps": n / wall if wall > 0 else 0.0,
                          "detect_ms_mean": infer_ms / n if n else 0.0,
                          "latency_ms_median": float(np.median(latency)) if latency else 0.0,
                          "dropped": frames.dropped, "source_fps": info.fps,
                          "width": info.width, "height": info.height}
            if frames.end_reason and frames.live:
                self.stats["end_reason"] = frames.end_reason

    def save(self, path: str | os.PathLike, *, codec: str = "mp4v", fps: float | None = None) -> Path:
        """Writes the annotated video (every frame, in order, at the source's fps unless ``fps``
        is given; 30 where the source has none); returns its path. On an error or Ctrl+C the
        file is closed properly and holds every frame written so far."""
        import cv2

        from .sources import is_webcam

        dest = Path(path)
        if dest.is_dir() or not dest.suffix:
            dest.mkdir(parents=True, exist_ok=True)
            stem = "webcam" if is_webcam(self.source) else (
                Path(str(self.source)).stem if isinstance(self.source, (str, os.PathLike)) else "live")
            dest = dest / f"{stem}.mp4"
        dest.parent.mkdir(parents=True, exist_ok=True)
        fourcc = cv2.VideoWriter_fourcc(*codec)
        writer = None

        def open_writer(info, w, h):
            vw = cv2.VideoWriter(str(dest), fourcc, fps or info.fps or 30.0, (w, h))
            if not vw.isOpened():
                vw.release()
                raise OSError(f"cannot write video {dest} with codec {codec!r} (unwritable "
                              "path, or a codec this OpenCV build lacks)")
            return vw

        import queue

        q: queue.Queue = queue.Queue(maxsize=8)
        errors: list[BaseException] = []
        size: list[int] = []

        def encoder():  # drawing and encoding on their own thread: cv2 releases the GIL
            while True:
                r = q.get()
                if r is None:
                    return
                if errors:
                    continue
                try:
                    img = r.plot()
                    if img.shape[1] != size[0] or img.shape[0] != size[1]:
                        img = cv2.resize(img, tuple(size))
                    writer.write(img)
                except BaseException as exc:  # surfaced after the run
                    errors.append(exc)

        t = None
        with self._open() as frames:
            if hasattr(frames, "start"):
                frames.start()  # opens a webcam / URL now: its size is known before the first frame
            if frames.info.width:
                writer = open_writer(frames.info, frames.info.width, frames.info.height)
                size[:] = [frames.info.width, frames.info.height]
            try:
                for r in self._loop(frames, None):
                    if writer is None:
                        h, w = r.orig_img.shape[:2]
                        writer = open_writer(frames.info, w, h)
                        size[:] = [w, h]
                    if t is None:
                        t = threading.Thread(target=encoder, name="nanodet-video-writer", daemon=True)
                        t.start()
                    q.put(r)
                    if errors:
                        break
            finally:
                if t is not None:
                    q.put(None)
                    t.join()
                if writer is not None:
                    writer.release()
        if errors:
            raise errors[0]
        self.stats["saved"] = str(dest)
        return dest

    def to_json(self, **kwargs) -> str:
        import json

        return json.dumps([r.to_dict() for r in self], **kwargs)
