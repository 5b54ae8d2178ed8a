"""Type stubs for the C++ extension module nanodet_ncnn._core."""
from typing import Sequence

import numpy as np
import numpy.typing as npt

class NanodetError(ValueError): ...
class ModelError(NanodetError): ...
class InputError(NanodetError): ...

def ncnn_version() -> str: ...
def kernels() -> str: ...

class Detector:
    def __init__(self, param: str, bin: str, *, num_threads: int = 1,
                 input_size: int | tuple[int, int] | None = None, resize: str = "letterbox",
                 pad_multiple: int = 32, mean: Sequence[float] | None = None,
                 norm: Sequence[float] | None = None, precision: str = "auto",
                 num_classes: int = 0, reg_max: int = -1, strides: Sequence[int] = ...,
                 center_offset: float = -1.0, cls_sigmoid: bool | None = None,
                 cores: str = "all") -> None: ...
    @staticmethod
    def from_memory(param: bytes, bin: bytes, *, num_threads: int = 1,
                    input_size: int | tuple[int, int] | None = None, resize: str = "letterbox",
                    pad_multiple: int = 32, mean: Sequence[float] | None = None,
                    norm: Sequence[float] | None = None, precision: str = "auto",
                    num_classes: int = 0, reg_max: int = -1, strides: Sequence[int] = ...,
                    center_offset: float = -1.0, cls_sigmoid: bool | None = None,
                    cores: str = "all") -> "Detector": ...
    def detect(self, image: npt.NDArray[np.uint8], *, conf: float = 0.35, iou: float = 0.6,
               nms: str = "class", max_det: int = 100, max_candidates: int = 3000,
               pixel_format: str = "bgr",
               ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32],
                          npt.NDArray[np.int32], dict[str, float], tuple[int, int]]: ...
    def run_network(self, width: int, height: int) -> int: ...
    def extract_blobs(self, image: np.ndarray, names: list[str], *, pixel_format: str = ...) -> dict[str, np.ndarray]: ...
    def describe(self) -> str: ...
    @property
    def num_classes(self) -> int: ...
    @property
    def reg_max(self) -> int: ...
    @property
    def strides(self) -> list[int]: ...
    @property
    def center_offset(self) -> float: ...
    @property
    def cls_sigmoid(self) -> bool: ...
    @property
    def family(self) -> str: ...
    @property
    def layout(self) -> str: ...
    @property
    def quantized(self) -> bool: ...
    @property
    def input_blob(self) -> str: ...
    @property
    def output_blobs(self) -> list[str]: ...
    @property
    def input_size(self) -> tuple[int, int]: ...
    @property
    def num_threads(self) -> int: ...
    @property
    def cores(self) -> str: ...  # "all", "big" or "little", as asked
    @property
    def cores_used(self) -> str: ...  # what runs: "all" where the CPU has no such cluster
    @property
    def precision_used(self) -> str: ...  # "fp32", "fp16" or "int8": "auto" resolved for this CPU
    @property
    def precision_detail(self) -> str: ...  # e.g. "fp16 (auto: CPU has asimdhp)"

_Result = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int32],
                dict[str, float], tuple[int, int]]

class Pool:
    """Worker pool over one Detector (one ncnn::Net): `workers` threads, each running whole
    frames with `threads_per_worker` ncnn threads. Results come back in submission order and
    are bit-identical to Detector.detect(). The pool keeps its Detector alive."""
    def __init__(self, detector: Detector, workers: int = 2, threads_per_worker: int = 1,
                 max_pending: int = 0) -> None: ...  # max_pending 0 -> 2 * workers
    def submit(self, image: npt.NDArray[np.uint8], *, conf: float = 0.35, iou: float = 0.6,
               nms: str = "class", max_det: int = 100, max_candidates: int = 3000,
               pixel_format: str = "bgr") -> int:
        """Queue a frame; returns its sequence number (0, 1, ...). Blocks (GIL released,
        Ctrl+C honoured) while max_pending frames are submitted but not collected. The array is
        referenced, not copied, until its result is collected. Bad arguments (nms, pixel_format)
        raise here; a bad frame raises from collect() in its turn. RuntimeError once closed."""
    def collect(self) -> tuple[int, npt.NDArray[np.float32], npt.NDArray[np.float32],
                               npt.NDArray[np.int32], dict[str, float], tuple[int, int]]:
        """(seq, xyxy, scores, class_ids, times_ms, (input_w, input_h)) of the next frame in
        submission order, waiting for it (GIL released); raises that frame's error (the
        exception detect() raises) instead. RuntimeError when nothing is pending or closed."""
    def close(self) -> None:
        """Drop queued frames, finish running ones, join the workers (also on __exit__/del)."""
    def __enter__(self) -> "Pool": ...
    def __exit__(self, *exc: object) -> None: ...
    @property
    def pending(self) -> int: ...
    @property
    def workers(self) -> int: ...
    @property
    def threads_per_worker(self) -> int: ...
    @property
    def max_pending(self) -> int: ...
    @property
    def closed(self) -> bool: ...
