from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

import nanodet_ncnn
from conftest import IMAGES, model_paths
from nanodet_ncnn import COCO_NAMES, cli
from nanodet_ncnn.cli import _load, build_parser
from nanodet_ncnn.errors import NanodetRuntimeError
from nanodet_ncnn.zoo import MODELS
from qr_images import qr_scene


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


@pytest.mark.parametrize("name", sorted(MODELS))
def test_cli_load_uses_zoo_names_and_size(name):
    """`--model NAME` without --labels / --input-size gets the zoo entry's names and size
    (the parser's None defaults must not override them)."""
    entry = MODELS[name]
    model = _load(build_parser().parse_args(["detect", "x.jpg", "--model", name]))
    assert model.names == list(entry.names or COCO_NAMES)
    assert model.input_size == (entry.input_size, entry.input_size)
    assert model.num_classes == entry.num_classes == len(model.names)


def test_cli_labels_qr_codes_by_name(tmp_path):
    img, box = qr_scene(cv2.imread(str(IMAGES / "zidane.jpg")), 1)
    cv2.imwrite(str(tmp_path / "qr.jpg"), img)
    r = run("detect", tmp_path / "qr.jpg", "--model", "nanodet-plus-qr-416", "--json")
    assert r.returncode == 0, r.stderr
    dets = json.loads(r.stdout)["detections"]
    assert dets and {d["name"] for d in dets} == {"QR code"}
    x1, y1, x2, y2 = dets[0]["box"]
    assert box[0] <= x1 < x2 <= box[2] and box[1] <= y1 < y2 <= box[3]


@pytest.mark.parametrize("exc", [FileNotFoundError("image not found: a.jpg"),
                                 ValueError("conf must be within [0, 1]"),
                                 nanodet_ncnn.ModelError("bad magic number"),
                                 nanodet_ncnn.ModelNotFoundError("model 'x' is not available"),
                                 NanodetRuntimeError("pnnx failed")])
def test_user_errors_are_one_line(monkeypatch, capsys, exc):
    def boom(args):
        raise exc

    monkeypatch.setattr(cli, "cmd_models", boom)
    assert cli.main(["models"]) == 2
    err = capsys.readouterr().err
    assert err == f"nanodet-ncnn: error: {exc}\n"


@pytest.mark.parametrize("exc", [TypeError("unsupported operand"), KeyError("total"),
                                 RuntimeError("internal invariant"), AttributeError("x")])
def test_bugs_keep_their_traceback(monkeypatch, exc):
    def boom(args):
        raise exc

    monkeypatch.setattr(cli, "cmd_models", boom)
    with pytest.raises(type(exc)):
        cli.main(["models"])


def test_bug_traceback_through_the_entry_point(tmp_path):
    # a real process: a non-user error exits 1 with Python's traceback, not exit 2 + one line
    code = ("import sys, nanodet_ncnn.cli as c\n"
            "c.cmd_models = lambda a: {}['missing']\n"
            "sys.exit(c.main(['models']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "Traceback" in r.stderr and "KeyError" in r.stderr
