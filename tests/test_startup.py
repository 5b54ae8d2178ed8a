"""Start-up and single-frame overheads: what `import nanodet_ncnn` pulls in, and preprocessing on
several threads giving the network the same input, to the bit, as one thread and as the ncnn
wheel's own resize."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

import nanodet_ncnn
from conftest import IMAGES, model_paths
from oracle import MEAN, NORM, SPECS, placement

# Modules `import nanodet_ncnn` must not load: network, TLS and OpenSSL hashing (a download or a
# pickle checksum is the only user), progress bars, optional integrations, conversion tools,
# OpenCV (only image I/O needs it).
HEAVY = ("urllib.request", "http.client", "ssl", "email", "socket", "hashlib", "tqdm",
         "supervision", "torch", "onnx", "pnnx", "onnxruntime", "cv2", "json")


def test_import_pulls_in_nothing_heavy(tmp_path):
    # numpy (a dependency) is imported first: Debian's numpy 1.24 (the armv7l wheel test) itself
    # loads hashlib and json, which says nothing about this package
    code = ("import sys\nimport numpy\nbefore = set(sys.modules)\nimport nanodet_ncnn\n"
            "print('\\n'.join(sorted(set(sys.modules) - before)))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout.split()
    assert "nanodet_ncnn._core" in out  # the check sees the package's own imports
    loaded = sorted(m for m in out if m.split(".")[0] in HEAVY or m in HEAVY)
    assert not loaded, f"import nanodet_ncnn loads {loaded}"


def frames():
    bus = cv2.imread(str(IMAGES / "bus.jpg"))
    zidane = cv2.imread(str(IMAGES / "zidane.jpg"))
    return {
        "1080p": cv2.resize(zidane, (1920, 1080)),
        "portrait": cv2.resize(bus, (720, 1280)),
        "small": bus[100:229, 50:350].copy(),    # upscaled to the input
        "odd": np.ascontiguousarray(zidane[1:700:3, 5:1271:2]),
    }


def wheel_input(img: np.ndarray, size: int, mode: str) -> np.ndarray:
    """The network input as ncnn's examples build it with the PyPI wheel."""
    import ncnn

    h, w = img.shape[:2]
    cw, ch, pl, pt, iw, ih = placement(w, h, size, size, mode)
    mat = ncnn.Mat.from_pixels_resize(np.ascontiguousarray(img), ncnn.Mat.PixelType.PIXEL_BGR,
                                      w, h, cw, ch)
    if (iw, ih) != (cw, ch):
        mat = ncnn.copy_make_border(mat, pt, ih - ch - pt, pl, iw - cw - pl,
                                    ncnn.BorderType.BORDER_CONSTANT, 0.0)
    mat.substract_mean_normalize(MEAN, NORM)
    return np.array(mat)


@pytest.mark.needs_ncnn_wheel
@pytest.mark.parametrize("key", ["plus_onnx", "nanodet_m"])
@pytest.mark.parametrize("mode", ["letterbox", "dynamic"])
def test_threaded_preprocess_is_bit_identical(key, mode):
    spec = SPECS[key]
    param, bin_ = model_paths(key)
    dets = {t: nanodet_ncnn.Detector(param, bin_, num_threads=t, resize=mode, precision="fp32")
            for t in (1, 2, 3)}
    for name, img in frames().items():
        inputs = {t: d.extract_blobs(img, [spec.input_blob])[spec.input_blob]
                  for t, d in dets.items()}
        ref = wheel_input(img, spec.size, mode)
        assert inputs[1].shape == ref.shape, name
        # same resized pixels as the wheel (normalisation may round in another order)
        np.testing.assert_allclose(inputs[1], ref, rtol=0, atol=1e-5, err_msg=name)
        for t in (2, 3):
            assert inputs[t].tobytes() == inputs[1].tobytes(), f"{key} {mode} {name}: {t} threads"


def test_detect_same_at_one_and_two_threads():
    param, bin_ = model_paths("plus_onnx")
    img = frames()["1080p"]
    one = nanodet_ncnn.Detector(param, bin_, num_threads=1, precision="fp32").detect(img, conf=0.2)
    two = nanodet_ncnn.Detector(param, bin_, num_threads=2, precision="fp32").detect(img, conf=0.2)
    assert len(one) >= 2  # the two people of zidane.jpg at least
    np.testing.assert_array_equal(one.class_ids, two.class_ids)
    np.testing.assert_allclose(one.xyxy, two.xyxy, atol=1e-3)
    np.testing.assert_allclose(one.scores, two.scores, atol=1e-5)
