#!/usr/bin/env python3
"""detect() latency per shared model, beside the network-only floor, in one interleaved run.

For every model (its native size, letterbox) and thread count: median detect() ms on bus.jpg and
zidane.jpg, the median of Detector.run_network() on the same input size (ncnn alone), and their
ratio. Prints a table and writes JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2

MODELS = ["nanodet-m", "nanodet-plus-m-416", "nanodet-plus-m-416-onnx", "nanodet-plus-m-416-pnnx",
          "nanodet-plus-m-416-int8", "nanodet-plus-qr-416"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.environ.get("NANODET_NCNN_SHARED",
                                                       str(Path(__file__).resolve().parents[2] / "shared")))
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--loops", type=int, default=30)
    ap.add_argument("--resize", default="letterbox")
    ap.add_argument("--json", default="benchmarks/results/latency_per_model.json")
    args = ap.parse_args()
    os.environ.setdefault("NANODET_NCNN_MODELS", str(Path(args.shared) / "models"))
    import nanodet_ncnn

    images = {n: cv2.imread(str(Path(args.shared) / "images" / n)) for n in ("bus.jpg", "zidane.jpg")}
    rows = []
    for name in MODELS:
        for t in args.threads:
            m = nanodet_ncnn.load(name, num_threads=t, resize=args.resize)
            for img_name, img in images.items():
                d = m.detect(img)
                w, h = d.input_size
                det, net = [], []
                for _ in range(3):
                    m.detect(img)
                    m._core.run_network(w, h)
                for _ in range(args.loops):  # interleaved: both see the same machine state
                    t0 = time.perf_counter()
                    m.detect(img)
                    det.append((time.perf_counter() - t0) * 1e3)
                    t0 = time.perf_counter()
                    m._core.run_network(w, h)
                    net.append((time.perf_counter() - t0) * 1e3)
                r = {"model": name, "threads": t, "image": img_name, "input": f"{w}x{h}",
                     "detect_ms": statistics.median(det), "network_ms": statistics.median(net)}
                r["ratio"] = r["detect_ms"] / r["network_ms"]
                rows.append(r)
                print(f"{name:<26}{t:>3} thr  {img_name:<11}{r['input']:>8}  detect {r['detect_ms']:7.2f} ms"
                      f"  network {r['network_ms']:7.2f} ms  ratio {r['ratio']:.3f}", flush=True)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
