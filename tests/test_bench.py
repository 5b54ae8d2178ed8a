"""bench_arm (installed on PATH by the wheel) and `nanodet-ncnn bench`: image formats, latency
and --workers throughput modes, and the one JSON schema both write (docs/arm.md)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from nanodet_ncnn import _core
from nanodet_ncnn.bench import SCHEMA, find_bench_arm
from conftest import EMULATED, IMAGES, model_paths

TIMEOUT = 900 if EMULATED else 300  # a forward pass under qemu takes seconds

TOP_KEYS = {"schema", "runner", "model", "image", "image_size", "input_size", "resize",
            "precision", "precision_used", "precision_detail", "mode", "stage", "threads", "workers", "cores", "cores_used", "loops",
            "warmup", "detections", "cpu", "ncnn_version", "kernels", "load_ms", "stages_ms",
            "throughput"}
STAGE_KEYS = {"preprocess", "inference", "decode", "nms", "total", "wall"}
THROUGHPUT_KEYS = {"frames", "wall_s", "fps", "per_worker"}


@pytest.fixture(scope="module")
def bench_arm() -> str:
    exe = find_bench_arm()
    assert exe, "bench_arm is not installed beside the Python scripts (the wheel installs it)"
    return exe


def run_bench_arm(exe, *args):
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=TIMEOUT)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "nanodet_ncnn", "bench", *map(str, args)],
                          capture_output=True, text=True, timeout=TIMEOUT)


def check_schema(d: dict, *, runner: str, mode: str, workers: int, loops: int):
    assert set(d) == TOP_KEYS
    assert d["schema"] == SCHEMA and d["runner"] == runner and d["mode"] == mode
    assert d["workers"] == workers and d["loops"] == loops
    assert d["ncnn_version"] == _core.ncnn_version() and d["kernels"] == _core.kernels()
    assert d["cores"] == "all" and d["cores_used"] == "all"
    assert set(d["stages_ms"]) == STAGE_KEYS
    for v in d["stages_ms"].values():
        assert set(v) == {"min", "median", "max"} and 0 <= v["min"] <= v["median"] <= v["max"]
    assert d["stages_ms"]["inference"]["median"] > d["stages_ms"]["decode"]["median"]
    for k in ("image_size", "input_size"):
        assert len(d[k]) == 2 and all(isinstance(x, int) and x > 0 for x in d[k])
    if mode == "latency":
        assert d["throughput"] is None
    else:
        t = d["throughput"]
        assert set(t) == THROUGHPUT_KEYS and t["frames"] == loops
        assert t["fps"] == pytest.approx(loops / t["wall_s"], rel=1e-3)


def serial_detections(path: Path, threads: int = 1) -> int:
    param, bin_ = model_paths("nanodet_m")
    det = _core.Detector(str(param), str(bin_), num_threads=threads)
    return len(det.detect(cv2.imread(str(path)))[1])


def test_bench_arm_reads_png_and_ppm_like_the_python_decoder(bench_arm, tmp_path):
    # same pixels in three containers: cv2's decode of bus.jpg written as PNG and as PPM
    img = cv2.imread(str(IMAGES / "bus.jpg"))
    png, ppm = tmp_path / "bus.png", tmp_path / "bus.ppm"
    cv2.imwrite(str(png), img)
    cv2.imwrite(str(ppm), img)
    param, _ = model_paths("nanodet_m")
    want = serial_detections(png)
    assert want >= 4  # people and a bus
    for path in (png, ppm):
        out = tmp_path / (path.suffix[1:] + ".json")
        r = run_bench_arm(bench_arm, "--model", param, "--image", path, "--loops", 1,
                          "--warmup", 0, "--threads", 1, "--json", out, "--quiet")
        assert r.returncode == 0, r.stderr
        d = json.loads(out.read_text())
        assert d["image_size"] == [img.shape[1], img.shape[0]]
        assert d["detections"] == want, path


def test_bench_arm_reads_jpeg(bench_arm, tmp_path):
    out = tmp_path / "j.json"
    param, _ = model_paths("nanodet_m")
    r = run_bench_arm(bench_arm, "--model", param, "--image", IMAGES / "bus.jpg", "--loops", 2,
                      "--warmup", 0, "--threads", 1, "--json", out)
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    check_schema(d, runner="bench_arm", mode="latency", workers=1, loops=2)
    assert d["image_size"] == [810, 1080] and d["input_size"] == [320, 320]
    # stb_image and libjpeg may round a few pixels differently: same scene, similar count
    assert abs(d["detections"] - serial_detections(IMAGES / "bus.jpg")) <= 1


def test_bench_arm_rejects_what_it_cannot_decode(bench_arm, tmp_path):
    param, _ = model_paths("nanodet_m")
    bad = tmp_path / "image.jpg"  # the name says JPEG, the content does not
    bad.write_text("not an image")
    r = run_bench_arm(bench_arm, "--model", param, "--image", bad)
    assert r.returncode == 3 and "not a JPEG, PNG, PPM" in r.stderr
    truncated = tmp_path / "cut.png"
    truncated.write_bytes((IMAGES / "astronaut.png").read_bytes()[:400])
    r = run_bench_arm(bench_arm, "--model", param, "--image", truncated)
    assert r.returncode == 3 and "cannot decode" in r.stderr
    r = run_bench_arm(bench_arm, "--model", param, "--image", IMAGES / "bus.jpg", "--workers", 0,
                      "--cores", "medium")
    assert r.returncode == 2 and "--cores" in r.stderr


def test_bench_arm_ncnn_options(bench_arm, tmp_path):
    # layout and storage switches change how ncnn computes, not what it finds
    param, _ = model_paths("nanodet_m")
    out = tmp_path / "opt.json"
    r = run_bench_arm(bench_arm, "--model", param, "--image", IMAGES / "bus.jpg", "--loops", 1,
                      "--warmup", 0, "--threads", 1, "--precision", "fp32", "--json", out, "--quiet",
                      "--ncnn-opt", "use_packing_layout=0,use_sgemm_convolution=0")
    assert r.returncode == 0, r.stderr
    assert abs(json.loads(out.read_text())["detections"] - serial_detections(IMAGES / "bus.jpg")) <= 1
    for bad, why in (("nope=1", "unknown ncnn option 'nope'"), ("use_packing_layout=2", "NAME=0|1"),
                     ("use_packing_layout", "NAME=0|1")):
        r = run_bench_arm(bench_arm, "--model", param, "--image", IMAGES / "bus.jpg", "--loops", 1,
                          "--ncnn-opt", bad)
        assert r.returncode != 0 and why in r.stderr, (bad, r.stderr)


def test_bench_arm_workers_throughput_json(bench_arm, tmp_path):
    out = tmp_path / "w.json"
    param, _ = model_paths("nanodet_m")
    r = run_bench_arm(bench_arm, "--model", param, "--image", IMAGES / "zidane.jpg", "--workers", 2,
                      "--loops", 6, "--warmup", 1, "--json", out)
    assert r.returncode == 0, r.stderr
    assert "frames/s" in r.stdout and "worker 1" in r.stdout
    d = json.loads(out.read_text())
    check_schema(d, runner="bench_arm", mode="throughput", workers=2, loops=6)
    assert d["threads"] == 1  # one ncnn thread per worker unless --threads says otherwise
    per = d["throughput"]["per_worker"]
    assert [w["worker"] for w in per] == [0, 1]
    assert sum(w["frames"] for w in per) == 6
    for w in per:
        if w["frames"]:
            assert 0 < w["latency_ms"]["min"] <= w["latency_ms"]["median"] <= w["latency_ms"]["max"]
    assert d["detections"] == serial_detections(IMAGES / "zidane.jpg") or \
        abs(d["detections"] - serial_detections(IMAGES / "zidane.jpg")) <= 1


@pytest.mark.parametrize("precision", ["auto", "fp16"])
def test_bench_arm_says_which_precision_ran(bench_arm, precision, tmp_path):
    out = tmp_path / "p.json"
    param, bin_path = model_paths("nanodet_m")
    r = run_bench_arm(bench_arm, "--model", param, "--image", IMAGES / "bus.jpg", "--loops", 1,
                      "--warmup", 0, "--precision", precision, "--json", out)
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    det = _core.Detector(str(param), str(bin_path), precision=precision)  # the same core rule
    assert d["precision"] == precision
    assert d["precision_used"] == det.precision_used
    assert d["precision_detail"] == det.precision_detail
    assert f"precision  {precision} -> {det.precision_detail}" in r.stdout


@pytest.mark.parametrize("workers", [None, 2])
def test_cli_bench_both_runners_write_the_same_schema(workers, tmp_path):
    extra = ["--workers", workers] if workers else ["--threads", 1]
    mode = "throughput" if workers else "latency"
    reports = {}
    for runner, flags in (("bench_arm", []), ("python", ["--python"])):
        out = tmp_path / f"{runner}.json"
        r = run_cli("--model", "nanodet-m", "--image", IMAGES / "bus.jpg", "--loops", 3,
                    "--warmup", 1, "--json", out, *extra, *flags)
        assert r.returncode == 0, r.stderr
        reports[runner] = d = json.loads(out.read_text())
        check_schema(d, runner=runner, mode=mode, workers=workers or 1, loops=3)
    a, b = reports["bench_arm"], reports["python"]
    for k in ("image_size", "input_size", "resize", "precision", "precision_used",
              "precision_detail", "threads", "workers", "stage"):
        assert a[k] == b[k], k
    for k in TOP_KEYS:
        assert type(a[k]) is type(b[k]) or {type(a[k]), type(b[k])} <= {int, float}, k


def test_cli_bench_errors(tmp_path):
    r = run_cli("--image", tmp_path / "missing.jpg")
    assert r.returncode == 2 and "image not found" in r.stderr
    r = run_cli("--image", IMAGES / "bus.jpg", "--workers", 0, "--python")
    assert r.returncode == 2 and "--workers" in r.stderr
