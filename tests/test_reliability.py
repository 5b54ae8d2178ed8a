"""Reliability (issue #5): bad input of every kind gets a specific exception, never a crash or a
silent empty result; one Detector serves many threads with exactly the serial results; detectors
die cleanly. Complements test_errors.py (which covers the basic bad-input cases) -- nothing here
repeats it. Memory flatness: test_memory.py. C++ side (sanitizers, fuzzing): tools/reliability/.
"""
from __future__ import annotations

import gc
import re
import threading
import weakref

import numpy as np
import pytest

import nanodet_ncnn
from nanodet_ncnn import ModelError, _core
from conftest import IMAGES, model_paths


@pytest.fixture(scope="module")
def det():
    p, b = model_paths("nanodet_m")
    return nanodet_ncnn.Detector(p, b, num_threads=1, conf=0.25)


@pytest.fixture(scope="module")
def frames():
    import cv2

    bus = cv2.imread(str(IMAGES / "bus.jpg"))
    zidane = cv2.imread(str(IMAGES / "zidane.jpg"))
    return [bus, zidane, cv2.resize(bus, (200, 260)), np.ascontiguousarray(zidane[100:500, 300:900])]


def same(a, b) -> bool:
    return (np.array_equal(a.xyxy, b.xyxy) and np.array_equal(a.scores, b.scores)
            and np.array_equal(a.class_ids, b.class_ids))


# --- image files ---------------------------------------------------------------------------------

def _image_bytes(ext: str) -> bytes:
    import cv2

    img = cv2.imread(str(IMAGES / "bus.jpg"))
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


@pytest.mark.parametrize("name, make", [
    ("half.jpg", lambda: _image_bytes(".jpg")[: len(_image_bytes(".jpg")) // 2]),
    ("header-only.jpg", lambda: _image_bytes(".jpg")[:200]),
    ("half.png", lambda: _image_bytes(".png")[: len(_image_bytes(".png")) // 2]),
    ("bad-header.jpg", lambda: b"\xff\xd8\xff\xe0" + bytes(64) + _image_bytes(".jpg")[68:]),
    ("bad-crc.png", lambda: _image_bytes(".png")[:16] + b"\0\0\0\0" + _image_bytes(".png")[20:]),
    ("noise.jpg", lambda: np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes()),
    ("model.jpg", lambda: model_paths("nanodet_m")[0].read_bytes()),
    ("weights.png", lambda: model_paths("nanodet_m")[1].read_bytes()[:100000]),
    ("zeros.png", lambda: bytes(1000)),
    ("gif.gif", lambda: b"GIF89a" + bytes(100)),
])
def test_corrupt_image_files(det, tmp_path, name, make):
    path = tmp_path / name
    path.write_bytes(make())
    with pytest.raises(ValueError, match="cannot decode image file.*" + name.replace(".", r"\.")):
        det.detect(path)


def test_image_path_forms(det, tmp_path, frames):
    import shutil

    src = tmp_path / "ünïcode dir" / "bus copy.jpg"
    src.parent.mkdir()
    shutil.copy(IMAGES / "bus.jpg", src)
    assert same(det.detect(src), det.detect(str(src)))
    assert same(det.detect(src), det.detect(frames[0]))


# --- arrays --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int8, np.int16, np.int32, np.int64,
                                   np.uint32, np.complex64, object])
def test_more_wrong_dtypes(det, dtype):
    with pytest.raises(TypeError, match="dtype must be uint8"):
        det.detect(np.zeros((32, 32, 3), dtype))


@pytest.mark.parametrize("shape, match", [
    ((0, 0, 3), "empty"),
    ((0, 0), "empty"),
    ((16, 16, 0), "1, 3 or 4 channels"),
    ((16, 16, 5), "1, 3 or 4 channels"),
    ((16, 16, 3, 1), "dimensions"),
    ((70000, 1, 3), "65535"),
    ((1, 70000), "65535"),
    ((), "dimensions"),
])
def test_more_wrong_shapes(det, shape, match):
    with pytest.raises(ValueError, match=match):
        det.detect(np.zeros(shape, np.uint8))


def test_channel_variants_match(det, frames):
    """1-channel (H x W and H x W x 1) and 4-channel (BGRA) frames mean what they say."""
    import cv2

    bgr = frames[0]
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    assert same(det.detect(gray[:, :, None]), det.detect(gray))
    assert same(det.detect(bgra), det.detect(bgr))
    assert same(det.detect(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)), det.detect(gray))
    assert len(det.detect(bgr)) > 0


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 1), (1, 1, 4), (2, 10000, 3), (10000, 2, 3)])
def test_tiny_and_thin_frames(det, shape):
    d = det.detect(np.full(shape, 90, np.uint8))
    h, w = shape[:2]
    assert (d.xyxy[:, 0] >= 0).all() and (d.xyxy[:, 2] <= w).all() and (d.xyxy[:, 3] <= h).all()


