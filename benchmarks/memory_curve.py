"""Resident memory over many detect() calls and many load/unload cycles (issue #5).

Prints the RSS curve (MB) every `--every` steps after a warm-up, and the drift: RSS at the end
minus RSS right after warm-up. A leak of even a few hundred bytes per call shows up as a steady
climb over 10,000 calls; allocator noise shows up as a plateau.

    python benchmarks/memory_curve.py                       # 10,000 calls + 1,000 cycles
    python benchmarks/memory_curve.py --calls 2000 --cycles 0 --model plus_onnx --size 416
    python benchmarks/memory_curve.py --json out.json

Model keys as in tests/oracle.py (nanodet_m, plus_pnnx, plus_onnx, plus_qr, plus_split,
plus_int8); models are found in $NANODET_NCNN_SHARED/models or ../shared/models.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from oracle import SPECS, shared_dir  # noqa: E402

import nanodet_ncnn  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS")


def model_files(key: str) -> tuple[Path, Path]:
    base = shared_dir() / "models" / SPECS[key].rel
    return Path(str(base) + ".param"), Path(str(base) + ".bin")


def frames() -> list[np.ndarray]:
    import cv2

    imgs = shared_dir() / "images"
    out = [cv2.imread(str(imgs / n)) for n in ("bus.jpg", "zidane.jpg")]
    out = [cv2.resize(im, (im.shape[1] // 4, im.shape[0] // 4)) for im in out if im is not None]
    return out or [np.random.default_rng(0).integers(0, 256, (240, 320, 3), np.uint8)]


def detect_curve(key: str, size: int, calls: int, warmup: int, every: int, threads: int):
    det = nanodet_ncnn.Detector(*model_files(key), num_threads=threads, input_size=size)
    fr = frames()
    for i in range(warmup):
        det.detect(fr[i % len(fr)])
    gc.collect()
    base = rss_mb()
    curve = [(0, base)]
    t0 = time.perf_counter()
    for i in range(1, calls + 1):
        det.detect(fr[i % len(fr)])
        if i % every == 0:
            curve.append((i, rss_mb()))
    secs = time.perf_counter() - t0
    return curve, secs


def cycle_curve(key: str, size: int, cycles: int, warmup: int, every: int):
    p, b = model_files(key)
    fr = frames()[0]
    param, weights = p.read_bytes(), b.read_bytes()

    def once(i):
        # alternate the two loaders: from files (Python Detector) and from memory (core)
        if i % 2:
            d = nanodet_ncnn.Detector(p, b, num_threads=1, input_size=size)
        else:
            d = nanodet_ncnn._core.Detector.from_memory(param, weights, input_size=size)
        d.detect(fr)
        del d

    for i in range(warmup):
        once(i)
    gc.collect()
    base = rss_mb()
    curve = [(0, base)]
    t0 = time.perf_counter()
    for i in range(1, cycles + 1):
        once(i)
        if i % every == 0:
            gc.collect()
            curve.append((i, rss_mb()))
    return curve, time.perf_counter() - t0


def report(title: str, curve, secs: float, unit: str) -> dict:
    base = curve[0][1]
    print(f"\n{title}")
    print(f"  {unit:>8}  RSS MB   drift MB")
    for n, mb in curve:
        print(f"  {n:8d}  {mb:7.1f}  {mb - base:+8.2f}")
    drift = curve[-1][1] - base
    peak = max(mb for _, mb in curve) - base
    n = curve[-1][0]
    print(f"  drift after {n} {unit}: {drift:+.2f} MB (max {peak:+.2f} MB), "
          f"{secs:.1f} s, {1000 * secs / max(n, 1):.2f} ms each")
    return {"curve": curve, "drift_mb": drift, "max_drift_mb": peak, "seconds": secs, "n": n}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="nanodet_m", choices=sorted(SPECS))
    ap.add_argument("--size", type=int, default=64, help="network input size for the calls")
    ap.add_argument("--calls", type=int, default=10000)
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=500, help="detect() calls before the baseline")
    ap.add_argument("--cycle-warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="also write the curves here")
    a = ap.parse_args(argv)
    out = {"model": a.model, "size": a.size, "ncnn": nanodet_ncnn.ncnn_version()}
    print(f"nanodet-ncnn {nanodet_ncnn.__version__}, ncnn {out['ncnn']}, model {a.model}, "
          f"input {a.size}, pid {os.getpid()}, start RSS {rss_mb():.1f} MB")
    if a.calls:
        curve, secs = detect_curve(a.model, a.size, a.calls, a.warmup, max(1, a.calls // 20), a.threads)
        out["detect"] = report(f"detect(): {a.calls} calls after {a.warmup} warm-up calls", curve, secs, "calls")
    if a.cycles:
        curve, secs = cycle_curve(a.model, a.size, a.cycles, a.cycle_warmup, max(1, a.cycles // 20))
        out["load"] = report(f"load + detect + unload: {a.cycles} cycles after {a.cycle_warmup} warm-up",
                             curve, secs, "cycles")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
