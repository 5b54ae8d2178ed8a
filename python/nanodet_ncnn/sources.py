"""Any source -> frames, in one place: image paths, arrays, PIL images, lists, folders, globs,
video files, webcams, stream URLs, and Python iterables / callables producing frames.

``to_frames(source)`` gives a :class:`FrameSource` (iterate it for :class:`Frame` objects; close
it, or use it as a context manager). Files, folders and videos keep every frame, decoded on a
reader thread ahead of the consumer. Live sources (webcams, URLs, generators, callables) keep only
the newest frame unless ``buffer=True``. A reader thread starts on first iteration and ``close()``
always stops it. The core only ever sees uint8 arrays.
"""
from __future__ import annotations

import glob
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

def _log():
    import logging  # ~2 ms at import time otherwise, for warnings most runs never give

    return logging.getLogger("nanodet_ncnn")

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})
VIDEO_EXTS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv",
                        ".flv", ".ts", ".gif", ".mjpeg", ".mjpg"})
STREAM_PREFIXES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://")


@dataclass
class Frame:
    image: np.ndarray           # H x W x C uint8
    pixel_format: str | None    # "bgr" (decoded files), "rgb" (PIL), None: the detector's default
    path: str | None            # file it came from (None for arrays, cameras and streams)
    index: int                  # frame number within its video / position in a list
    timestamp: float = field(default_factory=time.time)  # capture / decode time, time.time()


@dataclass
class VideoInfo:
    fps: float | None           # None where the source does not say (callables, iterables)
    width: int | None
    height: int | None
    frames: int | None          # None for live sources


# --- what kind of source ----------------------------------------------------------------------

def _is_pil(x) -> bool:
    return type(x).__module__.startswith("PIL.")


def is_webcam(source) -> bool:
    if isinstance(source, (int, np.integer)) and not isinstance(source, bool):
        return True
    return isinstance(source, str) and source.isdigit()


def is_stream_url(source) -> bool:
    return isinstance(source, str) and source.lower().startswith(STREAM_PREFIXES)


def is_video_file(source) -> bool:
    return (isinstance(source, (str, os.PathLike)) and not is_stream_url(source)
            and not is_webcam(source) and Path(source).suffix.lower() in VIDEO_EXTS)


def is_live_source(source) -> bool:
    """Webcams, stream URLs, zero-argument callables and iterators (anything iterable that is not
    a list, tuple, array, path or image): sources without a known end."""
    if is_webcam(source) or is_stream_url(source):
        return True
    if isinstance(source, (str, bytes, os.PathLike, list, tuple, np.ndarray)) or _is_pil(source):
        return False
    return callable(source) or hasattr(source, "__iter__") or hasattr(source, "__next__")


def is_single_image(source) -> bool:
    if isinstance(source, np.ndarray):
        return source.ndim in (2, 3)
    if _is_pil(source):
        return True
    if isinstance(source, (str, os.PathLike)):
        s = os.fspath(source)
        return (not os.path.isdir(s) and not any(ch in s for ch in "*?[")
                and not is_video_file(s) and not is_live_source(s))
    return False


def image_items(source) -> list:
    """A list source, a 4-D array, a folder or a glob -> the individual items (paths or arrays)."""
    if isinstance(source, (list, tuple)):
        return list(source)
    if isinstance(source, np.ndarray) and source.ndim == 4:
        return list(source)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"unsupported source of type {type(source).__name__}: expected a path, "
                        "folder, glob, list, array, PIL image, video, webcam index, stream URL, "
                        "iterable or callable")
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
    if p.is_file():
        return [p]
    raise FileNotFoundError(f"not found: {s}")


# --- one item -> one frame --------------------------------------------------------------------

