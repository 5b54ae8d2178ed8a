"""ONNX / TorchScript -> ncnn conversion with pnnx, plus a numeric parity check.

>>> from nanodet_ncnn.convert import convert
>>> report = convert("nanodet-plus-m_416.onnx", (416, 416), "out/nanodet")   # width, height

Input size order: we take WIDTH then HEIGHT (``--input-size 320 256`` is a 320 wide, 256 high
network input, tensor shape [1, 3, 256, 320]). NanoDet's own exporter names its config field
``input_size: [w, h]`` but builds its dummy tensor as ``(1, 3, *input_size)``, i.e. with W and H
swapped: a non-square model exported that way really expects [1, 3, W, H]. Pass the size the
graph actually has (its ONNX input shape is printed when the two disagree).

What happens:

1. pnnx (the ``pnnx`` PyPI package's binary) converts the model. TorchScript models are traced
   at two sizes (``inputshape`` and ``inputshape2``) so that reshapes stay size-independent;
   ONNX models with dynamic height/width get the same; fixed-shape ONNX models are converted at
   the given size, and the flatten-style Reshape layers of the head are then rewritten to
   ``-1`` so that the graph runs at any input size (our Detector probes two sizes to read the
   head layout, and ``resize="dynamic"`` needs it).
2. The ncnn Input layer gets the shape (``0=W 1=H 2=3``), so the Detector's default input size
   is the converted one.
3. Parity: the ncnn model (ncnn Python wheel, fp32 arithmetic) and the source (onnxruntime or
   torch) run on one seeded random input; the max abs difference of every output is printed and
   a ``ParityError`` raised when it exceeds ``tol`` (relative to the output's magnitude when that
   is above 1).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .errors import NanodetRuntimeError
from .ncnn_model import Model


class ParityError(NanodetRuntimeError):
    """The converted ncnn model's outputs differ from the source model's beyond the tolerance."""


def _pnnx_exe() -> str:
    try:
        import pnnx
    except ImportError as exc:
        raise ImportError("conversion needs pnnx: pip install 'nanodet-ncnn[export]'") from exc
    exe = getattr(pnnx, "EXEC_PATH", None)
    if not exe or not Path(exe).exists():
        raise ImportError("the pnnx package has no pnnx binary for this platform")
    return exe


def _shape_arg(w: int, h: int) -> str:
    return f"[1,3,{h},{w}]f32"


def _second_size(w: int, h: int) -> tuple[int, int]:
    # a different size in both axes (multiples of 64 keep every stride up to 64 whole)
    return w + 64, h + 128


def _onnx_input(path: Path) -> tuple[str, list]:
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    init = {i.name for i in m.graph.initializer}
    inputs = [i for i in m.graph.input if i.name not in init]
    if len(inputs) != 1:
        raise ValueError(f"{path}: expected one image input, found {len(inputs)}")
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in inputs[0].type.tensor_type.shape.dim]
    return inputs[0].name, dims


def run_pnnx(src: Path, w: int, h: int, out_prefix: Path, fp16: bool, dynamic: bool,
             workdir: Path) -> str:
    """Run the pnnx binary; returns its log. Raises RuntimeError if it failed (non-zero exit or
    missing files: the pnnx Python API ignores the exit code, so we check both)."""
    exe = _pnnx_exe()
    param, binf = Path(str(out_prefix) + ".param"), Path(str(out_prefix) + ".bin")
    for p in (param, binf):
        p.unlink(missing_ok=True)
    stem = workdir / "m"
    cmd = [exe, str(src.resolve()), "inputshape=" + _shape_arg(w, h)]
    if dynamic:
        cmd.append("inputshape2=" + _shape_arg(*_second_size(w, h)))
    cmd += [f"pnnxparam={stem}.pnnx.param", f"pnnxbin={stem}.pnnx.bin", f"pnnxpy={stem}_pnnx.py",
            f"pnnxonnx={stem}.pnnx.onnx", f"ncnnpy={stem}_ncnn.py",
            f"ncnnparam={param.resolve()}", f"ncnnbin={binf.resolve()}",
            "fp16=1" if fp16 else "fp16=0"]
    proc = subprocess.run(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    log = proc.stdout
    if proc.returncode != 0 or not param.exists() or not binf.exists() or param.stat().st_size == 0:
        tail = "\n".join(log.strip().splitlines()[-12:])
        raise NanodetRuntimeError(f"pnnx failed on {src} (exit code {proc.returncode}); last lines:\n{tail}")
    return log


# --- ncnn side -----------------------------------------------------------------------------

def _ncnn_net(param: Path, binf: Path):
    try:
        import ncnn
    except ImportError as exc:
        raise ImportError("the parity check runs the ncnn Python wheel: pip install "
                          "'nanodet-ncnn[export]'") from exc
    net = ncnn.Net()
    for k in ("use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic", "use_bf16_storage",
              "use_vulkan_compute"):
        if hasattr(net.opt, k):
            setattr(net.opt, k, False)
    net.opt.num_threads = 1
    if net.load_param(str(param)) != 0 or net.load_model(str(binf)) != 0:
        raise NanodetRuntimeError(f"ncnn could not load {param}")
    return net


def ncnn_forward(param: Path, binf: Path, x: np.ndarray, blobs=None) -> dict[str, np.ndarray]:
    """{blob: array} for a (1, 3, H, W) float input; default blobs: the graph outputs."""
    import ncnn

    net = _ncnn_net(param, binf)
    names = blobs or list(net.output_names())
    out = {}
    with net.create_extractor() as ex:
        ex.input(net.input_names()[0], ncnn.Mat(np.ascontiguousarray(x[0], np.float32)).clone())
        for n in names:
            rc, m = ex.extract(n)
            if rc != 0:
                raise RuntimeError(f"ncnn failed to compute {n}")
            out[n] = np.array(m).copy()
    return out


def _fix_fixed_flatten(param: Path, binf: Path, w: int, h: int) -> list[str]:
    """Rewrite Reshape layers that flatten a (C, H, W) blob to (C, H*W) with the conversion
    size baked in into size-independent ones (0=-1). Returns the rewritten layer names."""
    model = Model.load(param, binf)
    reshapes = [L for L in model.layers if L.type == "Reshape" and len(L.bottoms) == 1]
    if not reshapes:
        return []
    x = np.zeros((1, 3, h, w), np.float32)
    shapes = {k: v.shape for k, v in ncnn_forward(param, binf, x, [L.bottoms[0] for L in reshapes]).items()}
    fixed = []
    for L in reshapes:
        s = shapes[L.bottoms[0]]
        keys = {int(k) for k, _ in L.params}
        if len(s) == 3 and keys <= {0, 1} and L.get(0, 0) == s[1] * s[2] and L.get(1, 0) == s[0]:
            L.set(0, -1)
            fixed.append(L.name)
    if fixed:
        param.write_text(model.param_text())
    return fixed


def _set_input_shape(param: Path, binf: Path, w: int, h: int) -> None:
    model = Model.load(param, binf)
    for L in model.layers:
        if L.type == "Input":
            L.set(0, w)
            L.set(1, h)
            L.set(2, 3)
    param.write_text(model.param_text())


# --- source side ---------------------------------------------------------------------------

def source_forward(src: Path, x: np.ndarray) -> list[tuple[str | None, np.ndarray]]:
    """[(output name or None, array), ...] of the source model, in its own output order."""
    if src.suffix.lower() == ".onnx":
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ImportError("the ONNX parity check needs onnxruntime: pip install onnxruntime") from exc
        sess = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
        outs = sess.run(None, {sess.get_inputs()[0].name: x})
        return [(o.name, np.asarray(v)) for o, v in zip(sess.get_outputs(), outs)]
    try:
        import torch
    except ImportError as exc:
        raise ImportError("the TorchScript parity check needs torch: pip install 'nanodet-ncnn[export]'") from exc
    m = torch.jit.load(str(src), map_location="cpu").eval()
    with torch.no_grad():
        y = m(torch.from_numpy(x))
    flat = []

    def walk(v):
        if isinstance(v, (tuple, list)):
            for e in v:
                walk(e)
        elif isinstance(v, dict):
            for e in v.values():
                walk(e)
        else:
            flat.append((None, v.detach().cpu().numpy()))

    walk(y)
    return flat


def _squeezed(shape) -> tuple[int, ...]:
    # ncnn drops the batch axis (and other unit axes) that the source keeps
    return tuple(int(d) for d in shape if d != 1)


def pair_outputs(ref: list[tuple[str | None, np.ndarray]],
                 got: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(ncnn name, source array, ncnn array), ...]: by name when the source's names are the
    ncnn blob names, by pnnx's ``out<i>`` numbering (the source's output order), else by shape
    when every shape is unique. ncnn's output list order is the layer order of the .param file,
    not the source's output order, so position alone can pair the wrong outputs."""
    if len(ref) != len(got):
        raise ParityError(f"the source has {len(ref)} outputs, the ncnn model {len(got)}")
    src_names = [n for n, _ in ref]
    if all(n is not None and n in got for n in src_names) and len(set(src_names)) == len(ref):
        pairs = [(n, r, got[n]) for n, r in ref]
    elif set(got) == {f"out{i}" for i in range(len(ref))}:
        pairs = [(f"out{i}", r, got[f"out{i}"]) for i, (_, r) in enumerate(ref)]
    else:
        by_shape: dict[tuple, list[str]] = {}
        for n, g in got.items():
            by_shape.setdefault(_squeezed(g.shape), []).append(n)
        pairs = []
        for i, (_, r) in enumerate(ref):
            cands = by_shape.get(_squeezed(r.shape), [])
            if len(cands) != 1:
                shapes = {n: list(g.shape) for n, g in got.items()}
                raise ParityError(
                    f"cannot pair source output {i} (shape {list(r.shape)}) with an ncnn output: "
                    f"{'several' if cands else 'none'} of the ncnn outputs {shapes} have that "
                    "shape and the names do not match the source's")
            pairs.append((cands[0], r, got[cands[0]]))
    if len({n for n, _, _ in pairs}) != len(pairs):
        raise ParityError("two source outputs map to one ncnn output: cannot pair them")
    for n, r, g in pairs:
        if _squeezed(r.shape) != _squeezed(g.shape):
            raise ParityError(f"output {n}: {list(g.shape)} in ncnn vs {list(r.shape)} in the source")
    return pairs


