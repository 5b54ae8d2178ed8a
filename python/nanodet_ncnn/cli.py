"""Command line: nanodet-ncnn detect | models."""
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
    from .sources import expand_paths, is_single_image, is_video_source

    # Resolve every source before loading the model, so a typo fails fast.
    plan = []
    for src in args.source:
        if is_video_source(src):
            if not (src.isdigit() or "://" in src) and not Path(src).exists():
                raise FileNotFoundError(f"video not found: {src}")
            plan.append(("video", src))
        elif is_single_image(src):
            if not Path(src).exists():
                raise FileNotFoundError(f"image not found: {src}")
            plan.append(("images", [src]))
        else:
            plan.append(("images", expand_paths(src)))
    model = _load(args)
    out_dir = Path(args.out) if args.out else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    kw = dict(conf=args.conf, iou=args.iou, nms=args.nms, max_det=args.max_det)
    report = []
    for kind, what in plan:
        if kind == "video":
            report.append(_detect_video(model, what, out_dir, args, kw))
            continue
        for r in model.predict(what, stream=True, progress=len(what) > 1 and not args.json, **kw):
            entry = r.to_dict()
            if out_dir:
                entry["saved"] = str(r.save(out_dir))
            if args.show:
                r.show(wait=0)
            report.append(entry)
            if not args.json:
                _print_result(r, entry.get("saved"))
    if args.json:
        print(json.dumps(report if len(report) != 1 else report[0], indent=2))
    return 0


def _print_result(r, saved=None) -> None:
    src = r.path or f"frame {r.index}"
    print(f"{src}: {len(r)} detections ({r.speed.get('total', 0):.1f} ms)"
          + (f" -> {saved}" if saved else ""))
    for d in r:
        box = " ".join(f"{v:.1f}" for v in d.xyxy)
        print(f"  {d.name:<16} {d.score:.3f}  [{box}]")


def _detect_video(model, src, out_dir, args, kw) -> dict:
    vp = model.predict(src, max_frames=args.max_frames, progress=not args.json, **kw)
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

    b = sub.add_parser("bench", help="per-stage latency (delegates to bench_arm when installed)",
                       description="Per-stage latency (preprocess, inference, decode, NMS, total) "
                                   "as min / median / max. Uses the C++ bench_arm when it is on "
                                   "PATH, else times detect() from Python. For aarch64 instruction "
                                   "counts under qemu run tools/arm/bench_icount.sh from a source "
                                   "checkout.")
    b.add_argument("--model", "-m", default=DEFAULT_MODEL)
    b.add_argument("--image", required=True)
    b.add_argument("--threads", type=int, nargs="+", default=[4],
                   help="one or more thread counts (several: one run each, side by side in --plot)")
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
