"""Behaviour on real photos and real models through the public Python API."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import nanodet_ncnn
from conftest import IMAGES, assert_same_detections, model_paths


@pytest.fixture(scope="module")
def plus():
    return nanodet_ncnn.load("nanodet-plus-m-416", num_threads=1)


def test_bus_finds_bus_and_people(plus, bus):
    dets = plus.detect(bus, conf=0.4)
    names = dets.class_names
    assert "bus" in names
    assert names.count("person") >= 3
    # the bus spans most of the image width
    b = dets.xyxy[names.index("bus")]
    assert b[2] - b[0] > 0.8 * bus.shape[1]


@pytest.mark.parametrize("name", ["nanodet-plus-m-416", "nanodet-m"])
@pytest.mark.parametrize("resize", ["letterbox", "dynamic"])
def test_zidane_two_people(name, resize, zidane):
    # Above 0.5 only the two players; NanoDet-Plus also sees a cut-off figure at the left
    # border with 0.40, which is why the threshold is not the default.
    dets = nanodet_ncnn.load(name, resize=resize).detect(zidane, conf=0.5)
    assert dets.class_names.count("person") == 2
    centres = sorted(((b[0] + b[2]) / 2) for b in dets.xyxy[dets.class_ids == 0])
    assert centres[0] < 640 < centres[1]  # one on each half of the frame


def test_path_and_array_agree(plus, bus):
    a = plus.detect(bus)
    b = plus.detect(str(IMAGES / "bus.jpg"))
    np.testing.assert_array_equal(a.xyxy, b.xyxy)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_boxes_inside_image_and_sorted(plus, zidane):
    dets = plus.detect(zidane, conf=0.05)
    h, w = zidane.shape[:2]
    assert len(dets) > 5
    assert (dets.xyxy[:, [0, 2]] >= 0).all() and (dets.xyxy[:, [0, 2]] <= w).all()
    assert (dets.xyxy[:, [1, 3]] >= 0).all() and (dets.xyxy[:, [1, 3]] <= h).all()
    assert (np.diff(dets.scores) <= 0).all()
    assert (dets.scores > 0.05).all()


@pytest.mark.parametrize("img_name", ["bus.jpg", "zidane.jpg", "astronaut.png"])
def test_three_plus_exports_agree(img_name):
    import cv2

    img = cv2.imread(str(IMAGES / img_name))
    results = {}
    for key in ("plus_onnx", "plus_pnnx", "plus_split"):
        p, b = model_paths(key)
        d = nanodet_ncnn.Detector(p, b, num_threads=1, precision="fp32").detect(img, conf=0.3)
        results[key] = (d.xyxy, d.scores, d.class_ids)
    assert len(results["plus_onnx"][0]) > 0
    for key in ("plus_pnnx", "plus_split"):
        assert_same_detections(results["plus_onnx"], results[key], conf=0.3, what=key)


def test_custom_one_class_model(zidane):
    qr = nanodet_ncnn.load("nanodet-plus-qr-416")
    assert qr.num_classes == 1
    assert qr.names == ["QR code"]
    p, b = model_paths("plus_qr")
    plain = nanodet_ncnn.Detector(p, b)
    assert plain.num_classes == 1 and plain.names == ["class0"]
    dets = plain.detect(zidane, conf=0.01)
    assert set(dets.class_ids.tolist()) <= {0}


def test_legacy_model_family(bus):
    m = nanodet_ncnn.load("nanodet-m")
    assert m.family == "nanodet" and m.strides == [8, 16, 32] and m.input_size == (320, 320)
    dets = m.detect(bus, conf=0.4)
    assert "bus" in dets.class_names and dets.class_names.count("person") >= 3


def test_nms_modes(plus, bus):
    per_class = plus.detect(bus, conf=0.2, nms="class")
    agnostic = plus.detect(bus, conf=0.2, nms="agnostic")
    multi = plus.detect(bus, conf=0.2, nms="multilabel")
    assert len(agnostic) <= len(per_class) <= len(multi)
    # agnostic: no two kept boxes overlap above the IoU threshold, whatever their class
    from oracle import iou_matrix

    ious = iou_matrix(agnostic.xyxy.astype(float), agnostic.xyxy.astype(float))
    np.fill_diagonal(ious, 0)
    assert ious.max() <= 0.6
    assert len(plus.detect(bus, conf=0.2, max_det=2)) == 2
    # max_det=0 is unlimited: as many as a huge limit, more than the default 100
    unlimited = plus.detect(bus, conf=0.01, max_det=0)
    assert len(unlimited) > 100 and len(plus.detect(bus, conf=0.01)) == 100
    np.testing.assert_array_equal(unlimited.scores, plus.detect(bus, conf=0.01, max_det=10**6).scores)
    assert len(plus.detect(bus, conf=0.99)) == 0


def test_rgb_and_gray_and_bgra(plus, bus):
    ref = plus.detect(bus)
    rgb = plus.detect(np.ascontiguousarray(bus[:, :, ::-1]), pixel_format="rgb")
    np.testing.assert_allclose(rgb.xyxy, ref.xyxy, atol=1e-3)
    bgra = np.dstack([bus, np.full(bus.shape[:2], 255, np.uint8)])
    np.testing.assert_allclose(plus.detect(bgra).xyxy, ref.xyxy, atol=1e-3)
    gray = bus.mean(2).astype(np.uint8)
    on_gray = plus.detect(gray)  # a 1-channel image is the grey image in all three channels
    assert len(on_gray) >= 3
    as_bgr = plus.detect(np.dstack([gray] * 3))
    np.testing.assert_allclose(on_gray.xyxy, as_bgr.xyxy, atol=1e-3)
    np.testing.assert_allclose(on_gray.scores, as_bgr.scores, atol=1e-5)
    np.testing.assert_array_equal(on_gray.class_ids, as_bgr.class_ids)


def test_non_contiguous_views(plus, bus):
    ref = plus.detect(np.ascontiguousarray(bus[::2, ::2]))
    got = plus.detect(bus[::2, ::2])  # strided view: converted, same result
    np.testing.assert_array_equal(got.xyxy, ref.xyxy)
    crop = bus[100:700, 50:750]  # row-padded view: read in place
    np.testing.assert_array_equal(plus.detect(crop).xyxy, plus.detect(crop.copy()).xyxy)
    flipped = bus[:, ::-1]
    np.testing.assert_array_equal(plus.detect(flipped).xyxy,
                                  plus.detect(np.ascontiguousarray(flipped)).xyxy)


def test_threads_match_serial(bus, zidane):
    det = nanodet_ncnn.load("nanodet-plus-m-416-onnx", num_threads=1)
    imgs = [bus, zidane, bus[:, :500].copy(), zidane[100:].copy()]
    serial = [det.detect(im, conf=0.2) for im in imgs]
    errors: list[str] = []

    def worker(k: int):
        for r in range(6):
            i = (k + r) % len(imgs)
            d = det.detect(imgs[i], conf=0.2)
            if not (np.array_equal(d.xyxy, serial[i].xyxy) and np.array_equal(d.scores, serial[i].scores)):
                errors.append(f"thread {k} round {r} image {i}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_multithreaded_inference_same_result(bus):
    one = nanodet_ncnn.load("nanodet-m", num_threads=1, precision="fp32").detect(bus)
    two = nanodet_ncnn.load("nanodet-m", num_threads=2, precision="fp32").detect(bus)
    assert_same_detections((one.xyxy, one.scores, one.class_ids),
                           (two.xyxy, two.scores, two.class_ids), conf=0.35)


def test_detections_object(plus, bus):
    dets = plus.detect(bus, conf=0.4)
    assert len(dets) == len(list(dets))
    first = dets[0]
    assert first.name == dets.names[first.class_id] and first.score == dets.scores[0]
    mask = dets.scores > 0.7
    assert 0 < mask.sum() < len(dets)
    for sub in (dets[mask], dets[1:3], dets[np.array([2, 0])]):
        assert isinstance(sub, nanodet_ncnn.Detections)
        assert sub.times == dets.times and sub.input_size == dets.input_size == (416, 416)
    np.testing.assert_array_equal(dets[mask].scores, dets.scores[mask])
    np.testing.assert_array_equal(dets[np.array([2, 0])].xyxy, dets.xyxy[[2, 0]])
    assert dets.xyxy.dtype == np.float32 and dets.class_ids.dtype == np.int32
    import json

    d = json.loads(dets.to_json())
    assert len(d["detections"]) == len(dets) and d["detections"][0]["name"] == first.name
    assert {"preprocess", "inference", "decode", "nms", "total"} <= set(dets.times)
    assert "person" in repr(dets)


def test_input_size_option(bus):
    small = nanodet_ncnn.load("nanodet-plus-m-416", input_size=320)
    assert small.input_size == (320, 320)
    d = small.detect(bus)
    assert d.input_size == (320, 320) and "bus" in d.class_names
    wide = nanodet_ncnn.load("nanodet-plus-m-416", input_size=(480, 320), resize="stretch")
    assert wide.detect(bus).input_size == (480, 320)


def test_fixed_shape_export(tmp_path, bus):
    """An export whose Reshape layers spell out the 416x416 anchor counts (no -1) only runs at
    its own size: it is probed there, detects like the dynamic export, and refuses 'dynamic'."""
    import re

    p, b = model_paths("plus_onnx")
    counts = iter([52 * 52, 26 * 26, 13 * 13, 7 * 7])
    text = re.sub(r"0=-1 1=112", lambda m: f"0={next(counts)} 1=112", p.read_text())
    (tmp_path / "fixed.param").write_text(text)
    fixed = nanodet_ncnn.Detector(tmp_path / "fixed.param", b)
    assert fixed.input_size == (416, 416) and fixed.num_classes == 80
    ref = nanodet_ncnn.Detector(p, b).detect(bus)
    got = fixed.detect(bus)
    np.testing.assert_array_equal(got.xyxy, ref.xyxy)
    with pytest.raises(nanodet_ncnn.ModelError, match="only runs at 416x416"):
        nanodet_ncnn.Detector(tmp_path / "fixed.param", b, resize="dynamic")
    with pytest.raises(nanodet_ncnn.ModelError, match="only runs at 416x416"):
        nanodet_ncnn.Detector(tmp_path / "fixed.param", b, input_size=320)
