"""fp32 / fp16 / our int8 (kl, aciq, mixed) / the shipped int8: COCO128 mAP and detect() latency,
measured side by side in one run. Prints a markdown table and writes JSON.

    python benchmarks/precision_table.py                       # ~5 min on 2 cores
    python benchmarks/precision_table.py --json out.json --iters 30

Calibration uses the even-indexed half of COCO128 (64 images); mAP is reported on all 128
images and on the 64 held-out (odd-indexed) images that calibration never saw. When ncnn's own
ncnn2table + ncnn2int8 are built (tools/quantize/build_ncnn2int8.sh, or --ncnn-tools DIR), they
calibrate the same fp32 model on the same 64 images, fed as .npy files of our own preprocessed
input (letterbox, mean/norm), with kl and aciq: the same-network, same-images comparison. Latency: median
of `iters` detect() calls on bus.jpg per model and thread count, the models interleaved call by
call so that they share the machine's state.
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shared() -> Path:
    return Path(os.environ.get("NANODET_NCNN_SHARED", ROOT.parent / "shared"))


def subset(coco: Path, images: list[Path], dst: Path) -> Path:
    (dst / "images").mkdir(parents=True)
    (dst / "labels").mkdir()
    for p in images:
        (dst / "images" / p.name).symlink_to(p)
        lbl = coco / "labels" / (p.stem + ".txt")
        if lbl.exists():
            (dst / "labels" / lbl.name).symlink_to(lbl)
    (dst / "names.yaml").symlink_to(coco / "names.yaml")
    return dst


def ncnn_tools(arg: str | None) -> Path | None:
    """The folder holding ncnn2table and ncnn2int8, or None (with the reason on stderr)."""
    if arg:
        return Path(arg)
    r = subprocess.run(["bash", str(ROOT / "tools" / "quantize" / "build_ncnn2int8.sh")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"no ncnn2int8 rows: {r.stderr.strip()}", file=sys.stderr)
        return None
    return Path(r.stdout.strip().splitlines()[-1])


def ncnn2int8_models(tools: Path, fp32: Path, calib: list[Path], det, out_dir: Path,
                     methods=("kl", "aciq")) -> list[tuple[str, Path]]:
    """ncnn2table + ncnn2int8 on `calib`, fed our own preprocessed input blob as .npy."""
    import cv2
    import numpy as np
    from nanodet_ncnn.ncnn_model import Model

    src = next(L for L in Model.load(fp32).layers if L.type == "Input").tops[0]
    npy = out_dir / "calib_npy"
    npy.mkdir(parents=True, exist_ok=True)
    paths = []
    for p in calib:
        a = det.extract_blobs(cv2.imread(str(p)), [src])[src].astype(np.float32)
        np.save(npy / f"{p.stem}.npy", np.ascontiguousarray(a))
        paths.append(str(npy / f"{p.stem}.npy"))
    c, h, w = a.shape
    (out_dir / "calib_npy.txt").write_text("\n".join(paths) + "\n")
    out = []
    for m in methods:
        prefix = out_dir / f"ncnn2int8_{m}"
        table = prefix.with_suffix(".table")
        subprocess.run([str(tools / "ncnn2table"), str(fp32), str(fp32.with_suffix(".bin")),
                        str(out_dir / "calib_npy.txt"), str(table), f"shape=[{w},{h},{c}]",
                        "type=1", f"method={m}", "thread=2"], check=True, capture_output=True)
        subprocess.run([str(tools / "ncnn2int8"), str(fp32), str(fp32.with_suffix(".bin")),
                        str(prefix.with_suffix(".param")), str(prefix.with_suffix(".bin")),
                        str(table)], check=True, capture_output=True)
        out.append((m, prefix.with_suffix(".param")))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "precision.json"))
    ap.add_argument("--iters", type=int, default=30, help="timed detect() calls per model and thread count")
    ap.add_argument("--auto-mixed", type=int, default=4, help="K for the mixed-precision row")
    ap.add_argument("--out-dir", default=None, help="where the int8 models go (default: a temp dir)")
    ap.add_argument("--ncnn-tools", default=None,
                    help="folder with ncnn2table + ncnn2int8 (default: tools/quantize/build_ncnn2int8.sh)")
    args = ap.parse_args()

    import cv2
    import numpy as np

    import nanodet_ncnn
    from nanodet_ncnn import Detector
    from nanodet_ncnn.evaluate import evaluate
    from nanodet_ncnn.quantize import quantize

    sh = shared()
    coco = sh / "datasets" / "coco128-val2017"
    base = sh / "models" / "Deepdive543443__ncnn-android-nanodet"
    fp32 = base / "nanodet-plus-m_416.param"
    shipped = base / "nanodet-plus-m_416_int8.param"
    imgs = sorted((coco / "images").glob("*.jpg"))
    calib, held = imgs[0::2], imgs[1::2]
    tmp = Path(tempfile.mkdtemp(prefix="precision-"))
    out_dir = Path(args.out_dir) if args.out_dir else tmp
    held_dir = subset(coco, held, tmp / "heldout")

    t0 = time.time()
    rows = [{"name": "fp32", "param": fp32, "precision": "fp32"},
            {"name": "fp16 (fp16 storage + arithmetic where the CPU has it)", "param": fp32,
             "precision": "fp16"}]
    for tag, name, method, extra in (
            ("kl", "int8 ours, kl", "kl", {}), ("aciq", "int8 ours, aciq", "aciq", {}),
            ("kl_mixed", f"int8 ours, kl + {args.auto_mixed} fp32 layers (auto-mixed)", "kl",
             {"auto_mixed": args.auto_mixed}),
            ("kl_pointwise", "int8 ours, kl, 1x1 convs only (`--layers pointwise`)", "kl",
             {"layers": "pointwise"})):
        tq = time.time()
        rep = quantize(fp32, calib, out_dir / f"nanodet-plus-m_416_{tag}", method=method,
                       num_images=len(calib), num_threads=2, progress=False, **extra)
        rows.append({"name": name, "param": Path(rep["param"]), "precision": "int8",
                     "quantize_s": round(time.time() - tq, 1), "bin_bytes": rep["bin_bytes"],
                     "fp32_layers": rep["fp32_layers"]})
        print(f"quantized {name} in {rows[-1]['quantize_s']} s", file=sys.stderr)
    tools = ncnn_tools(args.ncnn_tools)
    if tools is not None:
        det = Detector(fp32, precision="fp32", num_threads=2)
        for m, param in ncnn2int8_models(tools, fp32, calib, det, out_dir):
            rows.append({"name": f"int8 ncnn2table + ncnn2int8, {m}, same 64 images",
                         "param": param, "precision": "int8"})
    rows.append({"name": "int8 shipped (ncnn2int8, Deepdive543443)", "param": shipped,
                 "precision": "int8"})
    for r in rows:
        r.setdefault("bin_bytes", r["param"].with_suffix(".bin").stat().st_size)

    for r in rows:
        det = Detector(r["param"], precision=r["precision"], num_threads=2)
        full = evaluate(det, coco, progress=False)
        ho = evaluate(det, held_dir, progress=False)
        r.update(map=full["map"], map50=full["map50"], heldout_map=ho["map"],
                 heldout_map50=ho["map50"])
        print(f"evaluated {r['name']}: mAP {full['map']:.4f}", file=sys.stderr)

    bus = cv2.imread(str(sh / "images" / "bus.jpg"))
    for threads in (1, 2):
        dets = [Detector(r["param"], precision=r["precision"], num_threads=threads) for r in rows]
        times: list[list[float]] = [[] for _ in rows]
        for _ in range(3):
            for d in dets:
                d.detect(bus)
        for _ in range(args.iters):
            for i, d in enumerate(dets):
                t = time.perf_counter()
                d.detect(bus)
                times[i].append((time.perf_counter() - t) * 1e3)
        for r, ts in zip(rows, times):
            r[f"ms_{threads}t"] = statistics.median(ts)

    ref = rows[0]
    print(f"\nNanoDet-Plus-m 416, COCO128 (128 images; held-out: the 64 not used for calibration), "
          f"detect() median on bus.jpg, {platform.machine()}, ncnn {nanodet_ncnn.ncnn_version()}\n")
    print("| model | mAP@[.5:.95] | mAP@.5 | held-out mAP | Δ mAP vs fp32 | 1 thread ms | 2 threads ms | bin bytes |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['map']*100:.1f} | {r['map50']*100:.1f} | {r['heldout_map']*100:.1f} | "
              f"{(r['map'] - ref['map'])*100:+.1f} | {r['ms_1t']:.1f} | {r['ms_2t']:.1f} | {r['bin_bytes']:,} |")
    mixed = [r for r in rows if r.get("fp32_layers") and "auto-mixed" in r["name"]]
    if mixed:
        print(f"\nauto-mixed kept in fp32: {', '.join(mixed[0]['fp32_layers'])}")
    out = {"machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
           "ncnn": nanodet_ncnn.ncnn_version(), "iters": args.iters,
           "ncnn_tools": str(tools) if tools else None,
           "seconds": round(time.time() - t0, 1),
           "rows": [{k: (str(v) if isinstance(v, Path) else v) for k, v in r.items()} for r in rows]}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
