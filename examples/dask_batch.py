"""Batch detection on Dask: a folder of images (or a Parquet list of paths) -> Parquet.

    pip install "nanodet-ncnn[dask]"
    python examples/dask_batch.py IMAGES_OR_PATHS.parquet OUT_FOLDER [--workers 2]

Locally this starts a LocalCluster of worker processes; on a cluster (`dask scheduler` on one
machine, `dask worker tcp://HOST:8786 --nthreads 1` on each worker) pass `--scheduler
tcp://HOST:8786`. Each worker process builds the network once, on its first task.
"""
from __future__ import annotations

import argparse
import os
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="image folder, or a .parquet file/folder with a `path` column")
    ap.add_argument("out", help="Parquet output folder (one file per partition)")
    ap.add_argument("--model", default="nanodet-plus-m-416", help="zoo name or .param path")
    ap.add_argument("--workers", type=int, default=2, help="local worker processes")
    ap.add_argument("--threads", type=int, default=1, help="ncnn threads per task")
    ap.add_argument("--partitions", type=int, default=None, help="default: 4 per worker")
    ap.add_argument("--scheduler", default=None, help="address of a running Dask scheduler")
    ap.add_argument("--limit", type=int, default=None, help="only the first N images")
    args = ap.parse_args(argv)
    if os.path.isdir(args.out) and os.listdir(args.out):
        ap.error(f"{args.out} already holds files: choose a new output folder or remove it")

    import dask.bag as db
    from dask.distributed import Client, LocalCluster

    import nanodet_ncnn
    from nanodet_ncnn.batch_rows import list_inputs, parquet_summary
    from nanodet_ncnn.dask import detect_bag, to_parquet

    t0 = time.perf_counter()
    cluster = None
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        paths = list_inputs(args.source)[: args.limit]
        workers = max(1, len(client.scheduler_info()["workers"]))
        bag = db.from_sequence(paths, npartitions=min(len(paths), args.partitions or 4 * workers))
        # The Detector travels to each worker once by pickle and is built there on first use.
        rows = detect_bag(bag, nanodet_ncnn.load(args.model), num_threads=args.threads)
        files = to_parquet(rows, args.out)
    finally:
        client.close()
        if cluster:
            cluster.close()
    dt = time.perf_counter() - t0

    n, found, bad = parquet_summary(args.out)
    print(f"{n} images, {found} detections, {bad} unreadable -> {args.out} ({len(files)} files, "
          f"{n / dt:.1f} images/s including start-up)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