def parity(src: Path, param: Path, binf: Path, w: int, h: int, seed: int = 0) -> list[dict]:
    """Max abs differences between the source and the ncnn model, output by output."""
    x = np.random.default_rng(seed).standard_normal((1, 3, h, w)).astype(np.float32)
    rows = []
    for name, r, g in pair_outputs(source_forward(src, x), ncnn_forward(param, binf, x)):
        r = np.asarray(r, np.float32).reshape(-1)
        diff = float(np.max(np.abs(r - g.reshape(-1)))) if r.size else 0.0
        rows.append({"output": name, "shape": list(g.shape), "max_abs_diff": diff,
                     "max_abs_value": float(np.max(np.abs(r))) if r.size else 0.0})
    return rows


def convert(src: str | os.PathLike, input_size, out_prefix: str | os.PathLike, *,
            fp16: bool = False, tol: float | None = None, check: bool = True,
            keep_pnnx_files: bool = False, log=print) -> dict:
    """Convert `src` (.onnx, or TorchScript .pt/.pth/.torchscript) to OUT_PREFIX.param/.bin.

    ``input_size``: an int or (width, height). ``tol``: parity tolerance on the max abs
    difference, relative to the output's max magnitude when that exceeds 1 (default 1e-3, or
    2e-2 with ``fp16`` weights). Raises ParityError past it, after writing the files."""
    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(f"model not found: {src}")
    w, h = (input_size, input_size) if isinstance(input_size, int) else (int(input_size[0]), int(input_size[1]))
    if w < 32 or h < 32 or w % 32 or h % 32:
        raise ValueError(f"input size must be multiples of 32 (NanoDet strides), got {w}x{h}")
    is_onnx = src.suffix.lower() == ".onnx"
    dynamic = True
    note = None
    if is_onnx:
        _, dims = _onnx_input(src)
        if len(dims) == 4 and all(isinstance(d, int) and d > 0 for d in dims[2:]):
            dynamic = False
            if (dims[2], dims[3]) != (h, w):
                hint = (" (looks like W and H swapped, as NanoDet's exporter does: pass "
                        f"--input-size {dims[3]} {dims[2]})" if (dims[2], dims[3]) == (w, h) else "")
                raise ValueError(f"{src} has a fixed input of {dims[3]}x{dims[2]} (WxH), not "
                                 f"{w}x{h}{hint}")
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    param, binf = Path(str(out_prefix) + ".param"), Path(str(out_prefix) + ".bin")
    work = Path(tempfile.mkdtemp(prefix="nanodet-pnnx-"))
    try:
        run_pnnx(src, w, h, out_prefix, fp16, dynamic, work)
        fixed = [] if dynamic else _fix_fixed_flatten(param, binf, w, h)
        if fixed:
            note = f"fixed-shape source: made {len(fixed)} flatten Reshape layers size-independent"
        _set_input_shape(param, binf, w, h)
        if keep_pnnx_files:
            dst = Path(str(out_prefix) + "_pnnx")
            shutil.copytree(work, dst, dirs_exist_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {"source": str(src), "param": str(param), "bin": str(binf), "input_size": [w, h],
              "fp16": fp16, "dynamic_trace": dynamic, "note": note, "parity": None}
    if note and log:
        log(note)
    if not check:
        return report
    tol = (2e-2 if fp16 else 1e-3) if tol is None else tol
    rows = parity(src, param, binf, w, h)
    report["parity"] = rows
    report["tol"] = tol
    worst = 0.0
    for r in rows:
        rel = r["max_abs_diff"] / max(1.0, r["max_abs_value"])
        worst = max(worst, rel)
        if log:
            log(f"parity {r['output']} {tuple(r['shape'])}: max abs diff {r['max_abs_diff']:.3g} "
                f"(max |value| {r['max_abs_value']:.3g})")
    report["max_rel_diff"] = worst
    if worst > tol:
        raise ParityError(f"converted model differs from the source: max diff {worst:.3g} > "
                          f"tolerance {tol:g} (files kept: {param}, {binf})")
    return report
