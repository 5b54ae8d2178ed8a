"""nanodet_ncnn against the independent oracle (ncnn PyPI wheel + numpy decode)."""
from __future__ import annotations

import cv2
import pytest

import nanodet_ncnn
from conftest import (EMULATED, MODELS, assert_same_detections, coco_images, model_paths, shared_images,
                      unmatched_detections)
from oracle import SPECS, Oracle
from qr_images import PLACEMENTS, qr_scene

CONF = 0.35
# The INT8 graph matches the wheel to ~1e-8 on most boxes, but a requantization rounding that
# lands on the other side of .5 (different compiler / FMA contraction between the two ncnn builds)
# moves an occasional score by up to ~0.02 and a box edge by several pixels (COCO128: median
# score difference 3e-8, 99th percentile 0.011). Its decode path is the one plus_split checks
# strictly; for INT8 we require 97% of the detections to meet a looser twin test.
INT8 = "plus_int8"
# every test here compares with the ncnn wheel (oracle.Oracle)
pytestmark = pytest.mark.needs_ncnn_wheel

INT8_TOL = dict(score_tol=0.03, box_iou=0.9)
INT8_MIN_MATCHED = 0.97


@pytest.fixture(scope="module", params=sorted(SPECS))
def pair(request):
    key = request.param
    param, bin_ = model_paths(key)
    ours = nanodet_ncnn.Detector(param, bin_, num_threads=1, precision="fp32")
    return key, ours, Oracle(MODELS, SPECS[key])


def _compare_many(key, ours, oracle, paths, mode="letterbox", conf=CONF):
    """Compares every image; returns the oracle's detection count."""
    total = checked = 0
    problems: list[str] = []
    for path in paths:
        img = cv2.imread(str(path))
        ref = oracle.detect(img, conf=conf, mode=mode)
        got = ours.detect(img, conf=conf)
        pair = ((got.xyxy, got.scores, got.class_ids), ref)
        what = f"{key} {mode} {path.name}"
        if key == INT8:
            p, n = unmatched_detections(*pair, conf=conf, what=what, **INT8_TOL)
            problems += p
            checked += n
        else:
            assert_same_detections(*pair, conf=conf, what=what)
        total += len(ref[0])
    if key == INT8:
        assert len(problems) <= (1 - INT8_MIN_MATCHED) * checked, problems[:5]
    return total


def test_layout_inferred(pair):
    key, ours, _ = pair
    spec = SPECS[key]
    assert ours.num_classes == spec.num_classes
    assert ours.reg_max == 7
    assert ours.strides == list(spec.strides)
    assert ours.input_size == (spec.size, spec.size)
    assert ours._core.cls_sigmoid == spec.sigmoid_applied
    assert ours._core.center_offset == pytest.approx(spec.center_offset)


def test_parity_shared_images(pair):
    key, ours, oracle = pair
    total = _compare_many(key, ours, oracle, shared_images())
    if SPECS[key].num_classes == 80:
        assert total > (3 if EMULATED else 10)  # the comparison compared something (QR codes: test_parity_qr_codes)


@pytest.mark.slow
def test_parity_coco128(pair):
    key, ours, oracle = pair
    total = _compare_many(key, ours, oracle, coco_images())
    if SPECS[key].num_classes == 80:
        assert total > 200


@pytest.mark.parametrize("mode", ["dynamic", "stretch"])
@pytest.mark.parametrize("key", ["nanodet_m", "plus_pnnx", "plus_split"])
def test_parity_resize_modes(key, mode):
    param, bin_ = model_paths(key)
    ours = nanodet_ncnn.Detector(param, bin_, num_threads=1, precision="fp32", resize=mode)
    oracle = Oracle(MODELS, SPECS[key])
    for path in shared_images():
        img = cv2.imread(str(path))
        got = ours.detect(img, conf=CONF)
        h, w = img.shape[:2]
        if mode == "dynamic":
            assert max(got.input_size) == SPECS[key].size
            assert all(v % 32 == 0 for v in got.input_size)
        ref = oracle.detect(img, conf=CONF, mode=mode)
        assert_same_detections((got.xyxy, got.scores, got.class_ids), ref, conf=CONF,
                               what=f"{key} {mode} {path.name}")


def test_parity_low_threshold_agnostic(bus):
    param, bin_ = model_paths("plus_onnx")
    ours = nanodet_ncnn.Detector(param, bin_, num_threads=1, precision="fp32")
    oracle = Oracle(MODELS, SPECS["plus_onnx"])
    got = ours.detect(bus, conf=0.1, nms="agnostic", iou=0.5)
    ref = oracle.detect(bus, conf=0.1, agnostic=True, iou=0.5)
    assert len(ref[0]) >= 5
    assert_same_detections((got.xyxy, got.scores, got.class_ids), ref, conf=0.1, nms_iou=0.5,
                           what="agnostic")


def test_parity_qr_codes():
    """The 1-class QR model on real QR codes (generated, pasted at several sizes and angles):
    it must find each one, and agree with the oracle detection for detection."""
    key = "plus_qr"
    param, bin_ = model_paths(key)
    ours = nanodet_ncnn.Detector(param, bin_, num_threads=1, precision="fp32")
    oracle = Oracle(MODELS, SPECS[key])
    found = 0
    photos = shared_images()[:4]
    for path in photos:
        photo = cv2.imread(str(path))
        for k in range(len(PLACEMENTS)):
            img, (x1, y1, x2, y2) = qr_scene(photo, k)
            ref = oracle.detect(img, conf=CONF)
            got = ours.detect(img, conf=CONF)
            assert_same_detections((got.xyxy, got.scores, got.class_ids), ref, conf=CONF,
                                   what=f"{key} {path.name} qr {k}")
            inside = [b for b, s in zip(got.xyxy, got.scores) if s > 0.6 and b[0] >= x1 - 2
                      and b[1] >= y1 - 2 and b[2] <= x2 + 2 and b[3] <= y2 + 2]
            assert inside, f"QR code {k} on {path.name} not found: {got.xyxy.tolist()}"
            found += 1
    assert found == len(photos) * len(PLACEMENTS)
