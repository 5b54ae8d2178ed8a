"""Prediction results: one image (Result), many images (Results), a video (VideoPrediction)."""
from __future__ import annotations

import json
import os
import queue
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from .detections import Detections
from .draw import draw_detections

if TYPE_CHECKING:
    from .sources import Frame, VideoInfo


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
    (frame number), ``speed`` (milliseconds per stage). ``plot()``, ``show()``, ``save()``,
    ``to_dict()``, ``to_json()``, ``to_supervision()``.
    """

    def __init__(self, detections: Detections, orig_img: np.ndarray, path: str | None = None,
                 index: int = 0, pixel_format: str | None = None):
        self.detections = detections
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
        return draw_detections(self._bgr(), self.detections, labels=labels, scores=scores,
                               line_width=line_width)

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
                **self.detections.to_dict()}

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, d: dict, names, orig_img: np.ndarray | None = None) -> "Result":
        """Rebuilds a Result from ``to_dict()`` output (the image is not part of the JSON)."""
        dets = d["detections"]
        detections = Detections([x["box"] for x in dets], [x["score"] for x in dets],
                                [x["class_id"] for x in dets], names, d.get("speed_ms"))
        img = orig_img if orig_img is not None else np.zeros((d["height"], d["width"], 3), np.uint8)
        return cls(detections, img, d.get("path"), d.get("index", 0))

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
                             data={"class_name": np.array(d.class_names, dtype=str)})


class Results(list):
    """A list of :class:`Result`; ``save(folder)`` saves each annotated image."""

    def save(self, folder: str | os.PathLike = ".") -> list[Path]:
        folder = Path(folder)
        if folder.suffix:
            raise ValueError(f"saving {len(self)} results needs a folder, got {folder}")
        return [r.save(folder) for r in self]

    def to_json(self, **kwargs) -> str:
        return json.dumps([r.to_dict() for r in self], **kwargs)


class VideoPrediction:
    """Lazy predictions over a video, webcam or stream.

    Iterate to get one :class:`Result` per frame, or call ``save("out.mp4")`` to write an
    annotated video at the source's frame rate. Decoding, inference and encoding run on separate
    threads; ``stats`` holds throughput figures after a run.
    """

    def __init__(self, detect, source, *, max_frames: int | None = None, progress: bool = True):
        self._detect = detect
        self.source = source
        self.max_frames = max_frames
        self.progress = progress
        self.stats: dict = {}
        from .sources import STREAM_PREFIXES, open_video

        live = isinstance(source, int) or str(source).isdigit() or \
            str(source).lower().startswith(STREAM_PREFIXES)
        if not live:  # files fail here, not on first use; cameras and streams open lazily
            cap, self.info = open_video(source)
            cap.release()

    def _frames(self):
        from .sources import video_frames

        return video_frames(self.source)

    def __iter__(self) -> Iterator[Result]:
        frames, info = self._frames()
        self.info = info
        yield from self._run(frames, info, None)

    def _progress_bar(self, info: "VideoInfo"):
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        total = info.frames if self.max_frames is None else min(info.frames or self.max_frames, self.max_frames)
        return tqdm(total=total, unit="frame", desc=str(self.source), leave=False)

    def _run(self, frames: Iterator["Frame"], info: "VideoInfo", sink) -> Iterator[Result]:
        bar = self._progress_bar(info)
        n = 0
        infer_ms = 0.0
        t0 = time.perf_counter()
        try:
            for fr in frames:
                if self.max_frames is not None and n >= self.max_frames:
                    break
                dets = self._detect(fr.image)
                infer_ms += dets.times.get("total", 0.0)
                r = Result(dets, fr.image, fr.path, fr.index)
                if sink is not None:
                    sink(r)
                n += 1
                if bar:
                    bar.update(1)
                yield r
        finally:
            if bar:
                bar.close()
            frames.close()
            wall = time.perf_counter() - t0
            self.stats = {"frames": n, "wall_s": wall, "fps": n / wall if wall > 0 else 0.0,
                          "detect_ms_mean": infer_ms / n if n else 0.0,
                          "source_fps": info.fps, "width": info.width, "height": info.height}

    def save(self, path: str | os.PathLike, *, codec: str = "mp4v") -> Path:
        """Writes the annotated video (source fps and size); returns its path."""
        import cv2

        dest = Path(path)
        if dest.is_dir() or not dest.suffix:
            dest.mkdir(parents=True, exist_ok=True)
            stem = "webcam" if isinstance(self.source, int) or str(self.source).isdigit() else Path(str(self.source)).stem
            dest = dest / f"{stem}.mp4"
        dest.parent.mkdir(parents=True, exist_ok=True)
        frames, info = self._frames()
        writer = cv2.VideoWriter(str(dest), cv2.VideoWriter_fourcc(*codec), info.fps,
                                 (info.width, info.height))
        if not writer.isOpened():
            frames.close()
            raise OSError(f"cannot write video {dest} with codec {codec!r}")
        # Drawing and encoding on their own thread: cv2 releases the GIL while encoding.
        q: queue.Queue = queue.Queue(maxsize=8)
        errors: list[BaseException] = []

        def encoder():
            while True:
                r = q.get()
                if r is None:
                    return
                try:
                    img = r.plot()
                    if img.shape[1] != info.width or img.shape[0] != info.height:
                        img = cv2.resize(img, (info.width, info.height))
                    writer.write(img)
                except BaseException as exc:  # surfaced after the run
                    errors.append(exc)

        t = threading.Thread(target=encoder, name="nanodet-video-writer", daemon=True)
        t.start()
        try:
            for _ in self._run(frames, info, q.put):
                if errors:
                    break
        finally:
            q.put(None)
            t.join()
            writer.release()
        if errors:
            raise errors[0]
        self.stats["saved"] = str(dest)
        return dest

    def to_json(self, **kwargs) -> str:
        return json.dumps([r.to_dict() for r in self], **kwargs)
