#!/usr/bin/env python3
"""Per-CPU precision table: exact instruction counts of the network stage (raw extract) and of a
whole detect() per frame, one thread, bus image at the model's input size, for each
model x precision x emulated CPU, by running tools/arm/bench_icount.py (qemu + the icount plugin)
on the release wheels' bench_arm. Instruction counts are not time: an fp16 instruction and an
fp32 one differ in cost, and memory traffic is not counted.

Normally started by tools/arm/precision_icount.sh, which supplies the binaries and sysroots.
Writes the raw results as JSON and prints the table (M instructions, network / detect).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# (model key, shared-relative param, label)
MODELS = {
    "nanodet-m-320": ("models/nihui__ncnn-assets/nanodet_m.param", "nanodet-m 320"),
    "plus-m-416": ("models/Deepdive543443__ncnn-android-nanodet/nanodet-plus-m_416.param",
                   "NanoDet-Plus-m 416"),
    "plus-m-416-int8": ("models/Deepdive543443__ncnn-android-nanodet/nanodet-plus-m_416_int8.param",
                        "NanoDet-Plus-m 416 INT8 (shipped)"),
}
AARCH64_CPUS = ("cortex-a53", "cortex-a72", "cortex-a76")
ARMV7_CPUS = ("cortex-a7",)


def matrix(cpus: list[str]) -> list[dict]:
    rows = []
    for cpu in cpus:
        arch = "armv7l" if cpu in ARMV7_CPUS else "aarch64"
        combos = [("nanodet-m-320", "fp32"), ("plus-m-416", "fp32")]
        if arch == "aarch64":
            combos += [("nanodet-m-320", "fp16"), ("plus-m-416", "fp16"),
                       ("plus-m-416-int8", "int8")]
            # the INT8 graph with its float layers (those left unquantized) in fp16
            if cpu == "cortex-a76":
                combos.append(("plus-m-416-int8", "fp16"))
        rows += [{"cpu": cpu, "arch": arch, "model": m, "precision": p} for m, p in combos]
    return rows


def run_one(args, row: dict) -> dict:
    bench, ld = (args.bench_aarch64, args.ld_aarch64) if row["arch"] == "aarch64" else \
        (args.bench_armv7l, args.ld_armv7l)
    qemu = "qemu-aarch64" if row["arch"] == "aarch64" else "qemu-arm"
    fd, out = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        cmd = [sys.executable, os.path.join(HERE, "bench_icount.py"), "--bench", bench,
               "--qemu", qemu, "--ld-prefix", ld, "--plugin", args.plugin, "--cpu", row["cpu"],
               "--model", os.path.join(args.shared, MODELS[row["model"]][0]),
               "--image", args.image, "--precision", row["precision"],
               "--warmup", str(args.warmup), "--loops", "1", "--stages", "detect,network",
               "--json", out]
        t0 = time.time()
        r = subprocess.run(["nice", "-n", "10"] + cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{row}: {r.stdout}{r.stderr}")
        with open(out) as f:
            res = json.load(f)
    finally:
        os.unlink(out)
    return {**row, "network_insns": res["network_insns"], "detect_insns": res["detect_insns"],
            "load_insns": res["load_insns"], "seconds": round(time.time() - t0, 1)}


def table(results: list[dict]) -> str:
    cpus = [c for c in AARCH64_CPUS + ARMV7_CPUS if any(r["cpu"] == c for r in results)]
    keys = []
    for r in results:
        k = (r["model"], r["precision"])
        if k not in keys:
            keys.append(k)
    order = list(MODELS)
    rank = {"fp32": 0, "int8": 1, "fp16": 2}  # the INT8 graph's own row before its fp16 variant
    keys.sort(key=lambda k: (order.index(k[0]), rank[k[1]]))
    by = {(r["model"], r["precision"], r["cpu"]): r for r in results}
    lines = ["| model | precision | " + " | ".join(cpus) + " |",
             "|---|---|" + "---|" * len(cpus)]
    for m, p in keys:
        cells = []
        for c in cpus:
            r = by.get((m, p, c))
            cells.append("" if r is None else
                         f"{r['network_insns'] / 1e6:.1f} / {r['detect_insns'] / 1e6:.1f}")
        prec = "int8 graph, float layers fp16" if m.endswith("int8") and p == "fp16" else p
        lines.append(f"| {MODELS[m][1]} | {prec} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--print-only", action="store_true", help="print the table of --json and exit")
    ap.add_argument("--bench-aarch64")
    ap.add_argument("--bench-armv7l")
    ap.add_argument("--ld-aarch64", help="qemu -L for the aarch64 bench_arm")
    ap.add_argument("--ld-armv7l", help="qemu -L for the armv7l bench_arm")
    ap.add_argument("--plugin", help="libicount.so")
    ap.add_argument("--shared")
    ap.add_argument("--image", help="PPM")
    ap.add_argument("--cpus", default=",".join(AARCH64_CPUS + ARMV7_CPUS))
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("-j", "--jobs", type=int, default=1, help="emulations run side by side")
    ap.add_argument("--json", required=True)
    ap.add_argument("--source", default="", help="where the bench_arm binaries came from (recorded)")
    args = ap.parse_args()
    if args.print_only:
        with open(args.json) as f:
            print(table(json.load(f)["results"]))
        return 0

    rows = matrix(args.cpus.split(","))
    t0 = time.time()
    results = []
    with cf.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        futs = [ex.submit(run_one, args, r) for r in rows]
        for i, f in enumerate(cf.as_completed(futs), 1):
            r = f.result()
            results.append(r)
            print(f"[{i}/{len(rows)}] {r['cpu']:<11} {r['model']:<16} {r['precision']:<5} "
                  f"network {r['network_insns'] / 1e6:8.2f} M  detect {r['detect_insns'] / 1e6:8.2f} M"
                  f"  ({r['seconds']:.0f} s)", file=sys.stderr, flush=True)
    results.sort(key=lambda r: (r["cpu"], r["model"], r["precision"]))
    doc = {
        "schema": "nanodet-ncnn-precision-icount/1",
        "what": "instructions per frame under qemu + icount plugin, one thread "
                "(OMP_THREAD_LIMIT=1), bus image letterboxed to the model's input size; "
                "network = raw extract (run_network), detect = preprocess + network + decode + NMS; "
                f"counted loop after {args.warmup} warm-up frame(s). Instruction counts are not time.",
        "image": os.path.basename(args.image),
        "bench_arm": args.source or {"aarch64": args.bench_aarch64, "armv7l": args.bench_armv7l},
        "emulation_seconds": round(time.time() - t0, 1),
        "results": results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print("M instructions per frame, network / detect (one thread, qemu + icount; not time):")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
