"""Command line: nanodet-ncnn detect | models."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DEFAULT_MODEL = "nanodet-plus-m-416"
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


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


def _images(sources: list[str]) -> list[Path]:
    import glob

    out: list[Path] = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_EXTS)
            if not found:
                raise FileNotFoundError(f"no images in folder {p}")
            out += found
        elif any(ch in s for ch in "*?["):
            found = sorted(Path(q) for q in glob.glob(s) if Path(q).suffix.lower() in IMAGE_EXTS)
            if not found:
                raise FileNotFoundError(f"no images match {s}")
            out += found
        else:
            if not p.exists():
                raise FileNotFoundError(f"image not found: {p}")
            out.append(p)
    return out


def cmd_detect(args) -> int:
    import cv2

    from .detector import read_image
    from .draw import draw_detections

    paths = _images(args.source)
    model = _load(args)
    out_dir = Path(args.out) if args.out else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    report = []
    for path in paths:
        img = read_image(path)
        dets = model.detect(img, conf=args.conf, iou=args.iou, nms=args.nms, max_det=args.max_det)
        entry = {"image": str(path), "width": img.shape[1], "height": img.shape[0],
                 "time_ms": round(dets.times["total"], 2), **dets.to_dict()}
        if out_dir:
            dest = out_dir / path.name
            if not cv2.imwrite(str(dest), draw_detections(img, dets)):
                raise OSError(f"could not write {dest}")
            entry["saved"] = str(dest)
        report.append(entry)
        if not args.json:
            print(f"{path}: {len(dets)} detections ({dets.times['total']:.1f} ms)"
                  + (f" -> {entry['saved']}" if out_dir else ""))
            for d in dets:
                box = " ".join(f"{v:.1f}" for v in d.xyxy)
                print(f"  {d.name:<16} {d.score:.3f}  [{box}]")
    if args.json:
        print(json.dumps(report if len(report) != 1 else report[0], indent=2))
    return 0


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

    d = sub.add_parser("detect", help="detect objects in images or folders",
                       description="Detect objects; print them and optionally save annotated images.")
    d.add_argument("source", nargs="+", help="image files, folders or glob patterns")
    _model_args(d)
    d.add_argument("--conf", type=float, default=0.35, help="score threshold (default 0.35)")
    d.add_argument("--iou", type=float, default=0.6, help="NMS IoU threshold (default 0.6)")
    d.add_argument("--nms", choices=["class", "agnostic", "multilabel"], default="class")
    d.add_argument("--max-det", type=int, default=100)
    d.add_argument("--out", "-o", help="folder for annotated images")
    d.add_argument("--json", action="store_true", help="print JSON instead of text")
    d.set_defaults(func=cmd_detect)

    m = sub.add_parser("models", help="list the model zoo")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, IsADirectoryError, ValueError, TypeError, KeyError, OSError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"nanodet-ncnn: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