def test_huge_frame(det, frames):
    big = np.zeros((10000, 10000, 3), np.uint8)
    big[:1080, :810] = frames[0]
    d = det.detect(big)
    assert (d.xyxy <= 10000).all()
    del big


def _views(img):
    h, w = img.shape[:2]
    pad = np.zeros((h + 7, w + 9, 5), np.uint8)
    pad[3:3 + h, 4:4 + w, 1:4] = img
    return {
        "flipud (negative row stride)": img[::-1],
        "fliplr (negative pixel stride)": img[:, ::-1],
        "bgr->rgb view (negative channel stride)": img[..., ::-1],
        "rot180": img[::-1, ::-1],
        "every 2nd row/3rd column": img[::2, ::3],
        "crop": img[10:-10, 20:-20],
        "fortran order": np.asfortranarray(img),
        "transposed": img.transpose(1, 0, 2),
        "interleaved in a wider buffer": pad[3:3 + h, 4:4 + w, 1:4],
        "broadcast (zero strides)": np.broadcast_to(img[:1, :1], img.shape),
        "gray column view": img[:, :, 1],
    }


def test_strided_views_equal_copies(det, frames):
    for name, v in _views(frames[0]).items():
        assert not v.flags.c_contiguous or name == "crop" or v.base is not None
        assert same(det.detect(v), det.detect(np.ascontiguousarray(v))), name


def test_read_only_inputs_and_no_mutation(det, frames, tmp_path):
    img = frames[1].copy()
    before = img.copy()
    ro = img[::-1]
    ro.flags.writeable = False
    assert same(det.detect(ro), det.detect(np.ascontiguousarray(ro)))
    det.detect(img)
    np.testing.assert_array_equal(img, before)  # the caller's pixels are never written
    # a read-only memory map
    path = tmp_path / "frame.raw"
    img.tofile(path)
    mm = np.memmap(path, np.uint8, "r", shape=img.shape)
    assert same(det.detect(mm), det.detect(img))
    # bytes-backed read-only array
    fb = np.frombuffer(img.tobytes(), np.uint8).reshape(img.shape)
    assert not fb.flags.writeable
    assert same(det.detect(fb), det.detect(img))


def test_bad_call_values(det, frames):
    img = frames[2]
    for kwargs, exc, match in [
        ({"conf": float("nan")}, ValueError, "conf"),
        ({"iou": float("nan")}, ValueError, "iou"),
        ({"iou": -0.01}, ValueError, "iou"),
        ({"max_det": -1}, ValueError, "max_det"),
        ({"nms": "nope"}, ValueError, "nms"),
        ({"conf": "high"}, TypeError, "conf|float|str"),
    ]:
        with pytest.raises(exc, match=match):
            det.detect(img, **kwargs)
    # extreme but valid: everything is a candidate, nothing is suppressed
    d = det.detect(img, conf=0.0, iou=1.0, max_det=0, max_candidates=100000)
    assert len(d) > 1000
    assert len(det.detect(img, conf=1.0)) == 0
    assert len(det.detect(img, conf=0.0, max_det=1)) == 1


# --- model files ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nanodet_m():
    p, b = model_paths("nanodet_m")
    return p.read_text(), b.read_bytes()


def _load(param: str | bytes, bin_: bytes, **kw):
    return _core.Detector.from_memory(param.encode() if isinstance(param, str) else param, bin_, **kw)


def _edit(text: str, lineno: int, fn) -> str:
    lines = text.splitlines()
    lines[lineno] = fn(lines[lineno])
    return "\n".join(lines) + "\n"


def _tok(line: str, i: int, value: str) -> str:
    t = line.split()
    t[i] = value
    return " ".join(t)


