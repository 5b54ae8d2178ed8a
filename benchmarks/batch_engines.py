#!/usr/bin/env python3
"""Batch engines over the COCO128 folder, side by side in one run: serial predict (1 ncnn thread),
Ray Data (NanoDetPredictor, 2 actors x 1 thread) and Dask (LocalCluster, 2 worker processes x 1
thread). For each: images/s of a warm job, the start-up cost (cluster start, and how much longer
the first job took than the second), and the per-image overhead over serial detect, in core-ms
(wall time x workers / images - serial ms per image). Prints a table and writes JSON; reports,
asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def bench_serial(model, paths):
    import nanodet_ncnn

    det = nanodet_ncnn.load(model, num_threads=1)
    run = lambda: sum(1 for _ in det.predict(paths, stream=True, progress=False))  # noqa: E731
    t1, n = timed(run)
    t2, _ = timed(run)
    return dict(engine="serial predict", workers=1, startup_s=0.0, first_s=t1, warm_s=t2, rows=n)


def bench_ray(model, paths):
    import ray

    from nanodet_ncnn.ray import NanoDetPredictor

    t0, _ = timed(lambda: ray.init(num_cpus=2, include_dashboard=False,
                                   logging_level=logging.WARNING, log_to_driver=False))
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    import nanodet_ncnn

    det = nanodet_ncnn.load(model, num_threads=1)

    def run():
        ds = ray.data.from_items([{"path": p} for p in paths])
        return len(ds.map_batches(NanoDetPredictor, fn_constructor_kwargs={"model": det},
                                  compute=ray.data.ActorPoolStrategy(size=2), num_cpus=1,
                                  batch_size=8).take_all())

    try:
        t1, n = timed(run)
        t2, _ = timed(run)
    finally:
        ray.shutdown()
    return dict(engine="Ray Data", workers=2, startup_s=t0, first_s=t1, warm_s=t2, rows=n)


def bench_dask(model, paths):
    import dask.bag as db
    from dask.distributed import Client, LocalCluster

    import nanodet_ncnn
    from nanodet_ncnn.dask import detect_bag

    t0, cluster = timed(lambda: LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                             host="127.0.0.1", dashboard_address=None))
    det = nanodet_ncnn.load(model, num_threads=1)
    try:
        with Client(cluster):
            run = lambda: len(detect_bag(db.from_sequence(paths, npartitions=16), det).compute())  # noqa: E731
            t1, n = timed(run)
            t2, _ = timed(run)
    finally:
        cluster.close()
    return dict(engine="Dask", workers=2, startup_s=t0, first_s=t1, warm_s=t2, rows=n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="nanodet-plus-m-416")
    ap.add_argument("--limit", type=int, default=None, help="first N images of COCO128")
    ap.add_argument("--engines", default="serial,ray,dask")
    ap.add_argument("--shared", default=os.environ.get("NANODET_NCNN_SHARED",
                                                       str(Path(__file__).resolve().parents[2] / "shared")))
    ap.add_argument("--json", default="benchmarks/results/batch_engines.json")
    args = ap.parse_args()
    os.environ.setdefault("NANODET_NCNN_MODELS", str(Path(args.shared) / "models"))
    paths = sorted(str(p) for p in (Path(args.shared) / "datasets/coco128-val2017/images").glob("*.jpg"))
    paths = paths[: args.limit]
    engines = {"serial": bench_serial, "ray": bench_ray, "dask": bench_dask}
    load_before = os.getloadavg()
    rows = [engines[e](args.model, paths) for e in args.engines.split(",")]
    serial = next((r for r in rows if r["engine"] == "serial predict"), None)
    serial_ms = 1000 * serial["warm_s"] / len(paths) if serial else None
    print(f"{len(paths)} images, {args.model}; load average {load_before[0]:.1f} on "
          f"{os.cpu_count()} CPUs before the run")
    print(f"{'engine':<16}{'workers':>8}{'images/s':>10}{'vs serial':>10}{'start-up s':>11}"
          f"{'1st-2nd job s':>14}{'overhead core-ms/img':>22}")
    for r in rows:
        r["images_per_s"] = len(paths) / r["warm_s"]
        r["speedup_vs_serial"] = r["images_per_s"] * serial["warm_s"] / len(paths) if serial else None
        r["first_job_extra_s"] = r["first_s"] - r["warm_s"]
        r["overhead_core_ms_per_image"] = (1000 * r["warm_s"] * r["workers"] / len(paths) - serial_ms
                                           if serial else None)
        print(f"{r['engine']:<16}{r['workers']:>8}{r['images_per_s']:>10.1f}"
              f"{(r['speedup_vs_serial'] or 0):>9.2f}x{r['startup_s']:>11.1f}"
              f"{r['first_job_extra_s']:>14.1f}{(r['overhead_core_ms_per_image'] or 0):>22.1f}")
    print("workers (the stream engine's process pool): not on main yet, not measured")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"images": len(paths), "model": args.model,
                                           "loadavg_before": load_before, "cpus": os.cpu_count(),
                                           "serial_ms_per_image": serial_ms, "rows": rows}, indent=2))
    print(f"-> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
