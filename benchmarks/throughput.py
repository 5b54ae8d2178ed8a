#!/usr/bin/env python3
"""Throughput mode (worker pool) vs one multi-threaded instance, and latency mode, in one run.

For each model, on preloaded COCO128 images (frames/s, median of interleaved rounds):
  (a) one instance, ncnn threads = cores, serial detect() loop
  (b) predict(frames, workers=cores, threads_per_worker=1)
  (c) predict(frames, workers="auto")
  (d) the ncnn PyPI wheel + numpy decode, threads = cores (what a Python user writes)
  (e) single-thread detect() rate x cores (the ideal)
plus: the folder end to end (JPEG decode included) with (b)'s workers, a generated 720p video
saved with predict(video, workers=cores).save() vs (b) on the same decoded 720p frames, latency
mode on a synthetic camera faster than inference, and peak RSS for workers = 1, 2, 4.
Prints a table and writes JSON. Targets (issue #10): b/a >= 1.3 on 2 cores, b >= 0.9 e,
c >= 0.97 max(a, b), folder >= 0.85 b, video save >= 0.85 b(720p), latency median <= 1.2 x one
detect(), no frame older than 2 inference periods processed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_vs_baselines import MODELS as WHEEL_LAYOUTS, WheelPipeline  # noqa: E402
from video_throughput import make_video  # noqa: E402

# zoo name -> the bench_vs_baselines layout of the same graph (for the wheel baseline)
CASES = {"nanodet-m": "nanodet_m", "nanodet-plus-m-416-onnx": "plus416"}


def fps_of(fn, frames) -> float:
    t0 = time.perf_counter()
    fn(frames)
    return len(frames) / (time.perf_counter() - t0)


def interleaved(fns: dict, frames, rounds: int) -> dict:
    """Median frames/s of each function; one pass of each per round, in turn."""
    got: dict = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            got[k].append(fps_of(fn, frames))
    return {k: statistics.median(v) for k, v in got.items()}


def video_frames(path: Path, image: Path, n: int) -> list:
    """A generated 720p clip (video_throughput.make_video) and its decoded frames."""
    make_video(path, image, n)
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            return out
        out.append(f)


def latency_mode(model, frames, n: int) -> dict:
    """A camera producing a frame every ~1 ms (stamped), far faster than inference."""
    made: list[float] = []

    def camera():
        time.sleep(0.001)
        made.append(time.time())
        return frames[len(made) % len(frames)]

    results = []
    for r in model.predict(camera, stream=True, progress=False):
        results.append(r)
        if len(results) == n:
            break
    lat = [r.speed["latency"] for r in results[3:]]
    period = statistics.median(r.speed["total"] for r in results[3:])
    age = [r.speed["latency"] - r.speed["total"] for r in results[3:]]
    serial = []
    for f in frames[:n]:
        t0 = time.perf_counter()
        model.detect(f)
        serial.append((time.perf_counter() - t0) * 1000)
    one = statistics.median(serial)
    return {"latency_ms_median": statistics.median(lat), "detect_ms_median": one,
            "latency_over_detect": statistics.median(lat) / one,
            "max_age_at_start_periods": max(age) / period, "frames_made": len(made),
            "frames_processed": len(results)}


RSS_SCRIPT = textwrap.dedent("""
    import json, os, sys, cv2, nanodet_ncnn
    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    model, workers, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    frames = [cv2.imread(p) for p in paths]
    m = nanodet_ncnn.load(model, num_threads=1)
    m.detect(frames[0])
    base = rss()
    for _ in range(2):
        m.predict(frames, workers=workers, threads_per_worker=1, progress=False)
    import resource
    print(json.dumps({"after_load_mb": base, "after_predict_mb": rss(),
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


def rss(model: str, paths: list, workers_list=(1, 2, 4)) -> dict:
    out = {}
    for w in workers_list:
        r = subprocess.run([sys.executable, "-c", RSS_SCRIPT, model, str(w), *map(str, paths)],
                           capture_output=True, text=True, timeout=600, check=True)
        out[w] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=64, help="COCO128 images per pass")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--video-frames", type=int, default=60)
    ap.add_argument("--latency-frames", type=int, default=40)
    ap.add_argument("--models", nargs="+", default=list(CASES))
    ap.add_argument("--shared", default=os.environ.get("NANODET_NCNN_SHARED",
                                                       str(HERE.parents[1] / "shared")))
    ap.add_argument("--json", default="benchmarks/results/throughput.json")
    args = ap.parse_args()
    shared = Path(args.shared)
    os.environ.setdefault("NANODET_NCNN_MODELS", str(shared / "models"))
    import ncnn
    from tqdm.auto import tqdm

    import nanodet_ncnn
    from nanodet_ncnn.pipeline import auto_workers, usable_cores

    cores = usable_cores()
    paths = sorted((shared / "datasets" / "coco128-val2017" / "images").glob("*.jpg"))[:args.images]
    frames = [cv2.imread(str(p)) for p in paths]
    report = {"machine": platform.machine(), "cores": cores, "loadavg_start": os.getloadavg(),
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)"), "auto_workers": auto_workers(None),
              "images": len(frames), "rounds": args.rounds, "ncnn_wheel": ncnn.__version__,
              "models": {}}
    tmp = tempfile.TemporaryDirectory()
    video = Path(tmp.name) / "in720p.mp4"
    vframes = video_frames(video, shared / "images" / "zidane.jpg", args.video_frames)
    for name in tqdm(args.models, desc="models", unit="model"):
        m = nanodet_ncnn.load(name, num_threads=cores)
        one = nanodet_ncnn.load(name, num_threads=1)
        layout = WHEEL_LAYOUTS[CASES[name]]
        base = shared / "models" / layout.rel
        wheel = WheelPipeline(ncnn, f"{base}.param", f"{base}.bin", layout, cores)
        size = m.input_size[0]
        for f in frames[:2]:  # warm-up
            m.detect(f), one.detect(f), wheel.detect(f, size, "letterbox")

        def a(fr):
            for f in fr:
                m.detect(f)

        def e(fr):
            for f in fr:
                one.detect(f)

        def d(fr):
            for f in fr:
                wheel.detect(f, size, "letterbox")

        def b(fr):
            m.predict(fr, workers=cores, threads_per_worker=1, progress=False)

        def c(fr):
            m.predict(fr, progress=False)

        def folder(_fr):
            m.predict([str(p) for p in paths], workers=cores, progress=False)

        fps = interleaved({"a": a, "b": b, "c": c, "d": d, "e": e, "folder": folder}, frames,
                          args.rounds)
        fps["e"] *= cores
        v = interleaved({"b_720p": b, "save_720p": lambda fr: m.predict(
            str(video), workers=cores, progress=False).save(Path(tmp.name) / "out.mp4")},
            vframes, args.rounds)
        fps.update(v)
        lat = latency_mode(m, vframes, args.latency_frames)
        report["models"][name] = {
            "input_size": size, "fps": fps, "latency_mode": lat,
            "ratios": {"b/a": fps["b"] / fps["a"], "b/e": fps["b"] / fps["e"],
                       "c/max(a,b)": fps["c"] / max(fps["a"], fps["b"]), "b/d": fps["b"] / fps["d"],
                       "folder/b": fps["folder"] / fps["b"],
                       "save_720p/b_720p": fps["save_720p"] / fps["b_720p"]}}
    report["rss_mb"] = {"model": args.models[0], **rss(args.models[0], paths[:16])}
    report["loadavg_end"] = os.getloadavg()
    tmp.cleanup()

    print(f"\n{cores} cores ({report['machine']}), {len(frames)} COCO128 images, "
          f"median of {args.rounds} interleaved rounds, frames/s; load average "
          f"{report['loadavg_start'][0]:.1f} -> {report['loadavg_end'][0]:.1f}, OMP_WAIT_POLICY "
          f"{report['omp_wait_policy']}")
    hdr = f"{'model':<26}{'size':>5}" + "".join(f"{k:>9}" for k in
                                               ("a", "b", "c", "d", "e", "folder", "b720p", "save"))
    print(hdr)
    for name, r in report["models"].items():
        f = r["fps"]
        print(f"{name:<26}{r['input_size']:>5}" + "".join(
            f"{f[k]:>9.1f}" for k in ("a", "b", "c", "d", "e", "folder", "b_720p", "save_720p")))
    print(f"\n{'model':<26}" + "".join(f"{k:>13}" for k in
                                        ("b/a", "b/e", "c/max(a,b)", "b/d", "folder/b", "save/b720p")))
    for name, r in report["models"].items():
        q = r["ratios"]
        print(f"{name:<26}" + "".join(f"{q[k]:>13.2f}" for k in
                                      ("b/a", "b/e", "c/max(a,b)", "b/d", "folder/b", "save_720p/b_720p")))
    print(f"\nlatency mode (720p camera, a frame every ~1 ms; detect on {cores} threads)")
    print(f"{'model':<26}{'latency ms':>11}{'detect ms':>10}{'ratio':>7}{'max age (periods)':>19}")
    for name, r in report["models"].items():
        q = r["latency_mode"]
        print(f"{name:<26}{q['latency_ms_median']:>11.1f}{q['detect_ms_median']:>10.1f}"
              f"{q['latency_over_detect']:>7.2f}{q['max_age_at_start_periods']:>19.2f}")
    rs = report["rss_mb"]
    print(f"\nRSS ({rs['model']}, MB): " + ", ".join(
        f"workers={w}: {rs[w]['after_predict_mb']:.0f} (peak {rs[w]['peak_mb']:.0f})" for w in (1, 2, 4)))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