@pytest.mark.parametrize("case, edit, match", [
    ("bottom nobody writes", lambda t: _edit(t, 5, lambda l: _tok(l, 4, "nosuchblob")),
     r"line 6: layer 'splitncnn_0' reads blob 'nosuchblob', which no earlier layer writes"),
    ("blob written twice", lambda t: _edit(t, 6, lambda l: _tok(l, 5, "425")),
     r"line 7: blob '425' is written twice"),
    ("blob count too small", lambda t: _edit(t, 1, lambda l: "153 170"),
     r"more blobs than the 170"),
    ("extra layer line", lambda t: _edit(t, 1, lambda l: "152 178"),
     r"more layer lines than the 152"),
    ("layer count too big", lambda t: _edit(t, 1, lambda l: "154 178"),
     r"truncated"),
    ("negative layer count", lambda t: _edit(t, 1, lambda l: "-1 178"),
     r"layer_count blob_count"),
    ("huge parameter key", lambda t: _edit(t, 3, lambda l: l + " 99999999999999999999=1"),
     r"line 4: parameter key out of range"),
    ("array key out of range", lambda t: _edit(t, 3, lambda l: l + " -23400=1,1"),
     r"parameter key out of range"),
    ("missing '='", lambda t: _edit(t, 3, lambda l: l + " 5"), r"line 4: bad parameter '5'"),
    ("bad bottom count", lambda t: _edit(t, 4, lambda l: _tok(l, 2, "x")), r"line 5: expected"),
    ("huge bottom count", lambda t: _edit(t, 4, lambda l: _tok(l, 2, "99999")), r"line 5: expected"),
    ("crlf line ends + NUL", lambda t: t.replace("\n", "\r\n") + "\0", r"binary"),
    ("utf-16 text", lambda t: t.encode("utf-16"), r"binary|magic"),
    ("huge Input size", lambda t: _edit(t, 2, lambda l: l + " 0=100000 1=100000 2=3"),
     r"Input layer asks for a 100000x100000 input"),
    ("absurd conv width", lambda t: _edit(t, 3, lambda l: l.replace("0=24", "0=2000000000")),
     r"ncnn rejected the param"),
])
def test_damaged_param(nanodet_m, case, edit, match):
    param, bin_ = nanodet_m
    with pytest.raises(ModelError, match=match):
        _load(edit(param), bin_)


def test_huge_input_size_can_be_overridden(nanodet_m):
    param, bin_ = nanodet_m
    text = _edit(param, 2, lambda l: l + " 0=100000 1=100000 2=3")
    d = _load(text, bin_, input_size=320)
    assert d.input_size == (320, 320)


def test_damaged_bin(nanodet_m, frames):
    param, bin_ = nanodet_m
    for cut in (4, 1000, len(bin_) - 4):
        with pytest.raises(ModelError, match="too short"):
            _load(param, bin_[:cut])
    # Same size, other numbers: loads (ncnn cannot tell weights from noise) and must not crash.
    noise = np.random.default_rng(1).integers(0, 256, len(bin_), np.uint8).tobytes()
    try:
        d = _load(param, noise)
    except ModelError as e:  # a garbled fp16 / int8 tag makes ncnn read a different size
        assert "bin" in str(e)
    else:
        d.detect(frames[2])
    nan = b"\xff" * len(bin_)  # all-NaN weights: never a detection, never a crash
    try:
        d = _load(param, nan)
    except ModelError:
        pass
    else:
        assert len(d.detect(frames[2])[0]) == 0


def test_every_model_with_every_other_bin(frames):
    """30 param/bin pairings: a specific ModelError, or (when the other export holds the same
    weights in the same order -- pnnx vs split Plus-m) a working detector. Never a crash: the
    float-param + int8-bin pairs used to segfault inside ncnn."""
    keys = ["nanodet_m", "plus_pnnx", "plus_onnx", "plus_qr", "plus_split", "plus_int8"]
    loaded = []
    for a in keys:
        for b in keys:
            if a == b:
                continue
            try:
                d = nanodet_ncnn.Detector(model_paths(a)[0], model_paths(b)[1], input_size=128)
            except ModelError as e:
                assert re.search("another|too short|int8", str(e)), (a, b, str(e))
            else:
                d.detect(frames[0])
                loaded.append((a, b))
    assert set(loaded) <= {("plus_pnnx", "plus_split"), ("plus_split", "plus_pnnx")}, loaded


