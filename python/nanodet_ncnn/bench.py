"""`nanodet-ncnn bench`: per-stage latency, or frames/s with --workers. Delegates to the C++
bench_arm when it is installed (same Detector and Pool, no Python in the loop); otherwise times
the same calls from Python. Both write one JSON schema (SCHEMA; fields in docs/arm.md)."""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCHEMA = "nanodet-ncnn-bench/1"
STAGES = ("preprocess", "inference", "decode", "nms", "total")
UNSUPPORTED_IMAGE = 3  # bench_arm's exit status for an image it cannot decode


def find_bench_arm() -> str | None:
    exe = shutil.which("bench_arm")
    if exe:
        return exe
    cand = Path(sys.executable).with_name("bench_arm")
    return str(cand) if cand.exists() else None


def threads_of(args) -> int:
    """ncnn threads per inference: --threads, else 1 per worker or min(4, cores) alone."""
    if args.threads:
        return args.threads
    if args.workers:
        return 1
    from .detector import default_threads

    return default_threads()


def run_bench_arm(exe: str, args) -> int:
    from .zoo import MODELS, resolve

    model = args.model
    if model in MODELS:
        model = str(resolve(model)[0])

    def call(image: str) -> int:
        cmd = [exe, "--model", model, "--image", image, "--threads", str(threads_of(args)),
               "--loops", str(args.loops), "--warmup", str(args.warmup),
               "--precision", args.precision, "--resize", args.resize, "--cores", args.cores]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        if args.input_size:
            cmd += ["--input-size", "x".join(map(str, args.input_size))]
        if args.json:
            cmd += ["--json", args.json]
        return subprocess.call(cmd)

    rc = call(str(args.image))
    if rc != UNSUPPORTED_IMAGE:
        return rc
    # a bench_arm built without JPEG/PNG (or another format OpenCV reads): hand it a PPM
    import cv2

    from .detector import read_image

    with tempfile.TemporaryDirectory() as tmp:
        ppm = Path(tmp) / "image.ppm"
        cv2.imwrite(str(ppm), read_image(args.image))
        return call(str(ppm))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model", "Hardware")):
                return f"{line.split(':', 1)[1].strip()} [{platform.machine()}]"
    except OSError:
        pass
    return f"{platform.processor() or 'unknown'} [{platform.machine()}]"


def spread(v: list[float]) -> dict:
    return {"min": min(v), "median": statistics.median(v), "max": max(v)}


def python_bench(args) -> dict:
    from . import _core, load
    from .detector import read_image

    size = None
    if args.input_size:
        size = args.input_size[0] if len(args.input_size) == 1 else tuple(args.input_size)
    threads = threads_of(args)
    t0 = time.perf_counter()
    model = load(args.model, num_threads=threads, input_size=size, resize=args.resize,
                 precision=args.precision, cores=args.cores)
    load_ms = (time.perf_counter() - t0) * 1e3
    core = model._core
    img = read_image(args.image)
    samples: dict[str, list[float]] = {k: [] for k in (*STAGES, "wall")}
    throughput = None
    if args.workers:
        with _core.Pool(core, workers=args.workers, threads_per_worker=threads) as pool:
            def run(n: int) -> list:
                out = []
                for _ in range(n):
                    if pool.pending >= pool.max_pending:
                        out.append(pool.collect())
                    pool.submit(img)
                while pool.pending:
                    out.append(pool.collect())
                return out
            run(args.warmup)
            t0 = time.perf_counter()
            results = run(args.loops)
            wall_s = time.perf_counter() - t0
        for r in results:
            for k in STAGES:
                samples[k].append(r[4][k])
            samples["wall"].append(r[4]["total"])  # a worker's wall time is not exposed: total
        n_det, insize = len(results[-1][1]), results[-1][5]
        # which worker ran a frame is not visible from Python: per_worker stays empty
        throughput = {"frames": args.loops, "wall_s": wall_s, "fps": args.loops / wall_s,
                      "per_worker": []}
    else:
        for _ in range(args.warmup):
            core.detect(img)
        for _ in range(args.loops):
            t0 = time.perf_counter()
            r = core.detect(img)
            samples["wall"].append((time.perf_counter() - t0) * 1e3)
            for k in STAGES:
                samples[k].append(r[3][k])
        n_det, insize = len(r[0]), r[4]
    return {
        "schema": SCHEMA, "runner": "python", "model": args.model, "image": str(args.image),
        "image_size": [int(img.shape[1]), int(img.shape[0])], "input_size": list(insize),
        "resize": args.resize, "precision": args.precision,
        "precision_used": core.precision_used, "precision_detail": core.precision_detail,
        "mode": "throughput" if args.workers else "latency", "stage": "all",
        "threads": threads, "workers": args.workers or 1, "cores": args.cores,
        "cores_used": core.cores_used, "loops": args.loops, "warmup": args.warmup,
        "detections": n_det, "cpu": cpu_name(), "ncnn_version": _core.ncnn_version(),
        "kernels": _core.kernels(), "load_ms": load_ms,
        "stages_ms": {k: spread(v) for k, v in samples.items() if v},
        "throughput": throughput,
    }


def print_table(r: dict) -> None:
    print(f"model {r['model']}  input {r['input_size'][0]}x{r['input_size'][1]}  mode {r['mode']}  "
          f"workers {r['workers']}  threads {r['threads']}  cores {r['cores']} ({r['cores_used']})  "
          f"precision {r['precision']} -> {r.get('precision_detail', '?')}  ncnn {r['ncnn_version']}  kernels {r['kernels']}")
    print(f"{'stage':<12}{'min ms':>10}{'median ms':>11}{'max ms':>10}")
    for k, v in r["stages_ms"].items():
        print(f"{k:<12}{v['min']:>10.3f}{v['median']:>11.3f}{v['max']:>10.3f}")
    if r["throughput"]:
        t = r["throughput"]
        print(f"throughput {t['fps']:.2f} frames/s ({t['frames']} frames in {t['wall_s']:.3f} s)")


def _runs(args):
    """One argparse namespace per (threads, precision) combination."""
    threads = args.threads if isinstance(args.threads, list) else [args.threads]  # None: default
    precisions = args.precision if isinstance(args.precision, list) else [args.precision]
    for t in threads:
        for p in precisions:
            yield argparse.Namespace(**{**vars(args), "threads": t, "precision": p})


def main(args) -> int:
    if args.loops < 1 or args.warmup < 0:
        raise ValueError("--loops must be >= 1 and --warmup >= 0")
    if args.workers is not None and not 1 <= args.workers <= 256:
        raise ValueError("--workers must be between 1 and 256")
    if args.threads is not None and not all(1 <= t <= 256 for t in
                                            (args.threads if isinstance(args.threads, list) else [args.threads])):
        raise ValueError("--threads must be between 1 and 256")
    if not Path(args.image).exists():
        raise FileNotFoundError(f"image not found: {args.image}")
    exe = None if args.python else find_bench_arm()
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, run in enumerate(_runs(args)):
            if exe:
                run.json = str(Path(tmp) / f"run{k}.json")
                rc = run_bench_arm(exe, run)
                if rc:
                    return rc
                reports.append(json.loads(Path(run.json).read_text()))
            else:
                reports.append(python_bench(run))
                print_table(reports[-1])
    if args.json:
        Path(args.json).write_text(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    if getattr(args, "plot", None):
        from .plots import plot_latency

        plot_latency(reports, args.plot)
        print(f"plot: {args.plot}", file=sys.stderr)
    return 0
