#!/usr/bin/env python3
"""Exact ARM instruction counts per stage of nanodet::Detector, under qemu-aarch64 (or qemu-arm
for a 32-bit build: --qemu qemu-arm) with the icount TCG plugin, by differencing runs of the
cross-built bench_arm:

  load            --stage all --loops 0                       (process start, model load, image)
  detect          --stage all --warmup W --loops L   minus the same with --loops 0, / L
  network         --stage network --warmup W --loops L  minus --loops 0, / L   (raw extract)
  decode+nms      --stage decode --loops D  minus --loops 0, / D   (NEON, then scalar kernels)
  preprocess+glue detect - network - decode+nms (derived)

One thread, OMP_THREAD_LIMIT=1: counts repeat to the instruction. Compare numbers within one run
only (they shift with compiler, libc, CPU model and environment).
Normally started by tools/arm/bench_icount.sh, which supplies the paths.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def count(args, cmd: list[str]) -> int:
    with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as f:
        out = f.name
    try:
        env = dict(os.environ, OMP_THREAD_LIMIT="1")
        full = [args.qemu, "-cpu", args.cpu, "-L", args.ld_prefix,
                "-plugin", f"{args.plugin},out={out}", args.bench] + cmd + ["--quiet"]
        t0 = time.time()
        r = subprocess.run(full, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"bench_icount: {' '.join(full)}\n failed ({r.returncode}): {r.stderr.strip()}")
        with open(out) as fh:
            text = fh.read()
        n = int(text.split("insns:")[1].split()[0])
        if args.verbose:
            print(f"  {n:>14,d} insns  {time.time() - t0:6.1f} s  {' '.join(cmd)}", file=sys.stderr)
        return n
    finally:
        os.unlink(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="aarch64 bench_arm")
    ap.add_argument("--qemu", default="qemu-aarch64", help="qemu-arm for a 32-bit ARM bench_arm")
    ap.add_argument("--plugin", required=True, help="libicount.so")
    ap.add_argument("--ld-prefix", default="/usr/aarch64-linux-gnu", help="qemu -L")
    ap.add_argument("--cpu", default="cortex-a72")
    ap.add_argument("--model", required=True)
    ap.add_argument("--image", required=True, help="PPM")
    ap.add_argument("--input-size", default="")
    ap.add_argument("--resize", default="letterbox")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--conf", default="0.35")
    ap.add_argument("--ncnn-opt", default="", help="bench_arm --ncnn-opt NAME=0|1[,...]")
    ap.add_argument("--warmup", type=int, default=0, help="detect/network warm-up loops")
    ap.add_argument("--loops", type=int, default=1, help="detect/network counted loops")
    ap.add_argument("--decode-loops", type=int, default=20)
    ap.add_argument("--stages", default="detect,network,decode",
                    help="comma list of detect, network, decode")
    ap.add_argument("--json", default="")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    common = ["--model", args.model, "--image", args.image, "--threads", "1",
              "--resize", args.resize, "--precision", args.precision, "--conf", args.conf]
    if args.input_size:
        common += ["--input-size", args.input_size]
    if args.ncnn_opt:
        common += ["--ncnn-opt", args.ncnn_opt]
    stages = set(args.stages.split(","))
    arch = "armv7" if os.path.basename(args.qemu) == "qemu-arm" else "aarch64"
    res: dict = {"arch": arch, "cpu": args.cpu, "model": args.model, "image": args.image,
                 "resize": args.resize, "input_size": args.input_size or "model default",
                 "threads": 1, "precision": args.precision, "ncnn_opt": args.ncnn_opt}
    t0 = time.time()
    load = 0
    if "detect" in stages or args.verbose:
        load = count(args, common + ["--stage", "all", "--loops", "0", "--warmup", "0"])
        res["load_insns"] = load
    for stage in ("detect", "network"):
        if stage not in stages:
            continue
        name = "all" if stage == "detect" else stage
        base = load
        if args.warmup or stage == "network":
            base = count(args, common + ["--stage", name, "--loops", "0", "--warmup", str(args.warmup)])
        n = count(args, common + ["--stage", name, "--loops", str(args.loops), "--warmup", str(args.warmup)])
        res[f"{stage}_insns"] = (n - base) / args.loops
    if "decode" in stages:
        base = count(args, common + ["--stage", "decode", "--loops", "0", "--warmup", "0"])
        if load:
            res["capture_insns"] = base - load
        for k in ("neon", "scalar"):
            n = count(args, common + ["--stage", "decode", "--loops", str(args.decode_loops),
                                      "--warmup", "0", "--kernels", k])
            res[f"decode_nms_{k}_insns"] = (n - base) / args.decode_loops
        res["scalar_over_neon_decode"] = res["decode_nms_scalar_insns"] / res["decode_nms_neon_insns"]
    if {"detect", "network", "decode"} <= stages:
        res["preprocess_and_glue_insns"] = (res["detect_insns"] - res["network_insns"]
                                            - res["decode_nms_neon_insns"])
        res["detect_over_network"] = res["detect_insns"] / res["network_insns"]
        res["decode_nms_share_of_detect"] = res["decode_nms_neon_insns"] / res["detect_insns"]
    res["emulation_seconds"] = round(time.time() - t0, 1)

    def m(v: float) -> str:
        return f"{v / 1e6:12.3f} M"

    print(f"{arch} instruction counts ({args.cpu}, 1 thread) {os.path.basename(args.model)}"
          f" {os.path.basename(args.image)} {args.resize} {args.input_size or ''}")
    for key, label in (("load_insns", "load (process, model, image)"),
                       ("detect_insns", "detect() per frame"),
                       ("network_insns", "raw extract per frame (floor)"),
                       ("decode_nms_neon_insns", "decode+NMS, NEON kernels"),
                       ("decode_nms_scalar_insns", "decode+NMS, scalar kernels"),
                       ("preprocess_and_glue_insns", "preprocess + glue (derived)")):
        if key in res:
            print(f"  {label:34s} {m(res[key])}")
    for key, label in (("detect_over_network", "detect / raw extract"),
                       ("scalar_over_neon_decode", "decode+NMS scalar / NEON")):
        if key in res:
            print(f"  {label:34s} {res[key]:12.4f} x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
