"""Writes the synthetic seed inputs for the libFuzzer harnesses (cpp/fuzz/corpus/).

The seeds are tiny NanoDet-shaped graphs written here from scratch (no third-party model):
per-stride cls/dis heads (legacy 3 levels and Plus 4 levels, with and without Sigmoid) and a
single-output channel-major head. Each param is followed by a NUL and nothing (fuzz_model then
sizes zero weights to the graph) or by a NUL and real-sized zero weights. run.sh adds the shared
models' .param files to a scratch copy of the corpus at run time.

    python tools/reliability/make_seeds.py [OUT_DIR]
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path


def per_stride(strides, num_classes=2, reg_max=7, sigmoid=True, k=1):
    layers, blobs = [], ["data"]
    n = len(strides)
    layers.append("Input data 0 1 data 0=64 1=64 2=3")
    splits = [f"in{i}" for i in range(2 * n)]
    layers.append(f"Split split 1 {2 * n} data " + " ".join(splits))
    blobs += splits
    weights = 0
    D = 4 * (reg_max + 1)
    for i, s in enumerate(strides):
        raw = f"c{s}r" if sigmoid else f"cls{s}"
        layers.append(f"Convolution conv_cls{s} 1 1 in{2 * i} {raw} 0={num_classes} 1={k} 3={s} "
                      f"5=1 6={num_classes * 3 * k * k}")
        blobs.append(raw)
        weights += 4 + 4 * (num_classes * 3 * k * k + num_classes)
        if sigmoid:
            layers.append(f"Sigmoid sig{s} 1 1 {raw} cls{s}")
            blobs.append(f"cls{s}")
        layers.append(f"Convolution conv_dis{s} 1 1 in{2 * i + 1} dis{s} 0={D} 1={k} 3={s} 5=1 "
                      f"6={D * 3 * k * k}")
        blobs.append(f"dis{s}")
        weights += 4 + 4 * (D * 3 * k * k + D)
    text = f"7767517\n{len(layers)} {len(blobs)}\n" + "\n".join(layers) + "\n"
    return text, weights


def single_output(strides, num_classes=3, reg_max=7):
    K = num_classes + 4 * (reg_max + 1)
    n = len(strides)
    layers = ["Input data 0 1 data 0=64 1=64 2=3",
              f"Split split 1 {n} data " + " ".join(f"in{i}" for i in range(n))]
    blobs = ["data"] + [f"in{i}" for i in range(n)]
    weights = 0
    for i, s in enumerate(strides):
        layers.append(f"Convolution conv{s} 1 1 in{i} f{s} 0={K} 1=1 3={s} 5=1 6={K * 3}")
        layers.append(f"Reshape flat{s} 1 1 f{s} r{s} 0=-1 1={K}")
        blobs += [f"f{s}", f"r{s}"]
        weights += 4 + 4 * (K * 3 + K)
    layers.append(f"Concat cat {n} 1 " + " ".join(f"r{s}" for s in strides) + " cat 0=1")
    layers.append("Sigmoid sig 1 1 cat output")
    blobs += ["cat", "output"]
    text = f"7767517\n{len(layers)} {len(blobs)}\n" + "\n".join(layers) + "\n"
    return text, weights


def decode_seed(num_classes, reg_max, nlevels, flags, conf, iou, max_det, max_cand, w, h, values):
    # Mirrors the FuzzedDataProvider reads of fuzz_decode.cpp: integral values are taken from the
    # END of the data, bytes from the front; a simple way to make a valid seed is to put the
    # float payload first and the header bytes (reversed) last.
    head = bytes([num_classes - 1, reg_max, nlevels - 1, flags, conf, iou])
    tail = struct.pack("<H", max_det)[::-1] + struct.pack("<H", max_cand - 1)[::-1] + \
        bytes([w - 1, h - 1])
    payload = struct.pack(f"<{len(values)}f", *values)
    return payload + (head + tail)[::-1]


def main(out: Path) -> None:
    (out / "model").mkdir(parents=True, exist_ok=True)
    (out / "decode").mkdir(parents=True, exist_ok=True)
    seeds = {
        "plus_per_stride": per_stride([8, 16, 32, 64]),
        "legacy_per_stride": per_stride([8, 16, 32], num_classes=3),
        "plus_logits_k3": per_stride([8, 16, 32, 64], sigmoid=False, k=3),
        "single_output": single_output([8, 16, 32, 64]),
    }
    for name, (text, nbytes) in seeds.items():
        (out / "model" / f"{name}.txt").write_bytes(text.encode() + b"\0")
        (out / "model" / f"{name}_bin.txt").write_bytes(text.encode() + b"\0" + bytes(nbytes))
    import math
    vals = [math.sin(i * 0.7) * 6 for i in range(400)] + [float("nan"), float("inf"), -float("inf")]
    (out / "decode" / "mixed").write_bytes(decode_seed(5, 7, 3, 0, 30, 50, 100, 3000, 6, 5, vals))
    (out / "decode" / "combined_cm").write_bytes(decode_seed(2, 3, 4, 3 | 8, 10, 60, 10, 50, 8, 8, vals))
    (out / "decode" / "logits_agnostic").write_bytes(decode_seed(3, 7, 2, 4 | 16 | 32, 50, 40, 5, 1, 4, 3, vals))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "cpp/fuzz/corpus")
