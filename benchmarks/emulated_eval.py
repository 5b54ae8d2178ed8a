#!/usr/bin/env python3
"""mAP cost of fp16 arithmetic where it actually runs: COCO128 detections computed under
qemu-aarch64 -cpu cortex-a76 (ARMv8.2 fp16: ncnn's fp16 convolutions run) with precision fp32
and fp16, nanodet-m and NanoDet-Plus-m 416, scored on the host with pycocotools
(nanodet_ncnn.evaluate.coco_map, the code `nanodet-ncnn eval` uses).

Normally started by tools/arm/precision_icount.sh --eval, which supplies the emulator command. Direct use:

  python benchmarks/emulated_eval.py --emu "qemu-aarch64 -cpu cortex-a76 -L SYSROOT SYSROOT/usr/bin/python3.11" \\
      --pythonpath SITE1:SITE2 --data ../shared/datasets/coco128-val2017 --limit 32 --json OUT

`--worker` is the emulated half: it loads each precision of one model, runs detect() on the
images (conf 0.001, as eval does) and writes the raw predictions as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

MODELS = {
    "nanodet-m": "models/nihui__ncnn-assets/nanodet_m.param",
    "nanodet-plus-m-416": "models/Deepdive543443__ncnn-android-nanodet/nanodet-plus-m_416.param",
}
PRECISIONS = ("fp32", "fp16")


def worker(args) -> int:
    import nanodet_ncnn
    from nanodet_ncnn.evaluate import class_mapping
    from nanodet_ncnn.sources import to_frames

    with open(args.images) as f:  # the host read the dataset (decoding it here costs minutes)
        spec = json.load(f)
    images = spec["images"]
    out = {"cpu": args.cpu_label, "model": args.model, "ncnn": nanodet_ncnn.__version__, "runs": {}}
    for prec in PRECISIONS:
        det = nanodet_ncnn.Detector(os.path.join(args.shared, MODELS[args.model]), precision=prec,
                                    num_threads=1)
        mapping = class_mapping(list(det.names), spec["names"])
        preds = []
        t0 = time.time()
        with to_frames([im["path"] for im in images]) as frames:
            for i, (im, fr) in enumerate(zip(images, frames), 1):
                d = det.detect(fr.image, conf=0.001, iou=0.6, max_det=100)
                for box, score, c in zip(d.xyxy.tolist(), d.scores.tolist(), d.class_ids.tolist()):
                    if mapping[c] >= 0:
                        preds.append({"image_id": im["id"], "class_id": mapping[c], "xyxy": box,
                                      "score": score})
                if i % 8 == 0 or i == len(images):
                    print(f"  {args.model} {prec}: {i}/{len(images)} images, {time.time() - t0:.0f} s",
                          file=sys.stderr, flush=True)
        out["runs"][prec] = {"describe": det.describe(), "predictions": preds}
    with open(args.out, "w") as f:
        json.dump(out, f)
    return 0


def host(args) -> int:
    from nanodet_ncnn.evaluate import coco_map, load_dataset

    env = dict(os.environ, PYTHONPATH=args.pythonpath, OMP_THREAD_LIMIT="1", PYTHONHASHSEED="0",
               PYTHONDONTWRITEBYTECODE="1", OPENBLAS_NUM_THREADS="1")
    gt = load_dataset(args.data)
    if args.limit:
        keep = {im["id"] for im in gt.images[:args.limit]}
        gt.images = gt.images[:args.limit]
        gt.boxes = [b for b in gt.boxes if b["image_id"] in keep]
    fd, images_json = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump({"names": gt.names, "images": [{"id": im["id"], "path": im["path"]}
                                                 for im in gt.images]}, f)
    procs, outs = [], {}
    t0 = time.time()
    for model in args.models.split(","):
        fd, outs[model] = tempfile.mkstemp(suffix=".json")
        os.close(fd)
        cmd = (["nice", "-n", "10"] + shlex.split(args.emu) +
               [os.path.abspath(__file__), "--worker", "--model", model, "--images", images_json,
                "--shared", args.shared, "--cpu-label", args.cpu_label, "--out", outs[model]])
        procs.append((model, subprocess.Popen(cmd, env=env)))
    for model, p in procs:
        if p.wait() != 0:
            sys.exit(f"emulated detection of {model} failed (exit {p.returncode})")
    os.unlink(images_json)
    result = {"schema": "nanodet-ncnn-emulated-eval/1", "cpu": args.cpu_label,
              "data": os.path.basename(os.path.normpath(args.data)), "images": len(gt.images),
              "conf": 0.001, "iou": 0.6, "emulation_seconds": round(time.time() - t0, 1),
              "models": {}}
    for model, path in outs.items():
        with open(path) as f:
            raw = json.load(f)
        os.unlink(path)
        entry = {}
        for prec, run in raw["runs"].items():
            m = coco_map(gt, run["predictions"])
            entry[prec] = {"map": m["map"], "map50": m["map50"], "describe": run["describe"],
                           "detections": len(run["predictions"])}
        entry["delta_map_fp16_minus_fp32"] = entry["fp16"]["map"] - entry["fp32"]["map"]
        entry["delta_map50_fp16_minus_fp32"] = entry["fp16"]["map50"] - entry["fp32"]["map50"]
        result["models"][model] = entry
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    print(f"COCO128 ({len(gt.images)} images) detected under qemu {args.cpu_label}, scored with pycocotools")
    print("| model | fp32 mAP | fp16 mAP | Δ mAP | fp32 mAP@.5 | fp16 mAP@.5 | Δ mAP@.5 |")
    print("|---|---|---|---|---|---|---|")
    for model, e in result["models"].items():
        print(f"| {model} | {100 * e['fp32']['map']:.2f} | {100 * e['fp16']['map']:.2f} | "
              f"{100 * e['delta_map_fp16_minus_fp32']:+.2f} | {100 * e['fp32']['map50']:.2f} | "
              f"{100 * e['fp16']['map50']:.2f} | {100 * e['delta_map50_fp16_minus_fp32']:+.2f} |")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", action="store_true", help="the emulated half (internal)")
    ap.add_argument("--emu", default="", help="command that runs the emulated python3.11")
    ap.add_argument("--pythonpath", default="", help="PYTHONPATH of the emulated python")
    ap.add_argument("--cpu-label", default="cortex-a76")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    ap.add_argument("--data", default="")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--model", default="")
    ap.add_argument("--limit", type=int, default=0, help="first N images (0 = all)")
    ap.add_argument("--images", default="", help="(worker) JSON of names and images to run")
    ap.add_argument("--out", default="")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    args.shared = os.path.abspath(args.shared)
    if not args.data:
        args.data = os.path.join(args.shared, "datasets", "coco128-val2017")
    if args.worker:
        return worker(args)
    if not args.emu:
        ap.error("--emu is required (or use tools/arm/precision_icount.sh --eval)")
    return host(args)


if __name__ == "__main__":
    sys.exit(main())
