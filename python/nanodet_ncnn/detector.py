"""The Python face of the C++ Detector: paths or arrays in, Detections out."""
from __future__ import annotations

import itertools
import os
import pickle
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from . import _core
from .detections import Detections
from .model_source import ModelBytes, ModelFiles
from .names import load_names
from .sources import read_image, to_frame  # noqa: F401  (read_image is public here too)

_NMS_MODES = {"class": "class", "per-class": "class", "agnostic": "agnostic",
              "multilabel": "multilabel", "multi-label": "multilabel"}


def default_threads() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(4, n))


class Detector:
    """A loaded NanoDet model.

    >>> det = Detector("nanodet-plus-m_416.param")            # bin beside it
    >>> dets = det.detect("bus.jpg", conf=0.4)                # path or H x W x 3 uint8 BGR array
    >>> dets.xyxy, dets.scores, dets.class_ids, dets.class_names

    ``resize``: "letterbox" (square, centred padding), "dynamic" (keep ratio, pad to a multiple
    of 32: fewer pixels on wide frames) or "stretch". ``precision``: "auto" (INT8 for a quantized graph,
    else fp16 where the CPU has fp16 arithmetic, fp32 otherwise: docs/arm.md; ``precision_used``
    and :meth:`describe` say what ran and why), "fp32", "fp16" or "int8" (for quantized models). Head overrides
    (``num_classes``, ``reg_max``, ``strides``, ``center_offset``, ``cls_sigmoid``) are only for
    unusual exports: the layout is normally read from the graph. ``cores``: "all", "big" or
    "little" pins the threads running inference to that cluster of a big.LITTLE CPU (ncnn's
    powersave modes); on CPUs without such clusters every mode uses all cores. ``workers`` and
    ``threads_per_worker``: the defaults of :meth:`predict` for many frames (throughput mode).
    ``max_det``: the most detections kept per image after NMS (highest scores first); 0 means
    unlimited.
    """

    def __init__(self, param: str | os.PathLike, bin: str | os.PathLike | None = None, *,
                 names: str | os.PathLike | Sequence[str] | None = None,
                 num_threads: int | None = None, input_size: int | tuple[int, int] | None = None,
                 resize: str = "letterbox", conf: float = 0.35, iou: float = 0.6,
                 nms: str = "class", max_det: int = 100, precision: str = "auto",
                 pixel_format: str = "bgr", mean: Sequence[float] | None = None,
                 norm: Sequence[float] | None = None, num_classes: int = 0, reg_max: int = -1,
                 strides: Sequence[int] = (), center_offset: float | None = None,
                 cls_sigmoid: bool | None = None, cores: str = "all",
                 workers: int | str = "auto", threads_per_worker: int = 1):
        model = param if isinstance(param, ModelBytes) else ModelFiles(param, bin)
        self._model = model
        self.param_path, self.bin_path = (model.param, model.bin) if isinstance(model, ModelFiles) else (None, None)
        self._core_options = dict(
            num_threads=num_threads, input_size=input_size, resize=resize, mean=mean, norm=norm,
            precision=precision, num_classes=num_classes, reg_max=reg_max, strides=list(strides),
            center_offset=-1.0 if center_offset is None else float(center_offset),
            cls_sigmoid=cls_sigmoid, cores=cores)
        self._impl = self._build()
        self.names = load_names(names, self._core.num_classes)
        self.precision = precision
        self.defaults = dict(conf=conf, iou=iou, nms=self._nms_mode(nms), max_det=max_det,
                             pixel_format=pixel_format)
        self._check_thresholds(conf, iou)
        #: defaults for predict() on many frames (throughput mode), see predict()
        self.workers, self.threads_per_worker = workers, threads_per_worker

    @staticmethod
    def _nms_mode(nms: str) -> str:
        if nms not in _NMS_MODES:
            raise ValueError(f"nms must be one of 'class', 'agnostic', 'multilabel', got {nms!r}")
        return _NMS_MODES[nms]

    @staticmethod
    def _check_thresholds(conf: float, iou: float) -> None:
        if not 0.0 <= conf <= 1.0:
            raise ValueError(f"conf must be within [0, 1], got {conf}")
        if not 0.0 <= iou <= 1.0:
            raise ValueError(f"iou must be within [0, 1], got {iou}")

    @property
    def _core(self) -> "_core.Detector":
        impl = self.__dict__.get("_impl")
        if impl is None:
            lock = self.__dict__.get("_build_lock")
            if lock is None:
                raise RuntimeError("this Detector is closed")
            with lock:  # an unpickled copy builds its network once, on first use
                impl = self.__dict__.get("_impl")
                if impl is None:
                    if self.__dict__.get("_build_lock") is None:
                        raise RuntimeError("this Detector is closed")
                    self._model.verify()
                    impl = self.__dict__["_impl"] = self._build()
        return impl

    def _build(self) -> "_core.Detector":
        kw = dict(self._core_options)
        kw["num_threads"] = default_threads() if kw["num_threads"] is None else int(kw["num_threads"])
        return self._model.build(**kw)

    def close(self) -> None:
        """Frees the network now (idempotent). Calls already running finish normally; later
        calls raise RuntimeError."""
        self.__dict__["_impl"] = None
        self.__dict__.pop("_build_lock", None)

    @property
    def closed(self) -> bool:
        return self.__dict__.get("_impl") is None and self.__dict__.get("_build_lock") is None

    # --- pickling: the model (paths or bytes, with their sha256), names and every option travel;
    # the receiving process builds the ncnn network lazily on first use ------------------------
    def __getstate__(self) -> dict:
        if self.closed:
            raise pickle.PicklingError(
                "cannot pickle a closed Detector: pickle it before close(), or load the model again")
        return {"model": self._model, "core_options": dict(self._core_options),
                "names": list(self.names), "precision": self.precision,
                "defaults": dict(self.defaults), "workers": self.workers,
                "threads_per_worker": self.threads_per_worker}

    def __setstate__(self, state: dict) -> None:
        self._model = state["model"]
        files = isinstance(self._model, ModelFiles)
        self.param_path, self.bin_path = (self._model.param, self._model.bin) if files else (None, None)
        self._core_options = state["core_options"]
        self.names = state["names"]
        self.precision = state["precision"]
        self.defaults = state["defaults"]
        self.workers = state.get("workers", "auto")
        self.threads_per_worker = state.get("threads_per_worker", 1)
        self._impl = None
        self._build_lock = threading.Lock()

    @classmethod
    def from_bytes(cls, param: bytes | str, bin: bytes, *, model_name: str | None = None,
                   **options) -> "Detector":
        """A Detector from the .param text and .bin bytes held in memory (same keyword options
        as the constructor). Its pickles carry the bytes, so workers need no model files."""
        return cls(ModelBytes(param, bin, model_name), **options)

    from_memory = from_bytes

    @property
    def model_id(self) -> str:
        """The model's file (or memory) name and the first 12 hex digits of its weights' sha256."""
        return f"{self._model.name}@{self._model.sha256[1][:12]}"

    def _with_options(self, **core_options) -> "Detector":
        """An unbuilt copy of this Detector with some constructor options changed (e.g. the
        thread count a worker was given); builds on first use like an unpickled one."""
        state = self.__getstate__()
        state["core_options"].update(core_options)
        twin = type(self).__new__(type(self))
        twin.__setstate__(state)
        return twin

    def __enter__(self) -> "Detector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- model facts -----------------------------------------------------------------------
    num_classes = property(lambda self: self._core.num_classes)
    reg_max = property(lambda self: self._core.reg_max)
    strides = property(lambda self: list(self._core.strides))
    input_size = property(lambda self: tuple(self._core.input_size))
    num_threads = property(lambda self: self._core.num_threads)
    cores = property(lambda self: self._core.cores, doc="'all', 'big' or 'little'")
    family = property(lambda self: self._core.family, doc="'nanodet' (legacy) or 'nanodet-plus'")
    layout = property(lambda self: self._core.layout, doc="'single-output' or 'per-stride'")
    quantized = property(lambda self: self._core.quantized, doc="the graph has INT8 weights")
    precision_used = property(lambda self: self._core.precision_used,
                              doc="'fp32', 'fp16' or 'int8': what precision (e.g. 'auto') resolved to")

    def describe(self) -> str:
        return self._core.describe()

    def __repr__(self) -> str:
        if self.closed:
            return f"Detector({self._model.name}: closed)"
        return f"Detector({self._model.name}: {self.describe()})"

    # --- inference ---------------------------------------------------------------------------
    def detect(self, image, *, conf: float | None = None, iou: float | None = None,
               nms: str | None = None, max_det: int | None = None,
               pixel_format: str | None = None, max_candidates: int = 3000) -> Detections:
        """Detections for one image: a path, an H x W x 3 uint8 array (BGR unless
        ``pixel_format="rgb"``; 1- and 4-channel arrays are converted), or a PIL image."""
        fr = to_frame(image)
        out = self._core.detect(fr.image, **self._call_args(conf, iou, nms, max_det, max_candidates),
                                pixel_format=fr.pixel_format or (pixel_format or self.defaults["pixel_format"]))
        return self._detections(*out)

    def _call_args(self, conf, iou, nms, max_det, max_candidates: int = 3000) -> dict:
        """The keyword arguments of one core call (detect or Pool.submit), defaults filled in."""
        o = self.defaults
        conf = o["conf"] if conf is None else conf
        iou = o["iou"] if iou is None else iou
        self._check_thresholds(conf, iou)
        return dict(conf=float(conf), iou=float(iou),
                    nms=o["nms"] if nms is None else self._nms_mode(nms),
                    max_det=o["max_det"] if max_det is None else int(max_det),
                    max_candidates=int(max_candidates))

    def _detections(self, xyxy, scores, class_ids, times, insize) -> Detections:
        return Detections(xyxy, scores, class_ids, self.names, times, input_size=insize)

    __call__ = detect

    def extract_blobs(self, image, names: Sequence[str], *,
                      pixel_format: str | None = None) -> dict[str, np.ndarray]:
        """{name: float32 array (C, H, W) ...} of the named intermediate blobs for one image,
        preprocessed exactly like :meth:`detect` (used for INT8 calibration)."""
        fr = to_frame(image)
        return self._core.extract_blobs(fr.image, [str(n) for n in names],
                                        pixel_format=fr.pixel_format or (pixel_format or self.defaults["pixel_format"]))

    def predict(self, source, *, conf: float | None = None, iou: float | None = None,
                nms: str | None = None, max_det: int | None = None, stream: bool = False,
                progress: bool = True, max_frames: int | None = None,
                workers: int | str | None = None, threads_per_worker: int | None = None,
                stream_buffer: bool = False, reconnect: bool = False):
        """Predict on any source.

        ``source``: an image path, array or PIL image (-> :class:`Result`); a list, 4-D array,
        folder or glob (-> :class:`Results`, or a generator with ``stream=True``); a video file,
        webcam index, stream URL, iterable of H x W x 3 uint8 arrays, or a zero-argument callable
        returning one (None ends) (-> :class:`VideoPrediction`: iterate it, or
        ``.save("out.mp4")``; a generator of results with ``stream=True``). Folders and videos
        show a progress bar unless ``progress=False``.

        Throughput mode (lists, folders, globs, video files): ``workers`` concurrent inferences
        on the one loaded network, each with ``threads_per_worker`` ncnn threads, results in
        source order. ``workers="auto"`` (the default, see :func:`pipeline.auto_workers`): one
        single-threaded worker per usable core when there is more than one frame.

        Latency mode (webcams, URLs, iterables, callables): the reader keeps only the newest
        frame and each inference takes the newest, on this detector's ``num_threads``; every
        result has ``timestamp`` (capture time) and ``speed["latency"]`` (capture -> result,
        ms). ``stream_buffer=True`` keeps every frame instead (throughput mode).
        ``reconnect=True`` reopens a dropped webcam / URL (bounded retries, logged).
        """
        from . import sources
        from .pipeline import resolve_workers, run_pooled, run_serial
        from .results import Results, VideoPrediction

        args = self._call_args(conf, iou, nms, max_det)
        workers = self.workers if workers is None else workers
        tpw = self.threads_per_worker if threads_per_worker is None else int(threads_per_worker)

        def run(frames, count):
            n = resolve_workers(workers, count)
            if n == 1 and workers in (None, "auto"):
                return run_serial(self, frames, args)
            return run_pooled(self, frames, args, workers=n, threads_per_worker=tpw)

        if sources.is_single_image(source) and not stream:
            return next(run_serial(self, [to_frame(source)], args))
        if sources.is_video_file(source) or sources.is_live_source(source):
            latency = sources.is_live_source(source) and not stream_buffer

            def open_frames():
                return sources.to_frames(source, buffer=True if stream_buffer else None,
                                         reconnect=reconnect)

            def run_video(frames):
                return run_serial(self, frames, args) if latency else run(frames, None)

            vp = VideoPrediction(open_frames, run_video, source, max_frames=max_frames,
                                 progress=progress)
            return iter(vp) if stream else vp
        frames = sources.to_frames(source)
        limit = frames.total if max_frames is None else min(frames.total, max_frames)

        def gen():
            bar = None
            if progress and limit > 1:
                from tqdm.auto import tqdm

                bar = tqdm(total=limit, unit="img", leave=False)
            results = run(itertools.islice(frames, limit), limit)
            try:
                for r in results:
                    yield r
                    if bar is not None:
                        bar.update(1)
            finally:
                results.close()
                frames.close()
                if bar is not None:
                    bar.close()

        return gen() if stream else Results(gen())

    def track(self, source, *, tracker: str = "bytetrack", stream: bool = False, **kwargs):
        """Like :meth:`predict`, with persistent ids: each Result's ``detections.tracker_id``
        (-1 where untracked), trails in ``plot()`` and optional line counts (``count_line=``).
        See :func:`nanodet_ncnn.track.track` (pip install 'nanodet-ncnn[track]')."""
        from .track import track

        return track(self, source, tracker=tracker, stream=stream, **kwargs)
