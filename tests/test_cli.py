from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np

from conftest import IMAGES, model_paths


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nanodet_ncnn", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_detect_prints_and_saves(tmp_path):
    r = run("detect", IMAGES / "bus.jpg", "--out", tmp_path, "--conf", "0.4")
    assert r.returncode == 0, r.stderr
    assert "bus" in r.stdout and r.stdout.count("person") >= 3
    out = cv2.imread(str(tmp_path / "bus.jpg"))
    src = cv2.imread(str(IMAGES / "bus.jpg"))
    assert out is not None and out.shape == src.shape
    assert np.abs(out.astype(int) - src).sum() > 0  # boxes were drawn


def test_detect_json_with_param_path_and_folder(tmp_path):
    p, _ = model_paths("nanodet_m")
    r = run("detect", IMAGES, "--model", p, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert len(report) == len([q for q in IMAGES.iterdir() if q.suffix in (".jpg", ".png")])
    bus = next(e for e in report if e["path"].endswith("bus.jpg"))
    assert any(d["name"] == "bus" for d in bus["detections"])


def test_models_lists_zoo():
    r = run("models", "--json")
    assert r.returncode == 0
    names = [m["name"] for m in json.loads(r.stdout)]
    assert "nanodet-plus-m-416" in names and "nanodet-m" in names


def test_error_exit_codes(tmp_path):
    r = run("detect", tmp_path / "missing.jpg")
    assert r.returncode == 2 and "image not found" in r.stderr
    r = run("detect", IMAGES / "bus.jpg", "--model", "no-such-model")
    assert r.returncode == 2 and "neither a known model name" in r.stderr
    (tmp_path / "bad.param").write_text("garbage")
    (tmp_path / "bad.bin").write_bytes(b"\0" * 16)
    r = run("detect", IMAGES / "bus.jpg", "--model", tmp_path / "bad.param")
    assert r.returncode == 2 and "magic number" in r.stderr
    r = run("frobnicate")
    assert r.returncode == 2
    assert run("--help").returncode == 0


def test_eval_errors(tmp_path):
    r = run("eval", "--data", tmp_path / "nope")
    assert r.returncode == 2 and "dataset not found" in r.stderr
