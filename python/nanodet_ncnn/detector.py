"""The Python face of the C++ Detector: paths or arrays in, Detections out."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from . import _core
from .detections import Detections
from .names import load_names

_NMS_MODES = {"class": "class", "per-class": "class", "agnostic": "agnostic",
              "multilabel": "multilabel", "multi-label": "multilabel"}


def default_threads() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(4, n))


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


def as_image(image) -> tuple[np.ndarray, str | None]:
    """(array, pixel format hint) for a path, a numpy array or a PIL image."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(image), "bgr"
    if type(image).__module__.startswith("PIL."):
        return np.asarray(image.convert("RGB")), "rgb"
    return image, None


class Detector:
    """A loaded NanoDet model.

    >>> det = Detector("nanodet-plus-m_416.param")            # bin beside it
    >>> dets = det.detect("bus.jpg", conf=0.4)                # path or H x W x 3 uint8 BGR array
    >>> dets.xyxy, dets.scores, dets.class_ids, dets.class_names

    ``resize``: "letterbox" (square, centred padding), "dynamic" (keep ratio, pad to a multiple
    of 32: fewer pixels on wide frames) or "stretch". ``precision``: "auto" (ncnn's defaults:
    fp16 where the CPU has it), "fp32", "fp16" or "int8" (for quantized models). Head overrides
    (``num_classes``, ``reg_max``, ``strides``, ``center_offset``, ``cls_sigmoid``) are only for
    unusual exports: the layout is normally read from the graph. ``max_det``: the most
    detections kept per image after NMS (highest scores first); 0 means unlimited.
    """

    def __init__(self, param: str | os.PathLike, bin: str | os.PathLike | None = None, *,
                 names: str | os.PathLike | Sequence[str] | None = None,
                 num_threads: int | None = None, input_size: int | tuple[int, int] | None = None,
                 resize: str = "letterbox", conf: float = 0.35, iou: float = 0.6,
                 nms: str = "class", max_det: int = 100, precision: str = "auto",
                 pixel_format: str = "bgr", mean: Sequence[float] | None = None,
                 norm: Sequence[float] | None = None, num_classes: int = 0, reg_max: int = -1,
                 strides: Sequence[int] = (), center_offset: float | None = None,
                 cls_sigmoid: bool | None = None):
        param = Path(param)
        bin_path = Path(bin) if bin is not None else param.with_suffix(".bin")
        for p, what in ((param, "param"), (bin_path, "bin")):
            if not p.exists():
                raise FileNotFoundError(f"{what} file not found: {p}")
            if p.is_dir():
                raise IsADirectoryError(f"{what} path is a folder: {p}")
        self.param_path, self.bin_path = param, bin_path
        self._impl = _core.Detector(
            str(param), str(bin_path), num_threads=default_threads() if num_threads is None else int(num_threads),
            input_size=input_size, resize=resize, mean=mean, norm=norm, precision=precision,
            num_classes=num_classes, reg_max=reg_max, strides=list(strides),
            center_offset=-1.0 if center_offset is None else float(center_offset),
            cls_sigmoid=cls_sigmoid)
        self.names = load_names(names, self._core.num_classes)
        self.precision = precision
        self.defaults = dict(conf=conf, iou=iou, nms=self._nms_mode(nms), max_det=max_det,
                             pixel_format=pixel_format)
        self._check_thresholds(conf, iou)

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
            raise RuntimeError("this Detector is closed")
        return impl

    def close(self) -> None:
        """Frees the network now (idempotent). Calls already running finish normally; later
        calls raise RuntimeError."""
        self.__dict__["_impl"] = None

    @property
    def closed(self) -> bool:
        return self.__dict__.get("_impl") is None

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
    family = property(lambda self: self._core.family, doc="'nanodet' (legacy) or 'nanodet-plus'")
    layout = property(lambda self: self._core.layout, doc="'single-output' or 'per-stride'")
    quantized = property(lambda self: self._core.quantized, doc="the graph has INT8 weights")

    def describe(self) -> str:
        return self._core.describe()

    def __repr__(self) -> str:
        if self.closed:
            return f"Detector({self.param_path.name}: closed)"
        return f"Detector({self.param_path.name}: {self.describe()})"

    # --- inference ---------------------------------------------------------------------------
    def detect(self, image, *, conf: float | None = None, iou: float | None = None,
               nms: str | None = None, max_det: int | None = None,
               pixel_format: str | None = None, max_candidates: int = 3000) -> Detections:
        """Detections for one image: a path, an H x W x 3 uint8 array (BGR unless
        ``pixel_format="rgb"``; 1- and 4-channel arrays are converted), or a PIL image."""
        arr, hint = as_image(image)
        o = self.defaults
        conf = o["conf"] if conf is None else conf
        iou = o["iou"] if iou is None else iou
        self._check_thresholds(conf, iou)
        xyxy, scores, class_ids, times, insize = self._core.detect(
            arr, conf=float(conf), iou=float(iou),
            nms=o["nms"] if nms is None else self._nms_mode(nms),
            max_det=o["max_det"] if max_det is None else int(max_det),
            max_candidates=int(max_candidates),
            pixel_format=hint or (pixel_format or o["pixel_format"]))
        return Detections(xyxy, scores, class_ids, self.names, times, insize)

    __call__ = detect

    def extract_blobs(self, image, names: Sequence[str], *,
                      pixel_format: str | None = None) -> dict[str, np.ndarray]:
        """{name: float32 array (C, H, W) ...} of the named intermediate blobs for one image,
        preprocessed exactly like :meth:`detect` (used for INT8 calibration)."""
        arr, hint = as_image(image)
        return self._core.extract_blobs(arr, [str(n) for n in names],
                                        pixel_format=hint or (pixel_format or self.defaults["pixel_format"]))

    def predict(self, source, *, conf: float | None = None, iou: float | None = None,
                nms: str | None = None, max_det: int | None = None, stream: bool = False,
                progress: bool = True, max_frames: int | None = None):
        """Predict on any source.

        ``source``: an image path, array or PIL image (-> :class:`Result`); a list, folder or glob
        (-> :class:`Results`, or a generator with ``stream=True``); a video file, webcam index or
        stream URL (-> :class:`VideoPrediction`: iterate it, or ``.save("out.mp4")``; a generator
        of results with ``stream=True``). Folders and videos show a progress bar unless
        ``progress=False``.
        """
        from .results import Result, Results, VideoPrediction
        from .sources import expand_paths, image_frame, is_single_image, is_video_source

        kw = dict(conf=conf, iou=iou, nms=nms, max_det=max_det)

        def run(frame) -> Result:
            dets = self.detect(frame.image, pixel_format=frame.pixel_format, **kw)
            return Result(dets, frame.image, frame.path, frame.index, frame.pixel_format)

        if is_video_source(source):
            vp = VideoPrediction(lambda img: self.detect(img, **kw), source,
                                 max_frames=max_frames, progress=progress)
            return iter(vp) if stream else vp
        if is_single_image(source) and not stream:
            return run(image_frame(source, 0))
        items = [source] if is_single_image(source) else expand_paths(source)

        def gen():
            bar = None
            if progress and len(items) > 1:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(items), unit="img", leave=False)
            try:
                for i, item in enumerate(items):
                    yield run(image_frame(item, i))
                    if bar:
                        bar.update(1)
            finally:
                if bar:
                    bar.close()

        return gen() if stream else Results(gen())
