#!/usr/bin/env python3
"""Start-up cost of nanodet_ncnn against the ncnn PyPI wheel, x86 (or any host) wall time.

Each repetition starts a fresh interpreter per pipeline (pipelines interleaved, so drifts in
machine load hit both alike) that has already imported numpy and cv2 (both pipelines need them),
then times:

  import   `import nanodet_ncnn` vs `import ncnn`
  load     Detector(param, bin) (graph checks + head-layout inference) vs the wheel's
           Net() + load_param + load_model
  first    the first frame end to end: detect() vs the wheel + a numpy decode (the pipeline of
           benchmarks/bench_vs_baselines.py: from_pixels_resize, border, normalise, extract,
           per-level decode, NMS)
  steady   the median of the following frames
  forward  (nanodet_ncnn only) one raw network pass at the model's input size, input prepared:
           the yardstick of the load target (load <= 0.3x forward)

  python benchmarks/startup.py [--models plus416,nanodet_m] [--threads 1] [--reps 5]
      [--steady 10] [--image bus.jpg] [--json OUT]

tools/arm/startup_icount.sh runs the same child (--child ... --upto STAGE) under qemu-aarch64
and counts instructions per stage by differencing runs that stop after successive stages.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("base", "import", "prep", "load", "first", "steady")


def child(args) -> None:
    """One fresh-interpreter measurement; prints a JSON dict of milliseconds."""
    t = time.perf_counter
    import numpy as np  # noqa: F401  (both pipelines need numpy and OpenCV)
    import cv2

    out: dict = {}
    upto = STAGES.index(args.upto)
    if upto < 1:
        print(json.dumps(out))
        return
    t0 = t()
    if args.child == "nanodet_ncnn":
        import nanodet_ncnn as lib
    else:
        import ncnn as lib
    out["import"] = (t() - t0) * 1e3
    if upto < 2:
        print(json.dumps(out))
        return

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_vs_baselines import MODELS, WheelPipeline

    L = MODELS[args.model]
    shared = Path(args.shared)
    param = str(shared / "models" / (L.rel + ".param"))
    bin_ = str(shared / "models" / (L.rel + ".bin"))
    img_path = Path(args.image) if Path(args.image).exists() else shared / "images" / args.image
    img = cv2.imread(str(img_path))
    if upto < 3:
        print(json.dumps(out))
        return
    t0 = t()
    if args.child == "nanodet_ncnn":
        det = lib.Detector(param, bin_, num_threads=args.threads, input_size=L.size)
        run = lambda: det.detect(img, conf=0.35)  # noqa: E731
    else:
        wheel = WheelPipeline(lib, param, bin_, L, args.threads)
        run = lambda: wheel.detect(img, L.size, "letterbox", 0.35)  # noqa: E731
    out["load"] = (t() - t0) * 1e3
    if upto < 4:
        print(json.dumps(out))
        return
    t0 = t()
    run()
    out["first"] = (t() - t0) * 1e3
    if upto < 5:
        print(json.dumps(out))
        return
    times = []
    for _ in range(args.steady):
        t0 = t()
        run()
        times.append((t() - t0) * 1e3)
    out["steady"] = statistics.median(times) if times else 0.0
    forward_loops = args.steady if args.forward_loops < 0 else args.forward_loops
    if args.child == "nanodet_ncnn" and forward_loops:
        iw, ih = det.input_size
        fw = []
        for _ in range(forward_loops):
            t0 = t()
            det._core.run_network(iw, ih)
            fw.append((t() - t0) * 1e3)
        out["forward"] = statistics.median(fw)
    print(json.dumps(out))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="plus416,nanodet_m")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5, help="fresh interpreters per pipeline")
    ap.add_argument("--steady", type=int, default=10, help="frames after the first")
    ap.add_argument("--image", default="bus.jpg", help="name under shared/images, or a path")
    ap.add_argument("--shared", default=os.environ.get("NANODET_SHARED", str(REPO.parent / "shared")))
    ap.add_argument("--json", default="")
    ap.add_argument("--child", choices=["nanodet_ncnn", "ncnn"], help=argparse.SUPPRESS)
    ap.add_argument("--model", default="plus416", help=argparse.SUPPRESS)
    ap.add_argument("--upto", default="steady", choices=STAGES, help=argparse.SUPPRESS)
    ap.add_argument("--forward-loops", type=int, default=-1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return 0

    from tqdm import tqdm

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    models = args.models.split(",")
    pipes = ("nanodet_ncnn", "ncnn")
    runs: dict = {(m, p): [] for m in models for p in pipes}
    jobs = [(m, r, p) for m in models for r in range(args.reps) for p in pipes]
    for m, _, p in tqdm(jobs, desc="fresh interpreters", leave=False):
        cmd = [sys.executable, __file__, "--child", p, "--model", m, "--threads",
               str(args.threads), "--steady", str(args.steady), "--image", args.image,
               "--shared", args.shared]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/")
        if r.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
        runs[(m, p)].append(json.loads(r.stdout.strip().splitlines()[-1]))

    res: dict = {"threads": args.threads, "reps": args.reps, "steady_frames": args.steady,
                 "image": args.image, "unit": "ms (median over fresh interpreters)", "models": {}}
    print(f"\nstart-up, x86 wall ms (median of {args.reps} fresh interpreters each, numpy + cv2 "
          f"already imported), {args.threads} thread(s), {args.image}")
    print(f"{'model':10s} {'stage':8s} {'nanodet_ncnn':>13s} {'ncnn wheel':>11s} {'ratio':>7s}")
    for m in models:
        med = {p: {k: statistics.median(r[k] for r in runs[(m, p)]) for k in runs[(m, p)][0]}
               for p in pipes}
        entry = {p: med[p] for p in pipes}
        for k in ("import", "load", "first", "steady"):
            a, b = med["nanodet_ncnn"][k], med["ncnn"][k]
            print(f"{m:10s} {k:8s} {a:13.2f} {b:11.2f} {a / b:7.2f}")
        fwd = med["nanodet_ncnn"].get("forward")
        if fwd:
            entry["load_over_forward"] = med["nanodet_ncnn"]["load"] / fwd
            print(f"{m:10s} {'forward':8s} {fwd:13.2f} {'':11s}   load / forward "
                  f"{entry['load_over_forward']:.3f} (target <= 0.3)")
        entry["import_ratio"] = med["nanodet_ncnn"]["import"] / med["ncnn"]["import"]
        res["models"][m] = entry
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