def read_image(path: str | os.PathLike) -> np.ndarray:
    """BGR uint8 image from a file, with clear errors for missing or undecodable files."""
    import cv2

    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(f"image not found: {p}")
    if os.path.isdir(p):
        raise IsADirectoryError(f"expected an image file, got a folder: {p}")
    data = np.fromfile(p, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise ValueError(f"cannot decode image file (empty, truncated or not an image): {p}")
    return img


def to_frame(item, index: int = 0) -> Frame:
    """One path, array or PIL image -> a Frame (decoded files are BGR, PIL images RGB, arrays
    carry no hint so the detector's ``pixel_format`` applies)."""
    if isinstance(item, (str, os.PathLike)):
        return Frame(read_image(item), "bgr", os.fspath(item), index)
    if _is_pil(item):
        return Frame(np.asarray(item.convert("RGB")), "rgb", None, index)
    if isinstance(item, np.ndarray):
        return Frame(item, None, None, index)
    raise TypeError(f"unsupported image of type {type(item).__name__}: expected a path, "
                    "a numpy array or a PIL image")


def _live_array(x, index: int) -> Frame:
    if isinstance(x, Frame):
        return x
    if _is_pil(x):
        return to_frame(x, index)
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim not in (2, 3):
        raise TypeError(f"live source produced {type(x).__name__}"
                        f"{getattr(x, 'shape', '')} {getattr(x, 'dtype', '')}: expected an "
                        "H x W x 3 uint8 array (or None to end)")
    return Frame(x, None, None, index)


# --- frame sources ----------------------------------------------------------------------------

_END = object()


class _Error:
    def __init__(self, exc: BaseException):
        self.exc = exc


class _Newest:
    """A one-slot buffer: a new frame replaces the one the consumer has not taken yet (the end
    marker or an error waits behind it)."""

    def __init__(self):
        self._cv = threading.Condition()
        self._item = None
        self._final = None
        self.dropped = 0

    def put(self, item, stop: threading.Event) -> bool:
        with self._cv:
            if item is _END or isinstance(item, _Error):
                self._final = item
            else:
                if self._item is not None:
                    self.dropped += 1
                self._item = item
            self._cv.notify()
        return True

    def get(self):
        with self._cv:
            while self._item is None and self._final is None:
                self._cv.wait()
            item, self._item = self._item, None
            return item if item is not None else self._final


class _Fifo:
    """A bounded FIFO: the reader waits for the consumer (nothing is dropped)."""

    def __init__(self, size: int):
        self._q: queue.Queue = queue.Queue(maxsize=max(1, size))
        self.dropped = 0

    def put(self, item, stop: threading.Event) -> bool:
        while not stop.is_set():
            try:
                self._q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def get(self):
        return self._q.get()

    def drain(self) -> None:
        while True:
            try:
                self._q.get_nowait()
            except queue.Empty:
                return


class FrameSource:
    """Frames read on a background thread. Iterate once; ``close()`` (or leaving a ``with``
    block, or breaking out of the iteration) stops the reader and releases the device."""

    kind = "frames"
    live = False

    def __init__(self, *, buffer: bool = True, prefetch: int = 4):
        self.keep_every_frame = buffer
        self._prefetch = prefetch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._buf = None
        self._closed = False
        self.info = VideoInfo(None, None, None, None)
        self.total: int | None = None   # frame count when known (for progress bars)
        self.end_reason: str | None = None
        self.frames_read = 0

    # subclasses: _grab() -> Frame, or None at the end; _release() frees the device
    def _grab(self) -> Frame | None:
        raise NotImplementedError

    def _release(self) -> None:
        pass

    @property
    def dropped(self) -> int:
        """Frames the reader replaced before they were used (latency mode only)."""
        return self._buf.dropped if self._buf else 0

    def _reader(self) -> None:
        buf, stop = self._buf, self._stop
        end = _END
        try:
            while not stop.is_set():
                fr = self._grab()
                if fr is None:
                    break
                self.frames_read += 1
                if not buf.put(fr, stop):
                    break
        except BaseException as exc:  # handed to the consumer, raised there
            end = _Error(exc)
        finally:
            try:
                self._release()
            except Exception as exc:  # pragma: no cover - a driver failing to close
                _log().warning("releasing %s failed: %s", self, exc)
            buf.put(end, stop)

    def __iter__(self) -> Iterator[Frame]:
        if self._closed:
            raise RuntimeError("this frame source is closed")
        if self._thread is not None:
            raise RuntimeError("a frame source can be iterated only once")
        self._buf = _Fifo(self._prefetch) if self.keep_every_frame else _Newest()
        self._thread = threading.Thread(target=self._reader, name=f"nanodet-{self.kind}-reader",
                                        daemon=True)
        self._thread.start()
        try:
            while True:
                item = self._buf.get()
                if item is _END:
                    return
                if isinstance(item, _Error):
                    raise item.exc
                yield item
        finally:
            self.close()

    def close(self, timeout: float = 5.0) -> None:
        """Stops the reader thread (if it ever started) and releases the device. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        t = self._thread
        if t is None:
            self._release()
            return
        deadline = time.monotonic() + timeout
        while t.is_alive() and time.monotonic() < deadline:
            if isinstance(self._buf, _Fifo):
                self._buf.drain()
            t.join(0.05)
        if t.is_alive():
            _log().warning("frame reader for %s is still blocked in a read after %.0f s; left "
                           "as a daemon thread", self, timeout)

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close(timeout=0.5)
        except Exception:
            pass


class ImageFrames(FrameSource):
    """Paths / arrays / PIL images in order, decoded ahead of the consumer."""

    kind = "image"

    def __init__(self, items: list, *, prefetch: int = 4):
        super().__init__(buffer=True, prefetch=prefetch)
        self._items = list(items)
        self._next = 0
        self.total = len(self._items)

    def _grab(self) -> Frame | None:
        if self._next >= len(self._items):
            return None
        i = self._next
        self._next += 1
        return to_frame(self._items[i], i)


class VideoFrames(FrameSource):
    """A video file, webcam or stream URL through cv2.VideoCapture (its read releases the GIL).
    Files open at once (errors surface here); webcams and URLs on first iteration. A live source
    that stops delivering ends with a logged reason, or reopens with ``reconnect=True``
    (``retries`` attempts, ``retry_delay`` seconds apart)."""

    kind = "video"

    def __init__(self, source, *, buffer: bool | None = None, prefetch: int = 4,
                 reconnect: bool = False, retries: int = 3, retry_delay: float = 0.5):
        self.live = is_webcam(source) or is_stream_url(source)
        super().__init__(buffer=(not self.live) if buffer is None else buffer, prefetch=prefetch)
        self.source = int(source) if is_webcam(source) else os.fspath(source)
        self.path = None if is_webcam(source) else self.source
        self.reconnect, self.retries, self.retry_delay = reconnect, retries, retry_delay
        self._cap = None
        self._index = 0
        if not self.live:
            self._open()
            self.total = self.info.frames

    def __repr__(self) -> str:
        return f"VideoFrames({self.source!r})"

    def _open(self) -> None:
        import cv2

        if self.live:
            what = f"webcam {self.source}" if isinstance(self.source, int) else self.source
        else:
            what = self.source
            if not os.path.exists(self.source):
                raise FileNotFoundError(f"video not found: {self.source}")
        cap = cv2.VideoCapture(self.source)
        if not cap.isOpened():
            cap.release()
            raise ValueError(f"cannot open video source {what} (not a video, unsupported codec, "
                             "unreachable stream or no such device)")
        fps = cap.get(cv2.CAP_PROP_FPS)
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.info = VideoInfo(fps if fps and 0 < fps < 1000 else 30.0,
                              int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                              int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                              None if self.live or n <= 0 else n)
        self._cap = cap

    def start(self) -> None:
        """Opens a live source now (iteration does it otherwise), e.g. to know its size."""
        if self._cap is None and not self._closed:
            self._open()

    def _grab(self) -> Frame | None:
        if self._cap is None:
            self._open()
        attempts = 0
        while not self._stop.is_set():
            ok, img = self._cap.read()
            if ok:
                fr = Frame(img, "bgr", self.path, self._index)
                self._index += 1
                return fr
            if not self.live:
                self.end_reason = "end of file"
                return None
            if not self.reconnect or attempts >= self.retries:
                self.end_reason = (f"live source {self.source} stopped delivering frames after "
                                   f"{self._index} frames (stream ended, dropped or device gone)"
                                   + (f"; {attempts} reconnect attempts failed" if attempts else ""))
                _log().warning("%s", self.end_reason)
                return None
            attempts += 1
            _log().warning("live source %s dropped after %d frames; reconnecting (%d/%d)",
                           self.source, self._index, attempts, self.retries)
            self._cap.release()
            self._cap = None
            if self._stop.wait(self.retry_delay):
                return None
            try:
                self._open()
            except ValueError as exc:
                _log().warning("reconnect %d/%d failed: %s", attempts, self.retries, exc)
                self._cap = _ClosedCapture()
        return None

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class _ClosedCapture:
    def read(self):
        return False, None

    def release(self) -> None:
        pass


class CallableFrames(FrameSource):
    """A zero-argument callable returning an H x W x 3 uint8 array (None ends), or any iterable
    / iterator of such arrays (picamera2's ``capture_array``, GStreamer appsinks, generators)."""

    kind = "live"
    live = True

    def __init__(self, source: Callable | object, *, buffer: bool = False, prefetch: int = 4):
        super().__init__(buffer=buffer, prefetch=prefetch)
        if callable(source) and not hasattr(source, "__next__"):
            self._fn = source
        else:
            it = iter(source)
            self._fn = lambda: next(it, None)
        self._index = 0

    def _grab(self) -> Frame | None:
        x = self._fn()
        if x is None:
            self.end_reason = f"the source returned None after {self._index} frames"
            return None
        fr = _live_array(x, self._index)
        if self.info.width is None:
            h, w = fr.image.shape[:2]
            self.info = VideoInfo(None, w, h, None)
        self._index += 1
        return fr


def to_frames(source, *, buffer: bool | None = None, reconnect: bool = False,
              prefetch: int = 4) -> FrameSource:
    """The one way from any source to frames. ``buffer``: keep every frame (default for files,
    folders, lists and videos) or only the newest (default for webcams, URLs, iterables and
    callables: latency mode)."""
    if is_video_file(source) or is_webcam(source) or is_stream_url(source):
        return VideoFrames(source, buffer=buffer, prefetch=prefetch, reconnect=reconnect)
    if is_live_source(source):
        return CallableFrames(source, buffer=bool(buffer), prefetch=prefetch)
    items = [source] if is_single_image(source) else image_items(source)
    return ImageFrames(items, prefetch=prefetch)
