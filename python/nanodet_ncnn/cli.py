"""Command line: nanodet-ncnn detect | track | serve | models | ..."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DEFAULT_MODEL = "nanodet-plus-m-416"


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", default=DEFAULT_MODEL,
                   help=f"zoo name (see `nanodet-ncnn models`) or a .param path (default: {DEFAULT_MODEL})")
    p.add_argument("--bin", help="the .bin file, when it is not beside the .param")
    p.add_argument("--labels", help="class names: a txt file (one per line) or a yaml with `names:`")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: up to 4)")
    p.add_argument("--input-size", type=int, nargs="+", metavar=("W", "H"),
                   help="network input size: S, or W H (default: the model's)")
    p.add_argument("--resize", choices=["letterbox", "dynamic", "stretch"], default="letterbox",
                   help="letterbox: square with centred padding; dynamic: pad to a multiple of 32 "
                        "(faster on wide frames); stretch: ignore the aspect ratio")
    p.add_argument("--precision", choices=["auto", "fp32", "fp16", "int8"], default="auto")


def _workers_arg(text: str):
    if text == "auto":
        return text
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}")
    return n


def _load(args):
    from . import load

    size = None
    if args.input_size:
        if len(args.input_size) > 2:
            raise ValueError("--input-size takes one or two numbers")
        size = args.input_size[0] if len(args.input_size) == 1 else tuple(args.input_size)
    return load(args.model, args.bin, names=args.labels, num_threads=args.threads,
                input_size=size, resize=args.resize, precision=args.precision)


def cmd_detect(args) -> int:
    from .sources import image_items, is_live_source, is_single_image, is_video_file

    # Resolve every source before loading the model, so a typo fails fast.
    plan = []
    for src in args.source:
        if is_video_file(src) or is_live_source(src):
            if is_video_file(src) and not Path(src).exists():
                raise FileNotFoundError(f"video not found: {src}")
            plan.append(("video", src))
        elif is_single_image(src):
            if not Path(src).exists():
                raise FileNotFoundError(f"image not found: {src}")
            plan.append(("images", [src]))
        else:
            plan.append(("images", image_items(src)))
    model = _load(args)
    out_dir = Path(args.out) if args.out else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    kw = dict(conf=args.conf, iou=args.iou, nms=args.nms, max_det=args.max_det,
              workers=args.workers, threads_per_worker=args.threads_per_worker)
    report = []
    log = _open_jsonl(args)
    for kind, what in plan:
        if kind == "video":
            if log and log.done(what):
                continue
            report.append(_detect_video(model, what, out_dir, args, kw))
            if log:
                log.write(what, report[-1])
            continue
        order = {str(p): i for i, p in enumerate(what)}
        if log:
            what = [p for p in what if not log.done(p)]
            if not what:
                continue
        for r in model.predict(what, stream=True, progress=len(what) > 1 and not args.json, **kw):
            entry = r.to_dict()
            entry["index"] = order.get(str(r.path), entry["index"])
            if log:
                log.write(r.path, entry)
            if out_dir:
                entry["saved"] = str(r.save(out_dir))
            if args.show:
                r.show(wait=0)
            report.append(entry)
            if not args.json:
                _print_result(r, entry.get("saved"))
    if log:
        log.close()
    if args.json:
        print(json.dumps(report if len(report) != 1 else report[0], indent=2))
    return 0


def _open_jsonl(args):
    if not args.jsonl:
        if args.resume:
            raise ValueError("--resume needs --jsonl FILE (the results file to continue)")
        return None
    from .jsonl_log import JsonlLog

    log = JsonlLog(args.jsonl, resume=args.resume)
    if log.resumed:
        print(f"{args.jsonl}: resuming, {log.resumed} inputs already done", file=sys.stderr)
    return log


def _print_result(r, saved=None) -> None:
    src = r.path or f"frame {r.index}"
    print(f"{src}: {len(r)} detections ({r.speed.get('total', 0):.1f} ms)"
          + (f" -> {saved}" if saved else ""))
    for d in r:
        box = " ".join(f"{v:.1f}" for v in d.xyxy)
        print(f"  {d.name:<16} {d.score:.3f}  [{box}]")


def _detect_video(model, src, out_dir, args, kw) -> dict:
    vp = model.predict(src, max_frames=args.max_frames, progress=not args.json,
                       stream_buffer=args.stream_buffer, reconnect=args.reconnect, **kw)
    entry: dict = {"video": src}
    if out_dir and not args.show:
        entry["saved"] = str(vp.save(out_dir))
    else:
        from .results import show_image

        frames = []
        for r in vp:
            frames.append({"index": r.index, "detections": len(r)})
            if args.show and show_image(r.plot(), f"nanodet-ncnn {src}", wait=1) in (ord("q"), 27):
                break
        entry["frames"] = frames
    entry.update({k: (round(v, 3) if isinstance(v, float) else v) for k, v in vp.stats.items()})
    if not args.json:
        st = vp.stats
        print(f"{src}: {st['frames']} frames, {st['fps']:.1f} frames/s end to end, "
              f"{st['detect_ms_mean']:.1f} ms detect per frame"
              + (f" -> {entry['saved']}" if entry.get("saved") else ""))
    return entry


def _live_source(src: str):
    """A CLI source string -> what predict() takes (webcam index as int); missing files fail
    before the model loads."""
    if src.isdigit():
        return int(src)
    if "://" not in src and not any(ch in src for ch in "*?[") and not Path(src).exists():
        raise FileNotFoundError(f"source not found: {src}")
    return src


def _stream_kwargs(args) -> dict:
    kw = dict(conf=args.conf, iou=args.iou)
    if getattr(args, "workers", None) is not None:
        kw["workers"] = args.workers
    if getattr(args, "max_frames", None) is not None:
        kw["max_frames"] = args.max_frames
    return kw


def _track_kwargs(args) -> dict:
    return dict(track_buffer=args.track_buffer, track_thresh=args.track_thresh,
                count_line=args.count_line)


def cmd_track(args) -> int:
    from .track import parse_line, summary_line

    source = _live_source(args.source)
    if args.count_line is not None:
        args.count_line = parse_line(args.count_line)
    model = _load(args)
    run = model.track(source, progress=not args.quiet, **_track_kwargs(args), **_stream_kwargs(args))
    if args.save or args.json:
        summary = run.save(args.save, jsonl=args.json)
    else:
        for r in run:
            ids = [int(t) for t in r.detections.tracker_id if t >= 0]
            print(f"frame {r.index}: {len(r)} detections, ids {ids}")
        summary = {"frames": run.frames, "tracks": len(run.tracker.ids_seen)}
        if run.counts is not None:
            summary["counts"] = run.counts
    print(f"{args.source}: {summary_line(summary)}"
          + "".join(f" -> {summary[k]}" for k in ("saved", "jsonl") if k in summary))
    return 0


def cmd_serve(args) -> int:
    from .serve import serve
    from .track import parse_line

    source = _live_source(args.source)
    if args.count_line is not None:
        args.count_line = parse_line(args.count_line)
        args.track = True
    model = _load(args)
    return serve(model, source, host=args.host, port=args.port, token=args.token,
                 max_clients=args.max_clients, track=args.track, loop_source=args.loop,
                 jpeg_quality=args.jpeg_quality, predict_kwargs=_stream_kwargs(args),
                 track_kwargs=_track_kwargs(args) if args.track else None)


def _tracking_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--conf", type=float, default=0.35, help="score threshold (default 0.35)")
    p.add_argument("--iou", type=float, default=0.6, help="NMS IoU threshold (default 0.6)")
    p.add_argument("--workers", type=int, default=None, help="inference workers (stream engine)")
    p.add_argument("--max-frames", type=int, default=None, help="stop videos after N frames")
    p.add_argument("--count-line", metavar="X1,Y1,X2,Y2",
                   help="count tracked objects crossing this line (source pixels), per class")
    p.add_argument("--track-buffer", type=int, default=30,
                   help="frames a lost track keeps its id (default 30)")
    p.add_argument("--track-thresh", type=float, default=0.5,
                   help="score needed to start a track (default 0.5)")


def cmd_models(args) -> int:
    from .zoo import models

    rows = models()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<26}{'input':>6}{'classes':>9}  {'precision':<10}{'layout':<15}{'offline':<9}source")
    for r in rows:
        print(f"{r['name']:<26}{r['input_size']:>6}{r['classes']:>9}  {r['precision']:<10}"
              f"{r['layout']:<15}{'yes' if r['available_offline'] else 'no':<9}{r['source']}")
    return 0


def cmd_eval(args) -> int:
    from .evaluate import evaluate, format_table

    if not Path(args.data).exists():
        raise FileNotFoundError(f"dataset not found: {args.data}")
    model = _load(args)
    result = evaluate(model, args.data, images_dir=args.images, conf=args.conf, iou=args.iou,
                      nms=args.nms, max_det=args.max_det, progress=not args.json,
                      limit=args.limit, curves=bool(args.plots))
    result["model"] = args.model
    result["precision"] = args.precision
    if args.save_json:
        Path(args.save_json).write_text(json.dumps(result, indent=2))
    if args.plots:
        from .plots import save_eval_plots

        saved = save_eval_plots(result, args.plots)
        if not args.json:
            print("plots: " + ", ".join(str(p) for p in saved.values()), file=sys.stderr)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


def cmd_bench(args) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="nanodet-ncnn",
        description="NanoDet / NanoDet-Plus object detection on ncnn.",
        epilog="Models by name are looked up in $NANODET_NCNN_MODELS, then the user cache, "
               "then downloaded from their pinned source with a sha256 check.")
    parser.add_argument("--version", action="version", version=f"nanodet-ncnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    d = sub.add_parser("detect", help="detect objects in images, folders, videos or a webcam",
                       description="Detect objects; print them and optionally save annotated "
                                   "images / videos.")
    d.add_argument("source", nargs="+",
                   help="image files, folders, glob patterns, video files, stream URLs, or a "
                        "webcam index such as 0")
    _model_args(d)
    d.add_argument("--conf", type=float, default=0.35, help="score threshold (default 0.35)")
    d.add_argument("--iou", type=float, default=0.6, help="NMS IoU threshold (default 0.6)")
    d.add_argument("--nms", choices=["class", "agnostic", "multilabel"], default="class")
    d.add_argument("--max-det", type=int, default=100)
    d.add_argument("--out", "-o", help="folder for annotated images and videos")
    d.add_argument("--show", action="store_true", help="show results in a window (q quits video)")
    d.add_argument("--max-frames", type=int, default=None, help="stop videos after N frames")
    d.add_argument("--json", action="store_true", help="print JSON instead of text")
    d.add_argument("--jsonl", metavar="FILE",
                   help="append one JSON line per finished image/video to FILE, flushed as done")
    d.add_argument("--resume", action="store_true",
                   help="with --jsonl: skip inputs already in FILE (same path, size and mtime)")
    d.add_argument("--workers", type=_workers_arg, default="auto",
                   help="concurrent inferences for folders, lists and video files: N or auto "
                        "(default: one per core when there is more than one frame)")
    d.add_argument("--threads-per-worker", type=int, default=1,
                   help="ncnn threads of each worker (default 1)")
    d.add_argument("--stream-buffer", action="store_true",
                   help="webcams / streams: process every frame (default: only the newest)")
    d.add_argument("--reconnect", action="store_true",
                   help="webcams / streams: reopen a dropped source (bounded retries)")
    d.set_defaults(func=cmd_detect)

    e = sub.add_parser("eval", help="COCO mAP on a YOLO-format folder or a COCO json",
                       description="Evaluate a model: mAP@[.5:.95], mAP@.5 and per-class AP "
                                   "(pycocotools).")
    _model_args(e)
    e.add_argument("--data", required=True,
                   help="YOLO folder (images/, labels/, names.yaml) or a COCO instances json")
    e.add_argument("--images", help="image folder for a COCO json (default: beside it)")
    e.add_argument("--conf", type=float, default=0.001)
    e.add_argument("--iou", type=float, default=0.6)
    e.add_argument("--nms", choices=["class", "agnostic", "multilabel"], default="class")
    e.add_argument("--max-det", type=int, default=100)
    e.add_argument("--limit", type=int, help="only the first N images")
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    e.add_argument("--save-json", help="also write the results to this file")
    e.add_argument("--plots", metavar="DIR", help="write precision-recall curves and a confusion "
                                                  "matrix as PNGs to DIR (needs matplotlib)")
    e.set_defaults(func=cmd_eval)

    b = sub.add_parser("bench", help="per-stage latency or frames/s (delegates to bench_arm when installed)",
                       description="Per-stage latency (preprocess, inference, decode, NMS, total) "
                                   "as min / median / max. Uses the C++ bench_arm when it is on "
                                   "PATH, else times detect() from Python. For aarch64 instruction "
                                   "counts under qemu run tools/arm/bench_icount.sh from a source "
                                   "checkout.")
    b.add_argument("--model", "-m", default=DEFAULT_MODEL)
    b.add_argument("--image", required=True)
    b.add_argument("--threads", type=int, nargs="+", help="ncnn threads per inference (default: "
                   "min(4, cores) alone, 1 per worker with --workers); several values: one run "
                   "each, side by side in --plot")
    b.add_argument("--workers", type=int, help="throughput mode: N workers on one model, "
                   "frames/s and per-worker latency")
    b.add_argument("--cores", choices=["all", "big", "little"], default="all",
                   help="CPU cluster of a big.LITTLE CPU to run on")
    b.add_argument("--loops", type=int, default=50)
    b.add_argument("--warmup", type=int, default=5)
    b.add_argument("--precision", choices=["auto", "fp32", "fp16", "int8"], nargs="+",
                   default=["auto"], help="one or more precisions")
    b.add_argument("--input-size", type=int, nargs="+", metavar=("W", "H"))
    b.add_argument("--resize", choices=["letterbox", "dynamic", "stretch"], default="letterbox")
    b.add_argument("--json", help="write the results to this JSON file (a list for several runs)")
    b.add_argument("--plot", metavar="OUT.png", help="draw per-stage latency bars (needs matplotlib)")
    b.add_argument("--python", action="store_true", help="time from Python even if bench_arm exists")
    b.set_defaults(func=cmd_bench)

    t = sub.add_parser("track", help="track objects across frames (ByteTrack), count line crossings",
                       description="Track objects in a video, webcam, stream or folder of frames: "
                                   "persistent ids, trails, optional line counts.")
    t.add_argument("source", help="video file, stream URL, webcam index, folder or glob of frames")
    _model_args(t)
    _tracking_args(t)
    t.add_argument("--save", help="write the annotated video here (e.g. out.mp4)")
    t.add_argument("--json", help="write one JSON line per frame here (e.g. out.jsonl)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_track)

    s = sub.add_parser("serve", help="live view in a browser: annotated MJPEG, detections, events",
                       description="Serve the annotated stream over HTTP: / (page), /stream.mjpg, "
                                   "/snapshot.jpg, /detections, /events (SSE), /healthz.")
    s.add_argument("source", help="webcam index, stream URL, video file, folder or glob")
    _model_args(s)
    _tracking_args(s)
    s.add_argument("--track", action="store_true", help="track objects (ids and trails)")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; 0.0.0.0 for the whole network)")
    s.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    s.add_argument("--token", default=None,
                   help="require this token (header 'Authorization: Bearer T' or ?token=T); "
                        "default: $NANODET_NCNN_TOKEN")
    s.add_argument("--max-clients", type=int, default=8,
                   help="most concurrent /stream.mjpg (and /events) clients (default 8)")
    s.add_argument("--loop", action="store_true", help="replay a file source when it ends")
    s.add_argument("--jpeg-quality", type=int, default=80)
    s.set_defaults(func=cmd_serve)

    m = sub.add_parser("models", help="list the model zoo")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)

    from .cli_export import add_parsers as add_export_parsers

    add_export_parsers(sub)  # quantize, convert
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from .errors import USER_ERRORS

        if not isinstance(exc, USER_ERRORS):
            raise  # a bug: keep the traceback
        print(f"nanodet-ncnn: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
