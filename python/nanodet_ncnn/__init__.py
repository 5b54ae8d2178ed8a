"""nanodet-ncnn: NanoDet / NanoDet-Plus object detection on ncnn, for ARM boards and laptops.

>>> import nanodet_ncnn
>>> model = nanodet_ncnn.load("nanodet-plus-m-416")
>>> model.predict("bus.jpg", conf=0.4).save("out/")
>>> model.predict("in.mp4").save("out.mp4")
"""
from __future__ import annotations

import os
from pathlib import Path

from ._core import InputError, ModelError, NanodetError, kernels, ncnn_version
from .detections import Detection, Detections
from .detector import Detector, read_image
from .errors import NanodetRuntimeError
from .names import COCO_NAMES
from .results import Result, Results, VideoPrediction
from .zoo import ModelNotFoundError, models

__version__ = "0.1.0"

__all__ = ["load", "Detector", "Detections", "Detection", "Result", "Results", "VideoPrediction",
           "models", "read_image", "COCO_NAMES",
           "ModelError", "InputError", "NanodetError", "NanodetRuntimeError", "ModelNotFoundError",
           "ncnn_version",
           "kernels", "__version__"]


def load(model: str | os.PathLike, bin: str | os.PathLike | None = None, **kwargs) -> Detector:
    """A Detector from a zoo name (see ``models()``), a .param path (bin beside it, or given),
    or a folder holding one .param/.bin pair. Keyword arguments go to :class:`Detector`; one
    given as None means "the default" (the zoo entry's value, else the Detector's)."""
    from . import zoo

    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if isinstance(model, str) and model in zoo.MODELS:
        param, bin_path, entry = zoo.resolve(model)
        kwargs.setdefault("input_size", entry.input_size)
        if entry.names is not None:
            kwargs.setdefault("names", list(entry.names))
        return Detector(param, bin_path, **kwargs)
    path = Path(model)
    if path.is_dir():
        params = sorted(path.glob("*.param"))
        if len(params) != 1:
            raise ValueError(f"{path} holds {len(params)} .param files; name one of them")
        path = params[0]
    if not path.exists():
        raise ModelNotFoundError(
            f"'{model}' is neither a known model name ({', '.join(zoo.MODELS)}) nor an existing "
            "file or folder")
    return Detector(path, bin, **kwargs)
