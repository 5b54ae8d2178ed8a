#!/usr/bin/env python3
"""Exact aarch64 instruction counts of start-up, nanodet_ncnn against the ncnn PyPI wheel, under
qemu-aarch64 with the icount TCG plugin and the emulated CPython 3.11 (one thread,
OMP_THREAD_LIMIT=1). benchmarks/startup.py --child runs in a fresh emulated interpreter and stops
after a given stage; each stage's count is the difference of two such runs:

  import   `import nanodet_ncnn` / `import ncnn`, after `import numpy, cv2`
  load     Detector(param, bin) / Net() + load_param + load_model
  first    the first frame end to end (detect() / the wheel + numpy decode)
  steady   one more frame
  forward  (nanodet_ncnn) one raw network pass at the model's input size: load / forward is the
           load target (<= 0.3)

Normally started by tools/arm/startup_icount.sh, which supplies the paths and the environment.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

STAGES = ("base", "import", "prep", "load", "first", "steady")


def count(args, pipe: str, model: str, upto: str, steady: int = 0, forward: int = 0) -> int:
    with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as f:
        out = f.name
    try:
        cmd = ["qemu-aarch64", "-cpu", args.cpu, "-L", args.sysroot,
               "-plugin", f"{args.plugin},out={out}", f"{args.sysroot}/usr/bin/python3.11",
               args.startup, "--child", pipe, "--model", model, "--upto", upto, "--threads", "1",
               "--steady", str(steady), "--forward-loops", str(forward), "--image", args.image,
               "--shared", args.shared]
        t0 = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
        if r.returncode != 0:
            sys.exit(f"startup_icount: {' '.join(cmd)}\n failed ({r.returncode}): {r.stderr.strip()}")
        n = int(open(out).read().split("insns:")[1].split()[0])
        if args.verbose:
            print(f"  {n:>14,d} insns {time.time() - t0:6.1f} s  {pipe} {model} {upto} "
                  f"steady={steady} forward={forward}", file=sys.stderr)
        return n
    finally:
        os.unlink(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--startup", required=True, help="benchmarks/startup.py")
    ap.add_argument("--plugin", required=True, help="libicount.so")
    ap.add_argument("--sysroot", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--cpu", default="cortex-a72")
    ap.add_argument("--models", default="plus416,nanodet_m")
    ap.add_argument("--image", default="bus.jpg")
    ap.add_argument("--json", default="")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    t0 = time.time()
    res: dict = {"cpu": args.cpu, "threads": 1, "image": args.image, "unit": "instructions",
                 "models": {}}
    for model in args.models.split(","):
        entry: dict = {}
        for pipe in ("nanodet_ncnn", "ncnn"):
            c = {s: count(args, pipe, model, s) for s in STAGES[:-1]}
            c["steady"] = count(args, pipe, model, "steady", steady=1)
            st = {"import": c["import"] - c["base"], "load": c["load"] - c["prep"],
                  "first": c["first"] - c["load"], "steady": c["steady"] - c["first"]}
            if pipe == "nanodet_ncnn":
                st["forward"] = count(args, pipe, model, "steady", steady=1, forward=1) - c["steady"]
            entry[pipe] = st
        a, b = entry["nanodet_ncnn"], entry["ncnn"]
        entry["ratios"] = {k: a[k] / b[k] for k in ("import", "load", "first", "steady")}
        entry["load_over_forward"] = a["load"] / a["forward"]
        res["models"][model] = entry
    res["emulation_seconds"] = round(time.time() - t0, 1)

    print(f"\nstart-up, aarch64 instructions (qemu -cpu {args.cpu}, icount, 1 thread, emulated "
          f"CPython 3.11 with numpy + cv2 already imported), {args.image}")
    print(f"{'model':10s} {'stage':8s} {'nanodet_ncnn':>14s} {'ncnn wheel':>14s} {'ratio':>7s}")
    for model, e in res["models"].items():
        for k in ("import", "load", "first", "steady"):
            a, b = e["nanodet_ncnn"][k], e["ncnn"][k]
            print(f"{model:10s} {k:8s} {a / 1e6:12.2f} M {b / 1e6:12.2f} M {a / b:7.2f}")
        print(f"{model:10s} {'forward':8s} {e['nanodet_ncnn']['forward'] / 1e6:12.2f} M "
              f"{'':14s}   load / forward {e['load_over_forward']:.3f} (target <= 0.3)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
