"""INT8 vs fp16 / fp32 on ARM: exact aarch64 instruction counts of one network pass (bench_arm
--stage network, one thread) under qemu + the icount plugin, for NanoDet-Plus-m 416 with the
ncnn options and graph variants that could make INT8 cheaper. Prints a markdown table and
writes JSON.

    python benchmarks/int8_arm_cost.py                 # cortex-a76, ~15 min on 2 cores
    python benchmarks/int8_arm_cost.py --cpu cortex-a76 --json out.json

Graph variants are made from the shipped ncnn2int8 model (its scales, so only the graph
differs): requantize fusion stripped, and depthwise convs (or everything but the 1x1 convs)
back in float. Instruction counts are not time: they ignore memory stalls and issue width, and
compare only rows of one run (same binary, CPU model and image).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FP16 = "use_fp16_packed=1,use_fp16_storage=1,use_fp16_arithmetic=1"


def shared() -> Path:
    return Path(os.environ.get("NANODET_NCNN_SHARED", ROOT.parent / "shared"))


def variants(shipped: Path, fp32: Path, out: Path) -> dict[str, Path]:
    """Graph variants of the shipped int8 model, sharing its weights and scales."""
    from nanodet_ncnn.ncnn_model import Model

    def float_layers(keep) -> Path:
        q, f = Model.load(shipped), Model.load(fp32)
        names = {L.name for L in q.layers if L.get(8, 0) and keep(L)}
        producers = {L.tops[0]: L for L in q.layers if L.tops}
        for L in q.layers:
            if L.name in names:
                src = f.layer(L.name)
                L.raw, L.params = src.raw, list(src.params)
        # a layer requantizing into a now-float consumer must emit float instead
        for L in q.layers:
            if L.name in names:
                p = producers.get(L.bottoms[0])
                if p is not None and p.get(8, 0) > 100:
                    p.raw = p.raw[:-4]
                    p.set(8, p.get(8, 0) - 100)
        return q.save(out / f"float_{len(names)}")[0]

    m = Model.load(shipped)
    for L in m.layers:
        if L.get(8, 0) > 100:  # drop the stored output scale: dequantize, then quantize again
            L.raw = L.raw[:-4]
            L.set(8, L.get(8, 0) - 100)
    unfused = m.save(out / "int8_unfused")[0]
    return {
        "unfused": unfused,
        "dw_float": float_layers(lambda L: L.type == "ConvolutionDepthWise"),
        "only_1x1_int8": float_layers(lambda L: not (L.type == "Convolution" and L.get(1, 0) == 1)),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpu", default="cortex-a76")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "int8_arm_cost.json"))
    ap.add_argument("--only", default="", help="comma list of row keys to run (default: all)")
    args = ap.parse_args()

    sh = shared()
    base = sh / "models" / "Deepdive543443__ncnn-android-nanodet"
    fp32, shipped = base / "nanodet-plus-m_416.param", base / "nanodet-plus-m_416_int8.param"
    tmp = Path(tempfile.mkdtemp(prefix="int8-arm-"))
    v = variants(shipped, fp32, tmp)
    rows = [  # key, label, param, precision, ncnn options
        ("fp32", "fp32", fp32, "fp32", ""),
        ("fp16", "fp16 (storage + arithmetic)", fp32, "fp16", ""),
        ("int8", "int8 (shipped ncnn2int8 graph; float glue in fp32, as precision='int8')",
         shipped, "int8", ""),
        ("int8_fp16", "int8 + fp16 storage/arithmetic for the float glue", shipped, "int8", FP16),
        ("int8_vk", "int8 + use_int8_packed/storage/arithmetic=1", shipped, "int8",
         "use_int8_packed=1,use_int8_storage=1,use_int8_arithmetic=1"),
        ("int8_nopack", "int8, use_packing_layout=0", shipped, "int8", "use_packing_layout=0"),
        ("int8_unfused", "int8 without requantize fusion (every conv dequantizes)",
         v["unfused"], "int8", ""),
        ("int8_dwf16", "int8 1x1 + 3x3 convs, depthwise in fp16 (+ fp16 glue)",
         v["dw_float"], "int8", FP16),
        ("int8_1x1f32", "int8 1x1 convs only, the rest in fp32", v["only_1x1_int8"], "int8", ""),
        ("int8_1x1f16", "int8 1x1 convs only, the rest in fp16", v["only_1x1_int8"], "int8", FP16),
        # qemu has no Cortex-A55; it has the A76's ISA (v8.2 fp16 + dotprod), and ncnn picks its
        # in-order-core kernels on A53/A55 by this switch alone
        ("fp16_a55", "fp16, A55 kernels (use_a53_a55_optimized_kernel=1)", fp32, "fp16",
         "use_a53_a55_optimized_kernel=1"),
        ("int8_fp16_a55", "int8 + fp16 glue, A55 kernels", shipped, "int8",
         FP16 + ",use_a53_a55_optimized_kernel=1"),
        ("int8_1x1f16_a55", "int8 1x1 convs only, the rest in fp16, A55 kernels",
         v["only_1x1_int8"], "int8", FP16 + ",use_a53_a55_optimized_kernel=1"),
    ]
    if args.only:
        keep = set(args.only.split(","))
        rows = [r for r in rows if r[0] in keep]
    script = ROOT / "tools" / "arm" / "bench_icount.sh"
    results = []
    t0 = time.time()
    for i, (key, label, param, prec, opt) in enumerate(rows):
        js = tmp / f"{key}.json"
        cmd = ["bash", str(script), "--cpu", args.cpu, "--model", str(param), "--precision", prec,
               "--stages", "network", "--json", str(js)]
        if opt:
            cmd += ["--ncnn-opt", opt]
        t = time.time()
        print(f"[{i + 1}/{len(rows)}] {key} ...", file=sys.stderr, flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        r = json.loads(js.read_text())
        results.append({"key": key, "label": label, "param": param.name, "precision": prec,
                        "ncnn_opt": opt, "network_insns": r["network_insns"],
                        "emulation_s": round(time.time() - t, 1)})
    ref = {r["key"]: r["network_insns"] for r in results}
    print(f"\nNanoDet-Plus-m 416 network pass (bench_arm --stage network, bus.jpg letterboxed to "
          f"416x416, 1 thread), qemu-aarch64 -cpu {args.cpu} + icount\n")
    print("| configuration | M instructions | vs fp16 | vs fp32 |")
    print("|---|---|---|---|")
    for r in results:
        n = r["network_insns"]
        vs16 = f"{n / ref['fp16']:.2f}x" if "fp16" in ref else "-"
        vs32 = f"{n / ref['fp32']:.2f}x" if "fp32" in ref else "-"
        print(f"| {r['label']} | {n / 1e6:.1f} | {vs16} | {vs32} |")
    out = {"cpu": args.cpu, "seconds": round(time.time() - t0, 1), "rows": results}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
