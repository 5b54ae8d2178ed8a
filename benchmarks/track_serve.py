#!/usr/bin/env python3
"""Tracking id stability on the test clips, and the live server under load, in one run.

1. model.track() on the clips of tests/test_track.py (real people cut from the shared photos):
   per object, the share of its on-screen frames carrying its majority id, and its id count.
2. `nanodet-ncnn serve` (subprocess, loopback): inference fps in alternating windows without
   clients and with N streaming MJPEG clients; server RSS while one client stalls (never reads).
Prints a table and writes JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the clip builders and the server harness of the tests


def tracking(model, people) -> list[dict]:
    import test_track as T

    rows = []
    clips = [("translate", T.clip_translate(people), {}),
             ("pass each other", T.clip_pass(people), {}),
             ("leave + re-enter", T.clip_reentry(people, 8), {"track_buffer": 8})]
    for name, (frames, truths), kw in clips:
        results = list(model.track(frames, stream=True, progress=False, **kw))
        for k, ids in enumerate(T.ids_of_truth(results, truths)):
            seen = [i for i in ids if i is not None]
            tid, share = T.majority(seen)
            rows.append({"clip": name, "object": "ab"[k], "frames": len(seen),
                         "majority_id_share": round(share, 4),
                         "ids": sorted({i for i in seen if i >= 0}),
                         "untracked_frames": sum(1 for i in seen if i < 0)})
    return rows


def serving(clip: Path, clients: int, rounds: int, window: float, stall_s: float) -> dict:
    from serve_helpers import Reader, Server, open_stream

    s = Server(clip, "--max-clients", str(clients + 4))
    try:
        def fps(sec):
            f0, t0 = s.health()["frames"], time.monotonic()
            time.sleep(sec)
            return (s.health()["frames"] - f0) / (time.monotonic() - t0)

        idle, busy = [], []
        for _ in range(rounds):
            idle.append(fps(window))
            readers = [Reader(s.port, window + 0.7) for _ in range(clients)]
            for r in readers:
                r.start()
            time.sleep(0.4)
            busy.append(fps(window))
            for r in readers:
                r.join(10)
        stalled = open_stream(s.port)
        time.sleep(2)
        rss0 = peak = s.rss_kb()
        f0 = s.health()["frames"]
        end = time.monotonic() + stall_s
        while time.monotonic() < end:
            time.sleep(1)
            peak = max(peak, s.rss_kb())
        frames_during = s.health()["frames"] - f0
        stalled.close()
    finally:
        code, took = s.stop()
    return {"clients": clients, "fps_idle": round(sum(idle) / rounds, 2),
            "fps_busy": round(sum(busy) / rounds, 2),
            "ratio": round(sum(busy) / sum(idle), 3), "windows_idle": [round(v, 2) for v in idle],
            "windows_busy": [round(v, 2) for v in busy], "stall_seconds": stall_s,
            "rss_start_mb": round(rss0 / 1024, 1), "rss_peak_mb": round(peak / 1024, 1),
            "rss_growth_mb": round((peak - rss0) / 1024, 1), "frames_during_stall": frames_during,
            "sigterm_exit": code, "sigterm_seconds": round(took, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--window", type=float, default=2.5, help="seconds per measuring window")
    ap.add_argument("--stall", type=float, default=30.0, help="seconds of stalled client")
    ap.add_argument("--json", default="benchmarks/results/track_serve.json")
    args = ap.parse_args()
    import tempfile

    import cv2
    import nanodet_ncnn
    from conftest import IMAGES, model_paths
    from serve_helpers import zidane_clip

    param, bin_path = model_paths("nanodet_m")
    model = nanodet_ncnn.load(param, bin_path, num_threads=1, input_size=320)
    z, b = cv2.imread(str(IMAGES / "zidane.jpg")), cv2.imread(str(IMAGES / "bus.jpg"))
    people = (cv2.resize(z[20:720, 720:1180], None, fx=0.4, fy=0.4),
              cv2.resize(b[380:910, 40:230], None, fx=0.5, fy=0.5))
    rows = tracking(model, people)
    with tempfile.TemporaryDirectory() as tmp:
        srv = serving(zidane_clip(Path(tmp) / "zidane.mp4"), args.clients, args.rounds,
                      args.window, args.stall)

    print("Tracking (nanodet_m 320, 1 thread, track() defaults; a track's first frame is -1)")
    print(f"{'clip':<18}{'obj':>4}{'frames':>8}{'majority id share':>19}{'ids':>10}{'untracked':>11}")
    for r in rows:
        print(f"{r['clip']:<18}{r['object']:>4}{r['frames']:>8}{r['majority_id_share']:>19.3f}"
              f"{str(r['ids']):>10}{r['untracked_frames']:>11}")
    print(f"\nServe (640x360 clip, nanodet_m 320, 1 thread; {args.rounds} alternating windows of "
          f"{args.window} s)")
    print(f"{'clients':>8}{'inference fps':>15}")
    print(f"{0:>8}{srv['fps_idle']:>15.2f}")
    print(f"{args.clients:>8}{srv['fps_busy']:>15.2f}   ratio {srv['ratio']:.3f}")
    print(f"stalled client, {args.stall:.0f} s: RSS {srv['rss_start_mb']} MB -> peak "
          f"{srv['rss_peak_mb']} MB (+{srv['rss_growth_mb']} MB), {srv['frames_during_stall']} "
          f"frames inferred meanwhile; SIGTERM exit {srv['sigterm_exit']} in {srv['sigterm_seconds']} s")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"tracking": rows, "serve": srv}, indent=2))
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
