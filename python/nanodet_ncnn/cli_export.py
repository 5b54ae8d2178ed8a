"""CLI subcommands `quantize` and `convert` (registered by cli.build_parser)."""
from __future__ import annotations

import argparse
import json


def cmd_quantize(args) -> int:
    from .quantize import quantize

    keep = [k for k in (args.keep_fp32 or "").split(",") if k]
    report = quantize(args.model, args.calib, args.out, method=args.method,
                      num_images=args.num_images, keep_fp32=keep, auto_mixed=args.auto_mixed,
                      input_size=args.input_size, num_threads=args.threads,
                      layers=args.layers, progress=not args.json)
    if args.json:
        slim = {k: v for k, v in report.items() if k not in ("activation_scales",)}
        print(json.dumps(slim, indent=2))
        return 0
    print(f"{report['method']} calibration on {report['images']} images at "
          f"{report['input_size'][0]}x{report['input_size'][1]}: {report['quantized_layers']} int8 "
          f"layers ({report['fused_requantize']} with fused requantize), "
          f"{len(report['fp32_layers'])} kept fp32" +
          (f" ({', '.join(report['fp32_layers'])})" if 0 < len(report["fp32_layers"]) <= 8 else ""))
    print(f"wrote {report['param']} and {report['bin']} ({report['bin_bytes']:,} bytes; fp32 "
          f"{report['fp32_bin_bytes']:,})")
    return 0


def cmd_convert(args) -> int:
    from .convert import convert

    size = args.input_size[0] if len(args.input_size) == 1 else tuple(args.input_size)
    if len(args.input_size) > 2:
        raise ValueError("--input-size takes W H (or one number for square)")
    report = convert(args.model, size, args.out, fp16=args.fp16, tol=args.tol,
                     check=not args.no_check, keep_pnnx_files=args.keep_pnnx,
                     log=None if args.json else print)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"wrote {report['param']} and {report['bin']} (input {size if isinstance(size, int) else 'x'.join(map(str, size))})")
    return 0


def add_parsers(sub) -> None:
    q = sub.add_parser(
        "quantize", help="post-training INT8 quantization of an fp32 ncnn model",
        description="Calibrate activation scales on a folder of images (through this package's "
                    "own preprocessing) and write an ncnn INT8 model (OUT.param/.bin, plus the "
                    "calibration table OUT.table and a report OUT.json).")
    q.add_argument("--model", "-m", required=True, help="fp32 .param path or zoo name")
    q.add_argument("--calib", required=True, help="folder of calibration images")
    q.add_argument("--method", choices=["kl", "aciq"], default="kl",
                   help="activation scales: kl (2048-bin histogram, KL divergence) or aciq "
                        "(analytic clipping, one pass)")
    q.add_argument("--out", "-o", required=True, help="output prefix (writes OUT.param, OUT.bin)")
    q.add_argument("--num-images", type=int, default=100,
                   help="calibration images used, evenly spread over the folder (default 100)")
    mixed = q.add_mutually_exclusive_group()
    mixed.add_argument("--keep-fp32", metavar="LAYER,...",
                       help="layers to leave in float32 (mixed precision)")
    mixed.add_argument("--auto-mixed", type=int, default=0, metavar="K",
                       help="keep the K most sensitive layers in float32 (measured)")
    q.add_argument("--layers", choices=["all", "pointwise"], default="all",
                   help="all quantizable layers, or pointwise: 1x1 convs only (depthwise and "
                        "larger kernels stay float; cheapest on ARM with fp16, docs/precision.md)")
    q.add_argument("--input-size", type=int, default=None, metavar="S",
                   help="calibration input size (default: the model's)")
    q.add_argument("--threads", type=int, default=None)
    q.add_argument("--json", action="store_true", help="print the report as JSON")
    q.set_defaults(func=cmd_quantize)

    c = sub.add_parser(
        "convert", help="convert an ONNX or TorchScript NanoDet to ncnn (pnnx) with a parity check",
        description="Convert with pnnx, then compare the ncnn model with the source (onnxruntime "
                    "or torch) on a random input; exits non-zero when the max difference exceeds "
                    "the tolerance. Sizes are WIDTH HEIGHT (NanoDet's exporter swaps them: "
                    "give the size the exported graph really has).")
    c.add_argument("model", help="model.onnx or a TorchScript model.pt")
    c.add_argument("--input-size", type=int, nargs="+", required=True, metavar=("W", "H"),
                   help="network input width and height (one number: square)")
    c.add_argument("--out", "-o", required=True, help="output prefix (writes OUT.param, OUT.bin)")
    c.add_argument("--fp16", action="store_true", help="store weights as float16")
    c.add_argument("--tol", type=float, default=None,
                   help="parity tolerance (default 1e-3, 2e-2 with --fp16)")
    c.add_argument("--no-check", action="store_true", help="skip the parity check")
    c.add_argument("--keep-pnnx", action="store_true", help="keep pnnx's intermediate files")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_convert)


def register(sub: argparse._SubParsersAction) -> None:
    add_parsers(sub)
