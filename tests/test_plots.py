"""`eval --plots` and `bench --plot`: PNG files that decode, showing exactly the numbers of the
JSON report; the confusion matrix and PR curves on hand-made data with known answers."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import COCO, IMAGES
from nanodet_ncnn.evaluate import GroundTruth, coco_map, confusion_matrix, load_yolo
from nanodet_ncnn.plots import plot_confusion_matrix, plot_latency, plot_pr_curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(*args):
    return subprocess.run([sys.executable, "-m", "nanodet_ncnn", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_MAGIC, path
    img = cv2.imread(str(path))
    assert img is not None and img.shape[0] > 100 and img.shape[1] > 100
    assert img.std() > 5  # something was drawn


def _box(x, y, s=100.0):
    return [x, y, x + s, y + s]


def test_confusion_matrix_known_counts():
    gt = GroundTruth(["cat", "dog"])
    gt.images = [{"id": 1, "path": "", "width": 500, "height": 500}]
    gt.boxes = [{"image_id": 1, "class_id": 0, "xyxy": _box(0, 0)},      # found as cat
                {"image_id": 1, "class_id": 0, "xyxy": _box(200, 0)},    # found as dog
                {"image_id": 1, "class_id": 1, "xyxy": _box(0, 300)}]    # missed
    preds = [{"image_id": 1, "class_id": 0, "score": 0.9, "xyxy": _box(5, 5)},
             {"image_id": 1, "class_id": 1, "score": 0.8, "xyxy": _box(200, 5)},
             {"image_id": 1, "class_id": 1, "score": 0.7, "xyxy": _box(400, 400)},  # false
             {"image_id": 1, "class_id": 0, "score": 0.1, "xyxy": _box(0, 300)}]    # below conf
    cm = confusion_matrix(gt, preds, conf=0.25, iou=0.5)
    assert cm["names"] == ["cat", "dog", "background"]
    #            true: cat dog bg
    assert cm["matrix"] == [[1, 0, 0],    # predicted cat
                            [1, 0, 1],    # predicted dog
                            [0, 1, 0]]    # background (missed)


def test_pr_curve_of_a_known_ranking():
    gt = GroundTruth(["a"])
    gt.images = [{"id": 1, "path": "", "width": 500, "height": 500}]
    gt.boxes = [{"image_id": 1, "class_id": 0, "xyxy": _box(0, 0)},
                {"image_id": 1, "class_id": 0, "xyxy": _box(300, 300)}]
    # ranked: a hit, a false positive, a hit -> precision 1 up to recall 0.5, 2/3 to recall 1
    preds = [{"image_id": 1, "class_id": 0, "score": 0.9, "xyxy": _box(0, 0)},
             {"image_id": 1, "class_id": 0, "score": 0.8, "xyxy": _box(150, 0)},
             {"image_id": 1, "class_id": 0, "score": 0.7, "xyxy": _box(300, 300)}]
    r = coco_map(gt, preds, curves=True)
    recall = np.array(r["pr_curve"]["recall"])
    prec = np.array(r["pr_curve"]["per_class"]["a"])
    np.testing.assert_allclose(prec[recall <= 0.5], 1.0)
    np.testing.assert_allclose(prec[recall > 0.5], 2 / 3)
    assert r["pr_curve"]["mean"] == r["pr_curve"]["per_class"]["a"]
    assert np.mean(prec) == pytest.approx(r["map50"])


def test_eval_plots_match_the_json_report(tmp_path):
    report, plots = tmp_path / "eval.json", tmp_path / "plots"
    r = run("eval", "--model", "nanodet-m", "--data", COCO, "--limit", "12", "--plots", plots,
            "--save-json", report)
    assert r.returncode == 0, r.stderr
    for name in ("PR_curve.png", "confusion_matrix.png"):
        assert_png(plots / name)
    res = json.loads(report.read_text())
    # the curves: one per class present, their mean, consistent with pycocotools' mAP@0.5
    pr = res["pr_curve"]
    curves = np.array(list(pr["per_class"].values()))
    np.testing.assert_allclose(pr["mean"], curves.mean(0), atol=1e-12)
    assert float(np.mean(pr["mean"])) == pytest.approx(res["map50"], abs=1e-9)
    # the matrix: each true class column sums to that class's box count in the labels
    gt = load_yolo(COCO)
    keep = {im["id"] for im in gt.images[:12]}
    cm = np.array(res["confusion"]["matrix"])
    true_counts = np.bincount([b["class_id"] for b in gt.boxes if b["image_id"] in keep],
                              minlength=len(gt.names))
    np.testing.assert_array_equal(cm[:, :-1].sum(0), true_counts)
    assert np.trace(cm[:-1, :-1]) > 0.3 * true_counts.sum()  # the model finds many objects
    # what the plot functions draw is exactly the report's data
    drawn = plot_pr_curves(res, tmp_path / "pr.png")
    assert drawn["per_class"] == pr["per_class"] and drawn["mean"] == pr["mean"]
    assert drawn["recall"] == pr["recall"]
    np.testing.assert_array_equal(plot_confusion_matrix(res, tmp_path / "cm.png"), cm)


def test_bench_plot_side_by_side(tmp_path):
    report, png = tmp_path / "bench.json", tmp_path / "latency.png"
    r = run("bench", "--model", "nanodet-m", "--image", IMAGES / "bus.jpg", "--loops", "3",
            "--warmup", "1", "--threads", "1", "2", "--python", "--json", report, "--plot", png)
    assert r.returncode == 0, r.stderr
    assert_png(png)
    runs = json.loads(report.read_text())
    assert [x["threads"] for x in runs] == [1, 2]
    drawn = plot_latency(runs, tmp_path / "again.png")
    assert list(drawn) == ["1 thr, auto", "2 thr, auto"]
    for run_, (label, medians) in zip(runs, drawn.items()):
        assert medians == {k: v["median"] for k, v in run_["stages_ms"].items()}


def test_plot_errors(tmp_path):
    with pytest.raises(ValueError, match="curves=True"):
        plot_pr_curves({"map50": 0.0}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="no benchmark reports"):
        plot_latency([], tmp_path / "x.png")
