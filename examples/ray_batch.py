"""Batch detection on Ray Data: a folder of images (or a Parquet list of paths) -> Parquet.

    pip install "nanodet-ncnn[ray]"
    python examples/ray_batch.py IMAGES_OR_PATHS.parquet OUT_FOLDER [--actors 2] [--cpus 1]

Locally this starts a Ray instance; on a cluster (`ray start --head` on one machine, `ray start
--address HEAD:6379` on each worker, x86 or aarch64 alike) pass `--address auto` from a node of it.
Paths must be readable at the same place on every node (a shared mount), or use
`--read-images` to let Ray read the files (also object stores such as s3:// folders).
"""
from __future__ import annotations

import argparse
import os
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="image folder, or a .parquet file/folder with a `path` column")
    ap.add_argument("out", help="Parquet output folder")
    ap.add_argument("--model", default="nanodet-plus-m-416", help="zoo name or .param path")
    ap.add_argument("--actors", type=int, default=2, help="model replicas (one network each)")
    ap.add_argument("--cpus", type=float, default=1, help="CPUs per actor = its ncnn threads")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--conf", type=float, default=None)
    ap.add_argument("--address", default=None, help="Ray cluster address ('auto' inside one)")
    ap.add_argument("--read-images", action="store_true",
                    help="decode with ray.data.read_images; keep actors x cpus below the "
                         "cluster's CPUs so its read tasks can run")
    ap.add_argument("--limit", type=int, default=None, help="only the first N images")
    args = ap.parse_args(argv)
    if os.path.isdir(args.out) and os.listdir(args.out):
        ap.error(f"{args.out} already holds files: choose a new output folder or remove it")

    import ray

    import nanodet_ncnn
    from nanodet_ncnn.batch_rows import list_inputs, parquet_summary
    from nanodet_ncnn.ray import NanoDetPredictor
    ray.init(address=args.address, include_dashboard=False)
    t0 = time.perf_counter()
    if args.read_images:
        ds = ray.data.read_images(args.source, include_paths=True, mode="RGB")
    else:
        # The path list is small: read it here, so no read task competes with the actors for CPUs.
        ds = ray.data.from_items([{"path": p} for p in list_inputs(args.source)])
    if args.limit:
        ds = ds.limit(args.limit)
    # A Detector loaded here travels to the actors by pickle (paths + sha256, every option);
    # a zoo name would be resolved on each node instead.
    model = nanodet_ncnn.load(args.model)
    out = ds.map_batches(NanoDetPredictor, fn_constructor_kwargs={"model": model, "conf": args.conf},
                         compute=ray.data.ActorPoolStrategy(size=args.actors), num_cpus=args.cpus,
                         batch_size=args.batch_size)
    out.write_parquet(args.out)
    dt = time.perf_counter() - t0

    n, found, bad = parquet_summary(args.out)
    print(f"{n} images, {found} detections, {bad} unreadable -> {args.out} "
          f"({n / dt:.1f} images/s including start-up)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
