#!/usr/bin/env python3
"""nanodet_ncnn against its baselines, in one run, on the same model, image and threads.

x86 (or any host), wall time, medians of interleaved loops (each loop runs every pipeline once,
in turn, so drifts in machine load hit all of them alike):

  detect           nanodet_ncnn _core.Detector.detect(): preprocess + ncnn + decode + NMS
  floor            _core.Detector.run_network(): our ncnn build, network only, input prepared
                   (detect / floor is measured with the two alone in alternation, so that both
                   follow a pass of the same network; the loop over every pipeline reports it too)
  wheel_extract    the ncnn PyPI wheel: extractor + input + extract of every output, input Mat
                   prepared once (the "raw extract" of a typical Python user)
  wheel_numpy      the ncnn wheel end to end with the tests' numpy reference decode
                   (tests/oracle.py: threshold, DFL softmax, boxes, greedy NMS)
  detect_dynamic / detect_letterbox on a 16:9 frame (zidane.jpg): pad-to-32 dynamic input vs
                   a square letterbox, end to end

aarch64 (--icount): exact instruction counts under qemu-aarch64 with the icount plugin, via
tools/arm/bench_icount.sh: detect() vs raw extract with the same ncnn build, decode+NMS with the
NEON vs the scalar kernels.

Targets from the issue (reported, not asserted): detect <= 1.03x raw extract; decode+NMS
<= 0.25 M aarch64 instructions on the NanoDet-Plus-m 416 output; NEON decode >= 3x fewer
instructions than scalar; dynamic pad-32 >= 2x faster end to end than a square letterbox on
16:9 frames.

  python benchmarks/bench_vs_baselines.py [--model plus416|nanodet_m|PARAM] [--threads 1]
      [--image bus.jpg] [--frame 1920x1080]
      [--loops 40] [--warmup 5] [--input-size S] [--resize letterbox|dynamic] [--json OUT]
      [--icount] [--shared DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from oracle import SPECS, Oracle  # noqa: E402  the one numpy reference decode (tests/oracle.py)

# benchmark names -> the oracle's hand-written layouts of the shared models
MODELS = {"plus416": "plus_onnx", "plus416_pnnx": "plus_pnnx", "nanodet_m": "nanodet_m",
          **{k: k for k in SPECS}}


# ----------------------------------------------------------------------------- measurement
def interleaved(fns: dict, loops: int, warmup: int) -> dict:
    times = {k: [] for k in fns}
    for it in range(warmup + loops):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            dt = (time.perf_counter() - t0) * 1e3
            if it >= warmup:
                times[k].append(dt)
    return {k: {"median_ms": statistics.median(v), "min_ms": min(v), "max_ms": max(v),
                "loops": len(v)} for k, v in times.items()}


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="plus416", help=f"one of {', '.join(MODELS)}")
    ap.add_argument("--image", default="bus.jpg", help="name under shared/images, or a path")
    ap.add_argument("--frame", default="", metavar="WxH",
                    help="resize the image to this frame size first (e.g. 1920x1080: a camera frame)")
    ap.add_argument("--wide-image", default="zidane.jpg", help="16:9 frame for dynamic vs letterbox")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--loops", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--input-size", type=int, default=0)
    ap.add_argument("--resize", default="letterbox", choices=["letterbox", "dynamic"])
    ap.add_argument("--conf", type=float, default=0.35)
    ap.add_argument("--shared", default=os.environ.get("NANODET_SHARED", str(REPO.parent / "shared")))
    ap.add_argument("--json", default="")
    ap.add_argument("--icount", action="store_true", help="also run the aarch64 instruction counts")
    ap.add_argument("--no-wheel", action="store_true", help="skip the ncnn-wheel baselines")
    args = ap.parse_args()

    import cv2

    from nanodet_ncnn import _core

    L = SPECS[MODELS[args.model]]
    shared = Path(args.shared)
    param, bin_ = str(shared / "models" / (L.rel + ".param")), str(shared / "models" / (L.rel + ".bin"))
    size = args.input_size or L.size

    def load_img(name: str) -> np.ndarray:
        p = Path(name) if Path(name).exists() else shared / "images" / name
        img = cv2.imread(str(p))
        if img is None:
            sys.exit(f"cannot read {p}")
        return img

    img, wide = load_img(args.image), load_img(args.wide_image)
    if args.frame:
        fw, fh = (int(v) for v in args.frame.lower().split("x"))
        img = cv2.resize(img, (fw, fh), interpolation=cv2.INTER_LINEAR)
    det = _core.Detector(param, bin_, num_threads=args.threads, input_size=size, resize=args.resize)
    _, _, _, _, (iw, ih) = det.detect(img, conf=args.conf)

    fns = {
        "detect": lambda: det.detect(img, conf=args.conf),
        "floor": lambda: det.run_network(iw, ih),
    }
    wheel = None
    if not args.no_wheel:
        try:
            wheel = Oracle(shared / "models", L, threads=args.threads, fp32_only=False)
        except ImportError:
            print("(the ncnn wheel is not installed: pip install ncnn==1.0.20261020)")
    if wheel is not None:
        mat, _ = wheel.prepare(img, args.resize, size)
        fns["wheel_extract"] = lambda: wheel.extract(mat)
        fns["wheel_numpy"] = lambda: wheel.detect(img, conf=args.conf, mode=args.resize, size=size)
        # the numpy pipeline finds the same objects (sanity check of the baseline itself)
        xyxy, scores, cls, _, _ = det.detect(img, conf=args.conf)
        wb, ws, wc = wheel.detect(img, conf=args.conf, mode=args.resize, size=size)
        if sorted(cls.tolist()) != sorted(wc.tolist()):
            print(f"warning: numpy baseline classes {sorted(wc.tolist())} vs detect {sorted(cls.tolist())}")

    dyn = _core.Detector(param, bin_, num_threads=args.threads, input_size=size, resize="dynamic")
    box = _core.Detector(param, bin_, num_threads=args.threads, input_size=size, resize="letterbox")
    fns["detect_dynamic_16x9"] = lambda: dyn.detect(wide, conf=args.conf)
    fns["detect_letterbox_16x9"] = lambda: box.detect(wide, conf=args.conf)
    dyn_in = dyn.detect(wide, conf=args.conf)[4]
    box_in = box.detect(wide, conf=args.conf)[4]

    # detect vs floor alone, alternating: each call then follows a pass of the same network. In
    # the loop over every pipeline, detect follows another model's network (its weights and the
    # frame evicted) while floor follows detect, which weighs on detect alone.
    pair = interleaved({"detect": fns["detect"], "floor": fns["floor"]}, args.loops, args.warmup)
    res = interleaved(fns, args.loops, args.warmup)
    med = {k: v["median_ms"] for k, v in res.items()}
    ratios = {"detect_over_floor": pair["detect"]["median_ms"] / pair["floor"]["median_ms"],
              "detect_over_floor_in_mixed_loop": med["detect"] / med["floor"]}
    if "wheel_extract" in med:
        ratios["detect_over_wheel_extract"] = med["detect"] / med["wheel_extract"]
        ratios["wheel_numpy_over_detect"] = med["wheel_numpy"] / med["detect"]
        ratios["floor_over_wheel_extract"] = med["floor"] / med["wheel_extract"]
    ratios["letterbox_over_dynamic_16x9"] = med["detect_letterbox_16x9"] / med["detect_dynamic_16x9"]

    print(f"\n{args.model} ({Path(param).name}), {args.image} {img.shape[1]}x{img.shape[0]} -> "
          f"{iw}x{ih} {args.resize}; threads {args.threads}; {args.loops} interleaved loops; "
          f"{cpu_name()}; ncnn {_core.ncnn_version()}; kernels {_core.kernels()}")
    print(f"{'pipeline':26s} {'median ms':>10s} {'min':>8s} {'max':>8s} {'vs floor':>9s}")
    for k, v in res.items():
        print(f"{k:26s} {v['median_ms']:10.2f} {v['min_ms']:8.2f} {v['max_ms']:8.2f} "
              f"{v['median_ms'] / med['floor']:9.3f}")
    print(f"detect / floor, the two alone in alternation: {pair['detect']['median_ms']:.2f} / "
          f"{pair['floor']['median_ms']:.2f} ms = {ratios['detect_over_floor']:.3f} "
          f"(in the loop above: {ratios['detect_over_floor_in_mixed_loop']:.3f})")
    print(f"(16:9 frame {args.wide_image}: dynamic input {dyn_in[0]}x{dyn_in[1]}, letterbox "
          f"{box_in[0]}x{box_in[1]})")
    targets = []
    if "detect_over_wheel_extract" in ratios:
        targets.append(("detect <= 1.03x raw extract (ncnn wheel)", ratios["detect_over_wheel_extract"], 1.03, "<="))
    targets.append(("detect <= 1.03x floor (same ncnn build)", ratios["detect_over_floor"], 1.03, "<="))
    targets.append(("dynamic pad-32 >= 2x faster than letterbox, 16:9", ratios["letterbox_over_dynamic_16x9"], 2.0, ">="))

    out = {"host": {"cpu": cpu_name(), "machine": platform.machine(), "python": platform.python_version()},
           "model": args.model, "param": param, "image": args.image, "input": [iw, ih],
           "resize": args.resize, "threads": args.threads, "loops": args.loops,
           "ncnn": _core.ncnn_version(), "kernels": _core.kernels(),
           "wall_ms": res, "detect_floor_alternating_ms": pair, "ratios": ratios,
           "wide": {"image": args.wide_image, "dynamic_input": list(dyn_in), "letterbox_input": list(box_in)}}

    if args.icount:
        ic_json = Path(args.json or "bench_vs_baselines.json").with_suffix(".icount.json")
        cmd = ["bash", str(REPO / "tools/arm/bench_icount.sh"), "--model", param,
               "--image", str(shared / "images" / args.image), "--input-size", str(size),
               "--resize", args.resize, "--json", str(ic_json)]
        print("\n$ " + " ".join(cmd))
        r = subprocess.run(cmd)
        if r.returncode == 0:
            ic = json.loads(ic_json.read_text())
            out["aarch64_icount"] = ic
            targets.append(("aarch64: detect <= 1.03x raw extract (insns)", ic["detect_over_network"], 1.03, "<="))
            targets.append(("aarch64: decode+NMS <= 0.25 M insns", ic["decode_nms_neon_insns"] / 1e6, 0.25, "<="))
            targets.append(("aarch64: NEON decode >= 3x fewer insns than scalar", ic["scalar_over_neon_decode"], 3.0, ">="))
        else:
            print("instruction counts failed")

    print("\ntargets (reported, not asserted):")
    for name, v, lim, op in targets:
        ok = v <= lim if op == "<=" else v >= lim
        print(f"  {'met ' if ok else 'MISS'} {name:52s} {v:8.3f} (target {op} {lim})")
    out["targets"] = [{"target": n, "value": v, "limit": lim, "op": op,
                       "met": (v <= lim if op == "<=" else v >= lim)} for n, v, lim, op in targets]
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
