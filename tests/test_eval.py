"""COCO evaluation: exact values on synthetic data, plausible values on COCO128."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

import nanodet_ncnn
from nanodet_ncnn.detections import Detections
from nanodet_ncnn.evaluate import (GroundTruth, class_mapping, coco_map, evaluate, load_coco_json,
                                   load_yolo)
from conftest import COCO, model_paths


def _gt(n_images=4):
    gt = GroundTruth(["a", "b"])
    for i in range(n_images):
        gt.images.append({"id": i + 1, "path": "", "width": 400, "height": 300})
        gt.boxes.append({"image_id": i + 1, "class_id": i % 2, "iscrowd": 0,
                         "xyxy": [50.0, 60.0, 150.0, 160.0]})
        gt.boxes.append({"image_id": i + 1, "class_id": 0, "iscrowd": 0,
                         "xyxy": [200.0, 100.0, 300.0, 200.0]})
    return gt


def _preds(gt, dx=0.0, score=0.9):
    return [{"image_id": b["image_id"], "class_id": b["class_id"], "score": score,
             "xyxy": [b["xyxy"][0] + dx, b["xyxy"][1], b["xyxy"][2] + dx, b["xyxy"][3]]}
            for b in gt.boxes]


def test_perfect_predictions_score_one():
    gt = _gt()
    r = coco_map(gt, _preds(gt))
    assert r["map"] == pytest.approx(1.0) and r["map50"] == pytest.approx(1.0)
    assert r["per_class"] == {"a": pytest.approx(1.0), "b": pytest.approx(1.0)}


def test_shifted_boxes_give_known_map():
    gt = _gt()
    # a 23-pixel shift of 100-pixel boxes: IoU = 77 / 123 = 0.626, so the match holds at the
    # IoU thresholds .50, .55, .60 and fails at the seven above: mAP = 3 / 10 exactly.
    r = coco_map(gt, _preds(gt, dx=23.0))
    assert r["map"] == pytest.approx(0.3, abs=1e-6)
    assert r["map50"] == pytest.approx(1.0) and r["map75"] == pytest.approx(0.0)


def test_no_predictions_and_extra_low_false_positive():
    gt = _gt()
    assert coco_map(gt, [])["map"] == 0.0
    fp = {"image_id": 1, "class_id": 1, "score": 0.1, "xyxy": [300.0, 0.0, 390.0, 50.0]}
    # a false positive scored below every true positive leaves AP at 1 (precision envelope)
    assert coco_map(gt, _preds(gt) + [fp])["map"] == pytest.approx(1.0)


def _write_synthetic(tmp_path):
    gt = _gt(3)
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "names.yaml").write_text("names:\n  0: a\n  1: b\n")
    coco = {"images": [], "annotations": [], "categories": [{"id": 7, "name": "a"}, {"id": 9, "name": "b"}]}
    for im in gt.images:
        name = f"im{im['id']}.png"
        cv2.imwrite(str(tmp_path / "images" / name), np.full((300, 400, 3), im["id"] * 40, np.uint8))
        lines = []
        for b in gt.boxes:
            if b["image_id"] != im["id"]:
                continue
            x1, y1, x2, y2 = b["xyxy"]
            lines.append(f"{b['class_id']} {(x1 + x2) / 800} {(y1 + y2) / 600} {(x2 - x1) / 400} {(y2 - y1) / 300}")
            coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": im["id"] * 10,
                                        "category_id": 7 if b["class_id"] == 0 else 9,
                                        "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                                        "iscrowd": 0})
        (tmp_path / "labels" / f"im{im['id']}.txt").write_text("\n".join(lines) + "\n")
        coco["images"].append({"id": im["id"] * 10, "file_name": name, "width": 400, "height": 300})
    (tmp_path / "instances.json").write_text(json.dumps(coco))
    return gt


def test_yolo_and_coco_json_loaders_agree(tmp_path):
    gt = _write_synthetic(tmp_path)
    y = load_yolo(tmp_path)
    c = load_coco_json(tmp_path / "instances.json")
    assert y.names == c.names == ["a", "b"]
    assert len(y.images) == len(c.images) == 3 and len(y.boxes) == len(c.boxes) == len(gt.boxes)
    for a, b in zip(sorted(y.boxes, key=lambda b: (b["image_id"], b["xyxy"])),
                    sorted(c.boxes, key=lambda b: (b["image_id"], b["xyxy"]))):
        assert a["class_id"] == b["class_id"]
        np.testing.assert_allclose(a["xyxy"], b["xyxy"], atol=1e-3)


def test_evaluate_runs_the_model_over_the_dataset(tmp_path):
    """evaluate() with a model whose detect() returns the labels: mAP 1 via both formats."""
    gt = _write_synthetic(tmp_path)
    by_value = {}
    for im in gt.images:
        by_value[im["id"] * 40] = [b for b in gt.boxes if b["image_id"] == im["id"]]

    class LabelModel:
        names = ["a", "b"]

        def detect(self, img, **kw):
            boxes = by_value[int(img[0, 0, 0])]
            return Detections([b["xyxy"] for b in boxes], [0.9] * len(boxes),
                              [b["class_id"] for b in boxes], self.names, {"total": 1.0})

    for data in (tmp_path, tmp_path / "instances.json"):
        r = evaluate(LabelModel(), data, progress=False)
        assert r["map"] == pytest.approx(1.0) and r["images"] == 3


def test_class_mapping():
    assert class_mapping(["a", "b"], ["a", "b"]) == [0, 1]
    assert class_mapping(["b", "a", "z"], ["a", "b"]) == [1, 0, -1]
    assert class_mapping(["x", "y"], ["a", "b"]) == [0, 1]
    with pytest.raises(ValueError):
        class_mapping(["x", "y", "z"], ["a", "b"])


def test_coco128_map_is_plausible_and_cli_agrees(tmp_path):
    model = nanodet_ncnn.load("nanodet-plus-m-416", num_threads=2)
    r = evaluate(model, COCO, progress=False)
    # NanoDet-Plus-m 416 scores 30.4 mAP on COCO val2017; these 128 images land near it.
    assert 0.25 < r["map"] < 0.5 and r["map50"] > r["map"] + 0.05
    assert r["images"] == 128 and r["boxes"] == 898 and len(r["per_class"]) > 50
    out = tmp_path / "r.json"
    p = subprocess.run([sys.executable, "-m", "nanodet_ncnn", "eval", "--model", "nanodet-plus-m-416",
                        "--data", str(COCO), "--json", "--save-json", str(out), "--threads", "2"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    cli = json.loads(out.read_text())
    assert cli["map"] == pytest.approx(r["map"], abs=1e-9)


def _wheel_cls8(data: np.ndarray, fp16: bool) -> np.ndarray:
    import ncnn

    p, b = model_paths("plus_split")
    net = ncnn.Net()
    o = net.opt
    o.use_vulkan_compute = False
    o.use_fp16_packed = o.use_fp16_storage = o.use_fp16_arithmetic = fp16
    assert net.load_param(str(p)) == 0 and net.load_model(str(b)) == 0
    with net.create_extractor() as ex:
        ex.input("data", ncnn.Mat(data).clone())
        rc, m = ex.extract("cls8")
        assert rc == 0
        return np.array(m)


@pytest.mark.needs_ncnn_wheel
def test_fp16_is_applied(bus):
    """precision="fp16" reaches ncnn: where the ncnn wheel's fp16 output differs from its fp32
    output on this CPU (ARMv8.2+), ours must differ too and agree with the wheel's fp16; where
    ncnn has no fp16 path for these layers (x86 here) both must be bit-identical to fp32."""
    ours = {p: nanodet_ncnn.load("nanodet-plus-m-416", precision=p, num_threads=1)
            .extract_blobs(bus, ["data", "cls8"]) for p in ("fp32", "fp16")}
    data = ours["fp32"]["data"]
    np.testing.assert_array_equal(ours["fp16"]["data"], data)
    w32, w16 = _wheel_cls8(data, False), _wheel_cls8(data, True)
    np.testing.assert_allclose(ours["fp32"]["cls8"], w32, atol=1e-4)
    if np.array_equal(w16, w32):
        np.testing.assert_array_equal(ours["fp16"]["cls8"], ours["fp32"]["cls8"])
    else:
        assert not np.array_equal(ours["fp16"]["cls8"], ours["fp32"]["cls8"]), "fp16 ignored"
        np.testing.assert_allclose(ours["fp16"]["cls8"], w16, atol=2e-2)


def test_precision_switch(bus):
    fp32 = nanodet_ncnn.load("nanodet-plus-m-416", precision="fp32").detect(bus)
    fp16 = nanodet_ncnn.load("nanodet-plus-m-416", precision="fp16").detect(bus)
    from conftest import assert_same_detections

    assert_same_detections((fp32.xyxy, fp32.scores, fp32.class_ids),
                           (fp16.xyxy, fp16.scores, fp16.class_ids), conf=0.35,
                           box_iou=0.95, score_tol=0.02)
    with pytest.raises(nanodet_ncnn.ModelError, match="INT8-quantized"):
        nanodet_ncnn.load("nanodet-plus-m-416", precision="int8")
    q = nanodet_ncnn.load("nanodet-plus-m-416-int8", precision="int8")
    assert q.quantized and not nanodet_ncnn.load("nanodet-plus-m-416").quantized
    d = q.detect(bus, conf=0.4)
    assert "bus" in d.class_names and d.class_names.count("person") >= 3
