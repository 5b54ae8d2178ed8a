"""Reading and writing ncnn .param/.bin pairs in Python (for the quantizer and the converter).

The .param text is kept layer by layer with its ``key=value`` pairs in their original order and
spelling, so an untouched layer is written back exactly as it was read. The .bin is cut into the
byte ranges each layer's ``load_model`` consumes, in ncnn's order: "type 0" arrays start with a
4-byte tag (0 = raw float32, 0x01306B47 = float16, 0x000D4B38 = int8, 0x0002C056 = raw float32,
any other non-zero = a 256-entry float table plus uint8 indices) and are padded to 4 bytes;
"type 1" arrays are raw float32 with no tag.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = 7767517
TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38
TAG_RAW = 0x0002C056


class ModelFormatError(ValueError):
    """The .param/.bin pair is not something this module can read."""


def align4(n: int) -> int:
    return (n + 3) & ~3


@dataclass
class Layer:
    type: str
    name: str
    bottoms: list[str]
    tops: list[str]
    params: list[tuple[str, str]] = field(default_factory=list)  # ("8", "2"), ("-23310", "1,0.1")
    raw: bytes = b""  # this layer's bytes in the .bin (untouched layers are written back as is)

    def get(self, key: int, default=0):
        for k, v in self.params:
            if int(k) == key:
                return float(v) if ("." in v or "e" in v.lower()) else int(v)
        return default

    def set(self, key: int, value) -> None:
        text = str(value)
        for i, (k, _) in enumerate(self.params):
            if int(k) == key:
                self.params[i] = (k, text)
                return
        # keep ncnn's habit: non-negative keys ascending, array keys (negative) at the end
        pos = len(self.params)
        for i, (k, _) in enumerate(self.params):
            if int(k) < 0 or int(k) > key:
                pos = i
                break
        self.params.insert(pos, (str(key), text))

    def line(self) -> str:
        head = f"{self.type:<24} {self.name:<24} {len(self.bottoms)} {len(self.tops)}"
        rest = " ".join(self.bottoms + self.tops + [f"{k}={v}" for k, v in self.params])
        return f"{head} {rest}".rstrip()


@dataclass
class Model:
    layers: list[Layer]
    blob_count: int

    # --- reading ---------------------------------------------------------------------------
    @classmethod
    def parse_param(cls, text: str) -> "Model":
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if not lines or lines[0] != str(MAGIC):
            raise ModelFormatError("not an ncnn text .param file (first line is not 7767517)")
        try:
            n_layers, n_blobs = (int(t) for t in lines[1].split())
        except (IndexError, ValueError):
            raise ModelFormatError("malformed layer/blob count line in the .param file") from None
        layers = []
        for ln in lines[2:]:
            tok = ln.split()
            nb, nt = int(tok[2]), int(tok[3])
            bottoms, tops = tok[4:4 + nb], tok[4 + nb:4 + nb + nt]
            params = []
            for kv in tok[4 + nb + nt:]:
                k, _, v = kv.partition("=")
                params.append((k, v))
            layers.append(Layer(tok[0], tok[1], bottoms, tops, params))
        if len(layers) != n_layers:
            raise ModelFormatError(f".param declares {n_layers} layers but has {len(layers)}")
        return cls(layers, n_blobs)

    @classmethod
    def load(cls, param: str | os.PathLike, bin: str | os.PathLike | None = None) -> "Model":
        param = Path(param)
        bin_path = Path(bin) if bin is not None else param.with_suffix(".bin")
        model = cls.parse_param(param.read_text())
        model.attach_bin(bin_path.read_bytes())
        return model

    def attach_bin(self, data: bytes) -> None:
        off = 0
        for L in self.layers:
            start = off
            for kind, n in weight_spec(L):
                if kind == "t0":
                    off = _skip_type0(data, off, n, L)
                else:
                    off += 4 * n
                if off > len(data):
                    raise ModelFormatError(f".bin too short at layer {L.name} ({L.type})")
            L.raw = data[start:off]
        if off != len(data):
            raise ModelFormatError(f".bin has {len(data)} bytes but the layers use {off}")

    # --- writing ---------------------------------------------------------------------------
    def param_text(self) -> str:
        return "\n".join([str(MAGIC), f"{len(self.layers)} {self.blob_count}"]
                         + [L.line() for L in self.layers]) + "\n"

    def bin_bytes(self) -> bytes:
        return b"".join(L.raw for L in self.layers)

    def save(self, prefix: str | os.PathLike) -> tuple[Path, Path]:
        prefix = str(prefix)
        param, bin_path = Path(prefix + ".param"), Path(prefix + ".bin")
        param.parent.mkdir(parents=True, exist_ok=True)
        param.write_text(self.param_text())
        bin_path.write_bytes(self.bin_bytes())
        return param, bin_path

    # --- graph helpers ---------------------------------------------------------------------
    def consumers(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i, L in enumerate(self.layers):
            for b in L.bottoms:
                out.setdefault(b, []).append(i)
        return out

    def layer(self, name: str) -> Layer:
        for L in self.layers:
            if L.name == name:
                return L
        raise KeyError(f"no layer named {name!r}")


def weight_spec(L: Layer) -> list[tuple[str, int]]:
    """What the layer's ncnn load_model reads, in order: ("t0", n) tagged arrays, ("raw", n)
    untagged float32 arrays."""
    t, g = L.type, L.get
    if t in ("Convolution", "ConvolutionDepthWise", "Deconvolution", "DeconvolutionDepthWise",
             "Convolution1D", "Convolution3D", "ConvolutionDepthWise1D", "ConvolutionDepthWise3D",
             "Deconvolution1D", "Deconvolution3D", "DeconvolutionDepthWise1D",
             "DeconvolutionDepthWise3D"):
        dyn_key = 19 if t in ("Convolution", "ConvolutionDepthWise") else 28
        if t.startswith("Convolution") and g(dyn_key, 0):
            return []
        spec = [("t0", g(6, 0))]
        if g(5, 0):
            spec.append(("raw", g(0, 0)))
        term = g(8, 0)
        if term and t == "Convolution":
            spec += [("raw", g(0, 0)), ("raw", 1)]
        elif term and t == "ConvolutionDepthWise":
            spec += [("raw", g(7, 1) if term in (1, 101) else 1), ("raw", 1)]
        elif term:
            raise ModelFormatError(f"{t} {L.name}: int8 weights of this layer type are not supported")
        if term > 100:
            spec.append(("raw", 1))
        return spec
    if t == "InnerProduct":
        spec = [("t0", g(2, 0))]
        if g(1, 0):
            spec.append(("raw", g(0, 0)))
        if g(8, 0):
            spec += [("raw", g(0, 0)), ("raw", 1)]
        return spec
    if t == "BatchNorm":
        return [("raw", g(0, 0))] * 4
    if t == "Bias":
        return [("raw", g(0, 0))]
    if t == "Scale":
        n = g(0, 0)
        if n == -233:
            return []
        return [("raw", n)] + ([("raw", n)] if g(1, 0) else [])
    if t == "PReLU":
        return [("raw", g(0, 0))]
    if t == "MemoryData":
        w, h, d, c = g(0, 0), g(1, 0), g(11, 0), g(2, 0)
        n = w * h * d * c if d else w * h * c if c else w * h if h else w
        return [("raw", n)] if n else []
    if t == "Embed":
        spec = [("t0", g(3, 0))]
        return spec + ([("raw", g(0, 0))] if g(2, 0) else [])
    if t in ("LayerNorm", "GroupNorm", "InstanceNorm", "RMSNorm"):
        key_n, key_aff = {"LayerNorm": (0, 2), "GroupNorm": (1, 3), "InstanceNorm": (0, 2),
                          "RMSNorm": (0, 2)}[t]
        if not g(key_aff, 1 if t != "GroupNorm" else 1):
            return []
        n = g(key_n, 0)
        return [("raw", n)] * (1 if t == "RMSNorm" else 2)
    if t == "Gemm" and (g(7, 0) or g(8, 0)):
        raise ModelFormatError(f"Gemm {L.name} with constant operands is not supported here")
    return []


def _skip_type0(data: bytes, off: int, n: int, L: Layer) -> int:
    if off + 4 > len(data):
        raise ModelFormatError(f".bin too short at layer {L.name} ({L.type})")
    tag = int.from_bytes(data[off:off + 4], "little")
    off += 4
    if tag == TAG_FP16:
        return off + align4(2 * n)
    if tag == TAG_INT8:
        return off + align4(n)
    if tag == TAG_RAW or tag == 0:
        return off + 4 * n
    if sum(data[off - 4:off]) != 0:  # 256-entry table + indices
        return off + 256 * 4 + align4(n)
    return off + 4 * n


def read_type0(raw: bytes, off: int, n: int) -> tuple[np.ndarray, int]:
    """(float32 array, next offset) of one tagged array (any storage but int8)."""
    tag = int.from_bytes(raw[off:off + 4], "little")
    off += 4
    if tag == TAG_FP16:
        a = np.frombuffer(raw, np.float16, n, off).astype(np.float32)
        return a, off + align4(2 * n)
    if tag == TAG_INT8:
        raise ModelFormatError("weights are already int8")
    if tag == TAG_RAW or tag == 0:
        return np.frombuffer(raw, np.float32, n, off).copy(), off + 4 * n
    table = np.frombuffer(raw, np.float32, 256, off)
    idx = np.frombuffer(raw, np.uint8, n, off + 1024)
    return table[idx].astype(np.float32), off + 1024 + align4(n)


def read_raw(raw: bytes, off: int, n: int) -> tuple[np.ndarray, int]:
    return np.frombuffer(raw, np.float32, n, off).copy(), off + 4 * n


def write_int8(q: np.ndarray) -> bytes:
    b = np.ascontiguousarray(q, np.int8).tobytes()
    return TAG_INT8.to_bytes(4, "little") + b + b"\0" * (align4(len(b)) - len(b))


def write_type0_fp32(a: np.ndarray) -> bytes:
    return b"\0\0\0\0" + np.ascontiguousarray(a, np.float32).tobytes()


def write_type0_fp16(a: np.ndarray) -> bytes:
    b = np.ascontiguousarray(a, np.float16).tobytes()
    return TAG_FP16.to_bytes(4, "little") + b + b"\0" * (align4(len(b)) - len(b))
