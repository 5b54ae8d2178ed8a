"""`nanodet-ncnn bench`: per-stage latency. Delegates to the C++ bench_arm when it is installed
(same Detector, no Python in the loop); otherwise times detect() from Python."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

STAGES = ("preprocess", "inference", "decode", "nms", "total")


def find_bench_arm() -> str | None:
    exe = shutil.which("bench_arm")
    if exe:
        return exe
    cand = Path(sys.executable).with_name("bench_arm")
    return str(cand) if cand.exists() else None


def run_bench_arm(exe: str, args) -> int:
    """Runs bench_arm on the image converted to PPM (its only decoder)."""
    import cv2

    from .detector import read_image
    from .zoo import MODELS, resolve

    model = args.model
    if model in MODELS:
        model = str(resolve(model)[0])
    img = read_image(args.image)
    with tempfile.TemporaryDirectory() as tmp:
        ppm = Path(tmp) / "image.ppm"
        cv2.imwrite(str(ppm), img)
        cmd = [exe, "--model", model, "--image", str(ppm), "--threads", str(args.threads),
               "--loops", str(args.loops), "--warmup", str(args.warmup),
               "--precision", args.precision, "--resize", args.resize]
        if args.input_size:
            cmd += ["--input-size", "x".join(map(str, args.input_size))]
        if args.json:
            cmd += ["--json", args.json]
        return subprocess.call(cmd)


def python_bench(args) -> dict:
    from . import load

    size = None
    if args.input_size:
        size = args.input_size[0] if len(args.input_size) == 1 else tuple(args.input_size)
    model = load(args.model, num_threads=args.threads, input_size=size, resize=args.resize,
                 precision=args.precision)
    from .detector import read_image

    img = read_image(args.image)
    for _ in range(args.warmup):
        model.detect(img)
    samples = {k: [] for k in STAGES}
    for _ in range(args.loops):
        t = model.detect(img).times
        for k in STAGES:
            samples[k].append(t[k])
    import nanodet_ncnn

    return {
        "runner": "python", "model": args.model, "image": str(args.image),
        "input_size": list(model.detect(img).input_size), "threads": model.num_threads,
        "precision": args.precision, "loops": args.loops, "ncnn": nanodet_ncnn.ncnn_version(),
        "kernels": nanodet_ncnn.kernels(),
        "stages_ms": {k: {"min": min(v), "median": statistics.median(v), "max": max(v)}
                      for k, v in samples.items() if v},
    }


def print_table(r: dict) -> None:
    print(f"model {r['model']}  input {r['input_size'][0]}x{r['input_size'][1]}  threads "
          f"{r['threads']}  precision {r['precision']}  ncnn {r['ncnn']}  kernels {r['kernels']}")
    print(f"{'stage':<12}{'min ms':>10}{'median ms':>11}{'max ms':>10}")
    for k, v in r["stages_ms"].items():
        print(f"{k:<12}{v['min']:>10.3f}{v['median']:>11.3f}{v['max']:>10.3f}")


def _runs(args):
    """One argparse namespace per (threads, precision) combination."""
    threads = args.threads if isinstance(args.threads, list) else [args.threads]
    precisions = args.precision if isinstance(args.precision, list) else [args.precision]
    for t in threads:
        for p in precisions:
            yield argparse.Namespace(**{**vars(args), "threads": t, "precision": p})


def main(args) -> int:
    if args.loops < 1 or args.warmup < 0:
        raise ValueError("--loops must be >= 1 and --warmup >= 0")
    if not Path(args.image).exists():
        raise FileNotFoundError(f"image not found: {args.image}")
    exe = None if args.python else find_bench_arm()
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, run in enumerate(_runs(args)):
            if exe:
                run.json = str(Path(tmp) / f"run{k}.json")
                rc = run_bench_arm(exe, run)
                if rc:
                    return rc
                reports.append(json.loads(Path(run.json).read_text()))
            else:
                reports.append(python_bench(run))
                print_table(reports[-1])
    if args.json:
        Path(args.json).write_text(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    if getattr(args, "plot", None):
        from .plots import plot_latency

        plot_latency(reports, args.plot)
        print(f"plot: {args.plot}", file=sys.stderr)
    return 0
