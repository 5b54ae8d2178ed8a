#!/usr/bin/env python3
"""Video pipeline throughput vs the inference-only rate, measured side by side in one run.

Generates a video (default 300 frames, 1280x720, 30 fps) from a shared photo, then measures:
  1. detect() alone on the decoded frames (frames held in memory): the inference-bound rate
  2. model.predict(video).save(out.mp4): decode + detect + draw + encode, overlapped in threads
Prints a table and writes JSON. Target (issue #4): pipeline fps >= 0.9 x detect-only fps.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


def make_video(path: Path, image: Path, frames: int, size=(1280, 720), fps=30) -> None:
    src = cv2.resize(cv2.imread(str(image)), size)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(frames):
        w.write(np.roll(src, 5 * i, axis=1))
    w.release()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="nanodet-plus-m-416")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--resize", default="letterbox")
    ap.add_argument("--shared", default=os.environ.get("NANODET_NCNN_SHARED",
                                                       str(Path(__file__).resolve().parents[2] / "shared")))
    ap.add_argument("--json", default="benchmarks/results/video_throughput.json")
    args = ap.parse_args()
    os.environ.setdefault("NANODET_NCNN_MODELS", str(Path(args.shared) / "models"))
    import nanodet_ncnn

    model = nanodet_ncnn.load(args.model, num_threads=args.threads, resize=args.resize)
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "in.mp4"
        make_video(video, Path(args.shared) / "images" / "zidane.jpg", args.frames)
        cap = cv2.VideoCapture(str(video))
        frames = []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(f)
        model.detect(frames[0])  # warm-up
        t0 = time.perf_counter()
        per = []
        for f in frames:
            per.append(model.detect(f).times["total"])
        detect_only = len(frames) / (time.perf_counter() - t0)
        vp = model.predict(str(video), progress=False)
        t0 = time.perf_counter()
        vp.save(Path(tmp) / "out.mp4")
        pipeline = vp.stats["frames"] / (time.perf_counter() - t0)
    result = {"model": args.model, "threads": model.num_threads, "frames": len(frames),
              "frame_size": [1280, 720], "input_size": list(model.input_size),
              "detect_ms_median": statistics.median(per), "detect_only_fps": detect_only,
              "pipeline_fps": pipeline, "ratio": pipeline / detect_only}
    print(f"{'model':<22}{'threads':>8}{'detect ms':>11}{'detect-only fps':>17}{'pipeline fps':>14}{'ratio':>8}")
    print(f"{args.model:<22}{model.num_threads:>8}{result['detect_ms_median']:>11.2f}"
          f"{detect_only:>17.2f}{pipeline:>14.2f}{result['ratio']:>8.3f}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
