"""Any source -> frames: image paths, arrays, PIL images, lists, folders, globs, videos, webcams,
stream URLs. The core only ever sees uint8 arrays."""
from __future__ import annotations

import glob
import os
import threading
import queue
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv",
              ".ts", ".gif"}
STREAM_PREFIXES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://")


@dataclass
class Frame:
    image: np.ndarray          # H x W x C uint8
    path: str | None           # file it came from (None for arrays and cameras)
    index: int                 # frame number within its video / position in a list
    pixel_format: str | None = None  # "rgb" for PIL images, else the detector's default


@dataclass
class VideoInfo:
    fps: float
    width: int
    height: int
    frames: int | None  # None for live sources


def is_video_source(source) -> bool:
    if isinstance(source, (int, np.integer)) and not isinstance(source, bool):
        return True
    if isinstance(source, str) and (source.isdigit() or source.lower().startswith(STREAM_PREFIXES)):
        return True
    if isinstance(source, (str, os.PathLike)):
        return Path(source).suffix.lower() in VIDEO_EXTS
    return False


def is_single_image(source) -> bool:
    if isinstance(source, np.ndarray):
        return source.ndim in (2, 3)
    if type(source).__module__.startswith("PIL."):
        return True
    if isinstance(source, (str, os.PathLike)):
        s = os.fspath(source)
        p = Path(s)
        return not p.is_dir() and not any(ch in s for ch in "*?[") and not is_video_source(s)
    return False


def expand_paths(source) -> list:
    """A list source, folder or glob -> the individual items (paths or arrays)."""
    if isinstance(source, (list, tuple)):
        return list(source)
    if isinstance(source, np.ndarray) and source.ndim == 4:
        return list(source)
    s = os.fspath(source)
    p = Path(s)
    if p.is_dir():
        items = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_EXTS)
        if not items:
            raise FileNotFoundError(f"no images in folder {p}")
        return items
    if any(ch in s for ch in "*?["):
        items = sorted(Path(q) for q in glob.glob(s, recursive=True)
                       if Path(q).suffix.lower() in IMAGE_EXTS)
        if not items:
            raise FileNotFoundError(f"no images match {s}")
        return items
    raise FileNotFoundError(f"not found: {s}")


def open_video(source):
    """(cv2.VideoCapture, VideoInfo) with clear errors."""
    import cv2

    if isinstance(source, (int, np.integer)) or (isinstance(source, str) and source.isdigit()):
        cap = cv2.VideoCapture(int(source))
        what = f"webcam {int(source)}"
        live = True
    else:
        s = os.fspath(source)
        live = s.lower().startswith(STREAM_PREFIXES)
        if not live and not os.path.exists(s):
            raise FileNotFoundError(f"video not found: {s}")
        cap = cv2.VideoCapture(s)
        what = s
    if not cap.isOpened():
        raise ValueError(f"cannot open video source {what} (not a video, unsupported codec, "
                         "or no such device)")
    fps = cap.get(cv2.CAP_PROP_FPS)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    info = VideoInfo(fps if fps and fps > 0 and fps < 1000 else 30.0,
                     int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                     None if live or n <= 0 else n)
    return cap, info


def video_frames(source, *, prefetch: int = 4, stop: threading.Event | None = None) -> tuple[Iterator[Frame], VideoInfo]:
    """Frames decoded on a background thread (cv2 releases the GIL while decoding), so that
    decoding overlaps inference."""
    cap, info = open_video(source)
    path = None if isinstance(source, (int, np.integer)) else os.fspath(source)
    q: queue.Queue = queue.Queue(maxsize=prefetch)
    stop = stop or threading.Event()
    done = object()

    def reader():
        i = 0
        try:
            while not stop.is_set():
                ok, img = cap.read()
                if not ok:
                    break
                while not stop.is_set():
                    try:
                        q.put(Frame(img, path, i), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                i += 1
        finally:
            cap.release()
            q.put(done)

    t = threading.Thread(target=reader, name="nanodet-video-reader", daemon=True)
    t.start()

    def gen():
        try:
            while True:
                item = q.get()
                if item is done:
                    return
                yield item
        finally:
            stop.set()
            while t.is_alive():  # drain so the reader can finish
                try:
                    q.get(timeout=0.1)
                except queue.Empty:
                    pass
            t.join()

    return gen(), info


def image_frame(item, index: int) -> Frame:
    from .detector import read_image

    if isinstance(item, (str, os.PathLike)):
        return Frame(read_image(item), os.fspath(item), index)
    if type(item).__module__.startswith("PIL."):
        return Frame(np.asarray(item.convert("RGB")), None, index, "rgb")
    if isinstance(item, np.ndarray):
        return Frame(item, None, index)
    raise TypeError(f"unsupported source item of type {type(item).__name__}: expected a path, "
                    "a numpy array or a PIL image")