def test_path_kinds(tmp_path):
    p, b = model_paths("nanodet_m")
    with pytest.raises(IsADirectoryError):
        nanodet_ncnn.Detector(tmp_path, b)
    with pytest.raises(IsADirectoryError):
        nanodet_ncnn.Detector(p, tmp_path)
    img = tmp_path / "x.param"
    img.write_bytes((IMAGES / "bus.jpg").read_bytes())
    with pytest.raises(ModelError, match="binary|magic"):
        nanodet_ncnn.Detector(img, b)
    with pytest.raises(TypeError):
        _core.Detector.from_memory("text, not bytes", b.read_bytes())


# --- threads -------------------------------------------------------------------------------------

def _hammer(det, frames, n_threads, calls, **kw):
    """n_threads threads x `calls` detect() calls on one detector; returns mismatches vs serial."""
    ref = [det.detect(f, **kw) for f in frames]
    bad: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(n_threads)

    def work(t):
        try:
            start.wait()
            for i in range(calls):
                k = (t + i) % len(frames)
                if not same(det.detect(frames[k], **kw), ref[k]):
                    bad.append(f"thread {t} call {i} frame {k}")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert all(len(r) for r in ref)
    return bad


@pytest.mark.slow
def test_8_threads_x_500_calls_equal_serial(frames):
    p, b = model_paths("nanodet_m")
    det = nanodet_ncnn.Detector(p, b, num_threads=1, input_size=128, conf=0.2)
    bad = _hammer(det, frames, 8, 500)
    assert not bad, f"{len(bad)} of 4000 concurrent results differ from serial, first: {bad[0]}"


def test_threads_equal_serial_quick(frames):
    p, b = model_paths("plus_split")
    det = nanodet_ncnn.Detector(p, b, num_threads=1, input_size=96, conf=0.2)
    assert not _hammer(det, frames, 8, 6)


@pytest.mark.slow
def test_threads_with_multithreaded_detector(frames):
    p, b = model_paths("plus_onnx")
    det = nanodet_ncnn.Detector(p, b, num_threads=2, input_size=160, conf=0.2)
    assert not _hammer(det, frames, 4, 40)


def test_load_and_detect_from_many_threads(frames):
    """Loading is thread-safe too: each thread loads its own detector while others run."""
    keys = ["nanodet_m", "plus_onnx", "plus_split", "plus_qr"]
    results: dict[str, object] = {}
    errors: list[BaseException] = []

    def work(k):
        try:
            d = nanodet_ncnn.Detector(*model_paths(k), num_threads=1, input_size=128)
            results[k] = d.detect(frames[0])
            del d
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    for k in keys:
        serial = nanodet_ncnn.Detector(*model_paths(k), num_threads=1, input_size=128)
        assert same(results[k], serial.detect(frames[0])), k


def test_detector_is_freed_when_idle(frames):
    p, b = model_paths("nanodet_m")
    det = nanodet_ncnn.Detector(p, b, num_threads=1, input_size=64)
    det.detect(frames[0])
    core = weakref.ref(det._core)
    ref = weakref.ref(det)
    del det  # no reference cycles: plain reference counting frees it, no gc pass needed
    assert ref() is None and core() is None
    det = nanodet_ncnn.load("nanodet-m", input_size=64)
    ref = weakref.ref(det)
    del det
    gc.collect()
    assert ref() is None


def test_detector_dropped_while_another_thread_uses_it(frames):
    """The last user-visible reference goes away mid-stream: the worker keeps it alive."""
    p, b = model_paths("nanodet_m")
    det = nanodet_ncnn.Detector(p, b, num_threads=1, input_size=96)
    ref = det.detect(frames[0])
    out: list[bool] = []
    go = threading.Event()

    def worker(d):
        go.wait()
        out.extend(same(d.detect(frames[0]), ref) for _ in range(30))

    t = threading.Thread(target=worker, args=(det,))
    t.start()
    wr = weakref.ref(det)
    del det
    go.set()
    t.join()
    assert out and all(out)
    gc.collect()
    assert wr() is None


def test_close(frames):
    p, b = model_paths("nanodet_m")
    det = nanodet_ncnn.Detector(p, b, num_threads=1, input_size=64)
    det.detect(frames[0])
    det.close()
    det.close()  # idempotent
    with pytest.raises(Exception, match="closed"):
        det.detect(frames[0])
