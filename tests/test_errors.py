"""Bad input gets a specific Python exception with a useful message, never a crash."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import nanodet_ncnn
from nanodet_ncnn import ModelError
from conftest import model_paths


@pytest.fixture(scope="module")
def det():
    return nanodet_ncnn.load("nanodet-m", num_threads=1)


@pytest.fixture()
def pair(tmp_path):
    p, b = model_paths("nanodet_m")
    return tmp_path, p.read_bytes(), b.read_bytes()


def _write(tmp, param: bytes, bin_: bytes):
    (tmp / "m.param").write_bytes(param)
    (tmp / "m.bin").write_bytes(bin_)
    return tmp / "m.param", tmp / "m.bin"


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="param file not found"):
        nanodet_ncnn.Detector(tmp_path / "nope.param")
    p, _ = model_paths("nanodet_m")
    with pytest.raises(FileNotFoundError, match="bin file not found"):
        nanodet_ncnn.Detector(p, tmp_path / "nope.bin")
    with pytest.raises(nanodet_ncnn.ModelNotFoundError, match="neither a known model name"):
        nanodet_ncnn.load("no-such-model")


def test_empty_files(pair):
    tmp, param, bin_ = pair
    with pytest.raises(ModelError, match="param file is empty"):
        nanodet_ncnn.Detector(*_write(tmp, b"", bin_))
    with pytest.raises(ModelError, match="bin file is empty"):
        nanodet_ncnn.Detector(*_write(tmp, param, b""))


def test_swapped_files(pair):
    tmp, param, bin_ = pair
    with pytest.raises(ModelError, match="swapped|not an ncnn text param"):
        nanodet_ncnn.Detector(*_write(tmp, bin_, param))


def test_garbled_param(pair):
    tmp, param, bin_ = pair
    with pytest.raises(ModelError, match="magic number"):
        nanodet_ncnn.Detector(*_write(tmp, b"hello world\n", bin_))
    lines = param.decode().splitlines()
    lines[5] = "Convolution conv_x 1"  # a layer line cut short
    with pytest.raises(ModelError, match="line 6"):
        nanodet_ncnn.Detector(*_write(tmp, "\n".join(lines).encode(), bin_))
    truncated = "\n".join(param.decode().splitlines()[:40]).encode()
    with pytest.raises(ModelError, match="truncated"):
        nanodet_ncnn.Detector(*_write(tmp, truncated, bin_))


def test_unknown_layer_type(pair):
    tmp, param, bin_ = pair
    text = param.decode().replace("ShuffleChannel", "NoSuchLayer", 1)
    with pytest.raises(ModelError, match="layer type 'NoSuchLayer'"):
        nanodet_ncnn.Detector(*_write(tmp, text.encode(), bin_))


def test_truncated_and_mismatched_bin(pair):
    tmp, param, bin_ = pair
    with pytest.raises(ModelError, match="too short"):
        nanodet_ncnn.Detector(*_write(tmp, param, bin_[: len(bin_) // 2]))
    with pytest.raises(ModelError, match="another model"):
        nanodet_ncnn.Detector(*_write(tmp, param, bin_ + b"\0" * 4096))
    _, other_bin = model_paths("plus_onnx")
    with pytest.raises(ModelError, match="another model|too short"):
        nanodet_ncnn.Detector(*_write(tmp, param, other_bin.read_bytes()))


def test_graph_without_head(tmp_path):
    # A valid graph whose only output is a plain feature map: not a NanoDet head.
    param = ("7767517\n2 2\nInput data 0 1 data\n"
             "Convolution conv 1 1 data out 0=8 1=3 4=1 5=1 6=216\n")
    p, b = _write(tmp_path, param.encode(), np.zeros(8 * 27 + 8 + 1, np.float32).tobytes())
    with pytest.raises(ModelError, match="unrecognised NanoDet head.*'out'"):
        nanodet_ncnn.Detector(p, b)


def test_from_memory_matches_files(bus):
    p, b = model_paths("nanodet_m")
    mem = nanodet_ncnn._core.Detector.from_memory(p.read_bytes(), b.read_bytes())
    files = nanodet_ncnn._core.Detector(str(p), str(b))
    np.testing.assert_array_equal(mem.detect(bus)[0], files.detect(bus)[0])


@pytest.mark.parametrize("image, exc, match", [
    (np.zeros((64, 64, 3), np.float32), TypeError, "uint8"),
    (np.zeros((64, 64, 3), np.uint16), TypeError, "uint8"),
    (np.zeros((64, 64, 3), bool), TypeError, "uint8"),
    (np.zeros((0, 64, 3), np.uint8), ValueError, "empty"),
    (np.zeros((64, 0, 3), np.uint8), ValueError, "empty"),
    (np.zeros((64, 64, 2), np.uint8), ValueError, "1, 3 or 4 channels"),
    (np.zeros((2, 64, 64, 3), np.uint8), ValueError, "dimensions"),
    (np.zeros(64, np.uint8), ValueError, "dimensions"),
    ([[1, 2, 3]], TypeError, "numpy array"),
    (None, TypeError, "numpy array"),
])
def test_bad_images(det, image, exc, match):
    with pytest.raises(exc, match=match):
        det.detect(image)


def test_bad_image_files(det, tmp_path):
    with pytest.raises(FileNotFoundError):
        det.detect(tmp_path / "missing.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="cannot decode"):
        det.detect(tmp_path / "empty.jpg")
    (tmp_path / "text.jpg").write_text("not an image")
    with pytest.raises(ValueError, match="cannot decode"):
        det.detect(tmp_path / "text.jpg")
    with pytest.raises(IsADirectoryError):
        det.detect(tmp_path)


def test_odd_but_valid_images(det):
    for shape in [(1, 1, 3), (1, 500, 3), (500, 1, 3), (3, 3)]:
        d = det.detect(np.full(shape, 128, np.uint8))
        assert len(d) == 0 or (d.xyxy >= 0).all()
    ro = np.zeros((64, 64, 3), np.uint8)
    ro.flags.writeable = False
    det.detect(ro)


def test_bad_options():
    p, b = model_paths("nanodet_m")
    for kwargs, match in [({"resize": "crop"}, "resize must be one of"),
                          ({"precision": "fp64"}, "precision must be one of"),
                          ({"input_size": 8}, "at least 32"),
                          ({"input_size": (320, 320, 3)}, "int or"),
                          ({"num_threads": 0}, "num_threads"),
                          ({"conf": 1.5}, "conf"),
                          ({"nms": "soft"}, "nms must be"),
                          ({"num_classes": 7}, "num_classes=7")]:
        with pytest.raises(ValueError, match=match):
            nanodet_ncnn.Detector(p, b, **kwargs)


def test_bad_call_arguments(det, bus):
    with pytest.raises(ValueError, match="conf"):
        det.detect(bus, conf=-0.1)
    with pytest.raises(ValueError, match="iou"):
        det.detect(bus, iou=2)
    with pytest.raises(ValueError, match="pixel_format"):
        det.detect(bus, pixel_format="yuv")


def test_labels_file(tmp_path):
    p, b = model_paths("plus_qr")
    (tmp_path / "l.txt").write_text("qr\n")
    assert nanodet_ncnn.Detector(p, b, names=tmp_path / "l.txt").names == ["qr"]
    (tmp_path / "l.yaml").write_text("names:\n  0: qr code\n")
    assert nanodet_ncnn.Detector(p, b, names=tmp_path / "l.yaml").names == ["qr code"]
    (tmp_path / "two.txt").write_text("a\nb\n")
    with pytest.raises(ValueError, match="2 names but the model has 1"):
        nanodet_ncnn.Detector(p, b, names=tmp_path / "two.txt")


def test_zoo_offline_error(monkeypatch, tmp_path):
    from nanodet_ncnn import zoo

    monkeypatch.setenv("NANODET_NCNN_MODELS", str(tmp_path))
    monkeypatch.setenv("NANODET_NCNN_CACHE", str(tmp_path / "cache"))
    with pytest.raises(zoo.ModelNotFoundError, match="NANODET_NCNN_MODELS"):
        zoo.resolve("nanodet-m", download=False)


def test_zoo_rejects_wrong_file(monkeypatch, tmp_path):
    from nanodet_ncnn import zoo

    folder = tmp_path / "nihui__ncnn-assets"
    folder.mkdir()
    p, b = model_paths("plus_onnx")  # other model's files under nanodet-m's names
    shutil.copy(p, folder / "nanodet_m.param")
    shutil.copy(b, folder / "nanodet_m.bin")
    monkeypatch.setenv("NANODET_NCNN_MODELS", str(tmp_path))
    monkeypatch.setenv("NANODET_NCNN_CACHE", str(tmp_path / "cache"))
    with pytest.raises(zoo.ModelNotFoundError, match="sha256"):
        zoo.resolve("nanodet-m", download=False)
