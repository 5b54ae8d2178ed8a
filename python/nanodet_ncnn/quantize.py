"""Post-training INT8 quantization of ncnn NanoDet models (what ncnn2table + ncnn2int8 do).

>>> from nanodet_ncnn.quantize import quantize
>>> report = quantize("nanodet-plus-m_416.param", "coco/images", "out/nanodet-int8", method="kl")

Steps:

1. Calibration: the fp32 model runs through our own core (``Detector.extract_blobs``, so the
   images are letterboxed and normalised exactly as ``detect()`` does) and every input blob of a
   Convolution / ConvolutionDepthWise / InnerProduct layer is observed.
2. Activation scales (one per blob, symmetric, ``scale = 127 / threshold``):

   * ``kl``: a 2048-bin histogram of ``|x|`` over ``[0, absmax]`` (zeros left out); for every
     candidate threshold bin ``i`` in 128..2047 the clipped distribution P (the tail folded into
     the last kept bin) is compared with its 128-level quantized version Q and the ``i`` of
     least KL(P || Q) wins (threshold = (i + 0.5) * bin width). Q uses intervals of fractional
     width and both histograms get a small per-bin epsilon, the form ncnn2table uses
     (``kl_threshold(eps=0)`` is TensorRT's original form: Q spread over non-zero bins only).
   * ``aciq``: analytic clipping (Banner et al., ACIQ): ``|x|`` is modelled as exponential (the
     magnitude of a Laplace variable) with scale ``b = mean |x|``; the clip ``alpha`` minimising
     clipping noise ``2 b^2 exp(-alpha / b)`` plus rounding noise ``alpha^2 / (12 * 127^2)`` is
     ``alpha ~= 9.89 b``, capped at the observed absmax. One pass over the images.

3. Weights: per output channel (per group for depthwise) ``scale = 127 / absmax``, rounded half
   away from zero and clamped to [-127, 127], as ncnn's ``quantize_to_int8``.
4. Files in ncnn's int8 format: param key 8 (int8_scale_term) = 2 on Convolution, 1 on
   ConvolutionDepthWise (per-group weight scales), 1 on InnerProduct; in the .bin the weights are
   stored with the int8 tag 0x000D4B38 (padded to 4 bytes), then the float32 bias, the weight
   scales and the bottom blob scale. A quantized conv whose only consumer is another quantized
   conv gets int8_scale_term + 100 and that consumer's input scale appended (ncnn then requantizes
   straight to int8 between the two, as ncnn2int8's requantize fusion does).

Mixed precision: ``keep_fp32`` names layers left in float32 (e.g. the head's last 1x1 convs);
``auto_mixed=K`` measures each layer's sensitivity (the error of the head outputs when only that
layer is quantized, on a few calibration images) and keeps the K worst in float32.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .sources import IMAGE_EXTS, to_frame, to_frames
from .ncnn_model import Layer, Model, read_raw, read_type0, write_int8

QUANTIZABLE = ("Convolution", "ConvolutionDepthWise", "InnerProduct")
NUM_BINS = 2048
TARGET_BINS = 128
KL_EPS = 1e-4  # per-bin smoothing of the normalised histograms in the KL search


# --- activation statistics -----------------------------------------------------------------

@dataclass
class BlobStats:
    absmax: float = 0.0
    abs_sum: float = 0.0
    count: int = 0
    hist: np.ndarray = field(default_factory=lambda: np.zeros(NUM_BINS, np.int64))

    def observe_range(self, a: np.ndarray) -> None:
        m = np.abs(a)
        self.absmax = max(self.absmax, float(m.max(initial=0.0)))
        self.abs_sum += float(m.sum(dtype=np.float64))
        self.count += m.size

    def observe_hist(self, a: np.ndarray) -> None:
        if self.absmax <= 0:
            return
        m = np.abs(a).ravel()
        m = m[m != 0]
        idx = np.minimum((m * (NUM_BINS / self.absmax)).astype(np.int64), NUM_BINS - 1)
        self.hist += np.bincount(idx, minlength=NUM_BINS)


def kl_threshold(hist: np.ndarray, absmax: float, target_bins: int = TARGET_BINS,
                 eps: float = KL_EPS) -> float:
    """The clipping threshold of least KL divergence between the clipped histogram P (the tail
    folded into the last kept bin) and its `target_bins`-level quantization Q.

    Candidate `i` keeps bins [0, i). Q splits them into `target_bins` intervals of equal,
    fractional width i / target_bins (a bin straddling two intervals is shared in proportion),
    flattens each interval's mass over its width and spreads it back over the bins, zero bins
    included. Both P and Q get `eps` added to every bin, without renormalising, so that empty
    bins add nothing to the sum (ncnn2table's form). `eps=0` gives TensorRT's original form
    (Q spread over the non-zero bins only, both renormalised)."""
    hist = np.asarray(hist, np.float64)
    n = len(hist)
    if absmax <= 0 or hist.sum() == 0:
        return absmax
    if eps <= 0:
        return (_kl_bin_tensorrt(hist, target_bins) + 0.5) * absmax / n
    h = hist / hist.sum()
    kls = [kl_divergence_smoothed(h, i, target_bins, eps) for i in range(target_bins, n)]
    return (target_bins + int(np.argmin(kls)) + 0.5) * absmax / n


def kl_divergence_smoothed(h: np.ndarray, i: int, target_bins: int = TARGET_BINS,
                           eps: float = KL_EPS) -> float:
    """KL(P || Q) of `kl_threshold` for the candidate that keeps bins [0, i) of the normalised
    histogram `h`."""
    n = len(h)
    cdf = np.concatenate([[0.0], np.cumsum(h)])  # cdf[k] = mass of bins [0, k)

    def mass_below(x: np.ndarray) -> np.ndarray:  # mass of [0, x) for fractional x
        k = np.minimum(np.floor(x).astype(np.int64), n - 1)
        return cdf[k] + (x - k) * h[k]

    w = i / target_bins
    edges = np.arange(target_bins + 1) * w
    edges[-1] = i
    chunk = np.diff(mass_below(edges))  # mass per interval, of bins [0, i)
    # Q's mass over bin k: its overlap with the intervals, at density chunk / w
    pos = np.arange(i + 1) / w
    j = np.minimum(np.floor(pos).astype(np.int64), target_bins - 1)
    g = np.concatenate([[0.0], np.cumsum(chunk)])[j] + (pos - j) * chunk[j]
    q = np.diff(g) + eps
    p = h[:i] + eps
    p[-1] += max(0.0, 1.0 - cdf[i])
    return float(np.sum(p * np.log(p / q)))


def _kl_bin_tensorrt(hist: np.ndarray, target_bins: int) -> int:
    n = len(hist)
    tail = np.concatenate([np.cumsum(hist[::-1])[::-1], [0.0]])  # tail[i] = sum(hist[i:])
    best_i, best_kl = n, math.inf
    for i in range(target_bins, n + 1):
        ref = hist[:i]
        p = ref.copy()
        p[-1] += tail[i]
        # Q: merge ref into target_bins chunks, spread each chunk's mass over its non-zero bins
        edges = (np.arange(target_bins) * i) // target_bins
        nz = (ref != 0).astype(np.float64)
        chunk_sum = np.add.reduceat(ref, edges)
        chunk_nz = np.add.reduceat(nz, edges)
        per_bin = np.divide(chunk_sum, chunk_nz, out=np.zeros_like(chunk_sum), where=chunk_nz > 0)
        sizes = np.diff(np.append(edges, i))
        q = np.repeat(per_bin, sizes) * nz
        ps, qs = p.sum(), q.sum()
        if ps <= 0 or qs <= 0:
            continue
        p /= ps
        q /= qs
        mask = p > 0
        qm = np.maximum(q[mask], 1e-12)  # the folded tail bin may have no reference mass
        kl = float(np.sum(p[mask] * np.log(p[mask] / qm)))
        if kl < best_kl:
            best_kl, best_i = kl, i
    return best_i


# alpha / b minimising 2 b^2 exp(-t) + (t b)^2 / (12 * 127^2)  <=>  t exp(t) = 12 * 127^2
def _aciq_ratio() -> float:
    c = 12.0 * 127 * 127
    t = 10.0
    for _ in range(50):  # Newton on t e^t - c
        f = t * math.exp(t) - c
        t -= f / ((t + 1) * math.exp(t))
    return t


ACIQ_RATIO = _aciq_ratio()


def aciq_threshold(stats: BlobStats) -> float:
    if stats.count == 0 or stats.absmax <= 0:
        return stats.absmax
    b = stats.abs_sum / stats.count
    return min(stats.absmax, ACIQ_RATIO * b)


# --- calibration images --------------------------------------------------------------------

def calibration_images(src: str | os.PathLike | Sequence, num_images: int | None) -> list:
    if isinstance(src, (str, os.PathLike)):
        p = Path(src)
        if p.is_dir():
            items = sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_EXTS)
        elif p.is_file():
            items = [p]
        else:
            raise FileNotFoundError(f"calibration folder not found: {p}")
    else:
        items = list(src)
    if not items:
        raise ValueError(f"no calibration images in {src}")
    if num_images and num_images < len(items):
        pick = np.linspace(0, len(items) - 1, num_images).round().astype(int)
        items = [items[i] for i in pick]
    return items


def _iterate(items, desc: str, progress: bool):
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), unit="img", desc=desc, leave=False)
    try:
        for fr in to_frames(items):
            yield fr.image
            if bar:
                bar.update(1)
    finally:
        if bar:
            bar.close()


# --- weights -------------------------------------------------------------------------------

def _round_clamp(x: np.ndarray) -> np.ndarray:
    r = np.sign(x) * np.floor(np.abs(x) + 0.5)
    return np.clip(r, -127, 127).astype(np.int8)


def weight_scales(w: np.ndarray, groups: int) -> np.ndarray:
    absmax = np.abs(w.reshape(groups, -1)).max(axis=1).astype(np.float32)
    return np.where(absmax > 0, 127.0 / np.maximum(absmax, 1e-30), 1.0).astype(np.float32)


@dataclass
class _Target:
    index: int
    layer: Layer
    weight: np.ndarray
    bias: np.ndarray | None
    groups: int          # number of weight scales
    scale_term: int      # 2 (conv), 1 (depthwise per group, inner product)


def _targets(model: Model) -> list[_Target]:
    out = []
    for i, L in enumerate(model.layers):
        if L.type not in QUANTIZABLE or L.get(8, 0):
            continue
        if L.type != "InnerProduct" and L.get(19, 0):
            continue  # dynamic weights
        if len(L.bottoms) != 1 or len(L.tops) != 1:
            continue
        n_w = L.get(2 if L.type == "InnerProduct" else 6, 0)
        has_bias = L.get(1 if L.type == "InnerProduct" else 5, 0)
        num_output = L.get(0, 0)
        w, off = read_type0(L.raw, 0, n_w)
        bias = None
        if has_bias:
            bias, off = read_raw(L.raw, off, num_output)
        if off != len(L.raw):
            raise ValueError(f"layer {L.name}: unexpected trailing weight data")
        if L.type == "ConvolutionDepthWise":
            groups, term = L.get(7, 1), 1
        elif L.type == "Convolution":
            groups, term = num_output, 2
        else:
            groups, term = num_output, 1
        out.append(_Target(i, L, w, bias, groups, term))
    return out


def quantizable_layers(model: Model) -> list[str]:
    return [t.layer.name for t in _targets(model)]


def is_pointwise(L: Layer) -> bool:
    """A 1x1 Convolution or an InnerProduct: the layers whose int8 kernels beat fp16 on ARM."""
    if L.type == "InnerProduct":
        return True
    kw = L.get(1, 0)
    return L.type == "Convolution" and kw == 1 and L.get(11, kw) == 1


def build_int8(model: Model, act_scales: dict[str, float], keep_fp32: Iterable[str] = (),
               fuse_requantize: bool = True) -> Model:
    """A new Model with every quantizable layer (except `keep_fp32`) in ncnn's int8 format.
    `act_scales` maps a layer's bottom blob name to its int8 scale (127 / threshold)."""
    import copy

    keep = set(keep_fp32)
    out = copy.deepcopy(model)
    targets = [t for t in _targets(out) if t.layer.name not in keep]
    quantized = {t.index: t for t in targets}
    consumers = out.consumers()
    for t in targets:
        L = t.layer
        bscale = float(act_scales[L.bottoms[0]])
        if not (bscale > 0 and math.isfinite(bscale)):
            bscale = 1.0
        ws = weight_scales(t.weight, t.groups)
        q = _round_clamp(t.weight.reshape(t.groups, -1) * ws[:, None]).ravel()
        term = t.scale_term
        top_scale = None
        if fuse_requantize and L.type != "InnerProduct":
            users = consumers.get(L.tops[0], [])
            if len(users) == 1 and users[0] in quantized and \
                    quantized[users[0]].layer.type != "InnerProduct":
                nxt = quantized[users[0]].layer
                top_scale = float(act_scales[nxt.bottoms[0]])
                if top_scale > 0 and math.isfinite(top_scale):
                    term += 100
                else:
                    top_scale = None
        parts = [write_int8(q)]
        if t.bias is not None:
            parts.append(t.bias.astype(np.float32).tobytes())
        parts.append(ws.tobytes())
        parts.append(np.float32(bscale).tobytes())
        if top_scale is not None:
            parts.append(np.float32(top_scale).tobytes())
        L.raw = b"".join(parts)
        L.set(8, term)
    return out


# --- calibration ---------------------------------------------------------------------------

def _resolve_model(model) -> tuple[Path, Path, int | None]:
    """(param, bin, zoo input size) for a zoo name or a .param path."""
    from . import zoo

    if isinstance(model, str) and model in zoo.MODELS:
        param, bin_path, entry = zoo.resolve(model)
        return Path(param), Path(bin_path), entry.input_size
    p = Path(model)
    if not p.exists():
        raise FileNotFoundError(f"model not found: {model} (a .param path or a zoo name)")
    return p, p.with_suffix(".bin"), None


def collect_stats(detector, blobs: Sequence[str], images: list, method: str,
                  progress: bool = True) -> dict[str, BlobStats]:
    stats = {b: BlobStats() for b in blobs}
    for img in _iterate(images, "calibrate: range", progress):
        for name, a in detector.extract_blobs(img, list(blobs)).items():
            stats[name].observe_range(a)
    if method == "kl":
        for img in _iterate(images, "calibrate: histogram", progress):
            for name, a in detector.extract_blobs(img, list(blobs)).items():
                stats[name].observe_hist(a)
    return stats


def activation_scales(stats: dict[str, BlobStats], method: str) -> dict[str, float]:
    out = {}
    for name, s in stats.items():
        thr = kl_threshold(s.hist, s.absmax) if method == "kl" else aciq_threshold(s)
        out[name] = 127.0 / thr if thr > 0 else 1.0
    return out


def _output_error(ref: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> float:
    err = 0.0
    for k, r in ref.items():
        d = got[k] - r
        err += float(np.sum(d * d) / max(float(np.sum(r * r)), 1e-12))
    return err / max(len(ref), 1)


def layer_sensitivity(model: Model, act_scales: dict[str, float], images: list, *,
                      input_size=None, num_threads: int = 1, progress: bool = True) -> dict[str, float]:
    """Relative squared error of the head outputs when only one layer is quantized, per layer."""
    from . import _core
    arrays = [to_frame(p).image for p in images]
    kw = dict(num_threads=num_threads, input_size=input_size)
    ref_det = _core.Detector.from_memory(model.param_text().encode(), model.bin_bytes(),
                                         precision="fp32", **kw)
    outs = list(ref_det.output_blobs)
    refs = [ref_det.extract_blobs(a, outs) for a in arrays]
    names = quantizable_layers(model)
    result = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(names), unit="layer", desc="sensitivity", leave=False)
    for name in names:
        others = [n for n in names if n != name]
        m = build_int8(model, act_scales, keep_fp32=others, fuse_requantize=False)
        det = _core.Detector.from_memory(m.param_text().encode(), m.bin_bytes(), precision="int8", **kw)
        result[name] = float(np.mean([_output_error(r, det.extract_blobs(a, outs))
                                      for r, a in zip(refs, arrays)]))
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    return result


def write_table(path: Path, model: Model, act_scales: dict[str, float], keep=()) -> None:
    """A calibration table in ncnn2table's text layout (weight scales, then blob scales)."""
    lines = []
    targets = [t for t in _targets(model) if t.layer.name not in set(keep)]
    for t in targets:
        ws = weight_scales(t.weight, t.groups)
        lines.append(f"{t.layer.name}_param_0 " + " ".join(f"{v:g}" for v in ws))
    for t in targets:
        lines.append(f"{t.layer.name} {act_scales[t.layer.bottoms[0]]:g}")
    path.write_text("\n".join(lines) + "\n")


def quantize(model, calib, out_prefix, *, method: str = "kl", num_images: int | None = 100,
             keep_fp32: Sequence[str] = (), auto_mixed: int = 0, input_size=None,
             num_threads: int | None = None, sensitivity_images: int = 4,
             layers: str = "all", progress: bool = True) -> dict:
    """Quantize an fp32 ncnn NanoDet model (a .param path or a zoo name) with calibration images
    (a folder, a file or a list of paths/arrays); writes OUT_PREFIX.param/.bin/.table/.json and
    returns a report dict. `layers="pointwise"` quantizes only 1x1 convolutions (and inner
    products) and leaves depthwise and larger kernels in float, which ARM CPUs with fp16 run
    cheaper than ncnn's int8 depthwise path (docs/precision.md, "INT8 on ARM")."""
    from .detector import Detector, default_threads

    if method not in ("kl", "aciq"):
        raise ValueError(f"method must be 'kl' or 'aciq', got {method!r}")
    if keep_fp32 and auto_mixed:
        raise ValueError("give either keep_fp32 or auto_mixed, not both")
    if auto_mixed < 0:
        raise ValueError("auto_mixed must be >= 0")
    if layers not in ("all", "pointwise"):
        raise ValueError(f"layers must be 'all' or 'pointwise', got {layers!r}")
    param, bin_path, zoo_size = _resolve_model(model)
    fp32 = Model.load(param, bin_path)
    if any(L.type in QUANTIZABLE and L.get(8, 0) for L in fp32.layers):
        raise ValueError(f"{param} is already quantized (int8_scale_term set)")
    targets = _targets(fp32)
    if not targets:
        raise ValueError(f"{param} has no Convolution / ConvolutionDepthWise / InnerProduct to quantize")
    names = [t.layer.name for t in targets]
    unknown = [k for k in keep_fp32 if k not in names]
    if unknown:
        raise ValueError(f"--keep-fp32: no quantizable layer named {', '.join(unknown)} "
                         f"(quantizable: {', '.join(names[:6])}, ... {', '.join(names[-4:])})")
    size = input_size if input_size is not None else zoo_size
    threads = default_threads() if num_threads is None else num_threads
    det = Detector(param, bin_path, precision="fp32", input_size=size, num_threads=threads)
    images = calibration_images(calib, num_images)
    blobs = sorted({t.layer.bottoms[0] for t in targets})
    stats = collect_stats(det, blobs, images, method, progress)
    scales = activation_scales(stats, method)

    structural = [t.layer.name for t in targets
                  if layers == "pointwise" and not is_pointwise(t.layer)]
    keep = list(keep_fp32)
    sensitivity = None
    if auto_mixed:
        sens_imgs = calibration_images(images, min(sensitivity_images, len(images)))
        sensitivity = layer_sensitivity(fp32, scales, sens_imgs, input_size=size,
                                        num_threads=threads, progress=progress)
        ranked = [n for n in sorted(sensitivity, key=sensitivity.get, reverse=True)
                  if n not in structural]
        keep = ranked[:auto_mixed]
    keep = structural + [k for k in keep if k not in structural]
    int8 = build_int8(fp32, scales, keep_fp32=keep)
    p_out, b_out = int8.save(out_prefix)
    write_table(Path(str(out_prefix) + ".table"), fp32, scales, keep)
    report = {
        "model": str(param), "method": method, "layers": layers, "images": len(images),
        "input_size": list(det.input_size), "param": str(p_out), "bin": str(b_out),
        "bin_bytes": b_out.stat().st_size, "fp32_bin_bytes": Path(bin_path).stat().st_size,
        "quantized_layers": len(targets) - len(keep), "fp32_layers": keep,
        "fused_requantize": sum(1 for L in int8.layers if L.get(8, 0) > 100),
        "activation_scales": scales,
    }
    if sensitivity is not None:
        report["sensitivity"] = dict(sorted(sensitivity.items(), key=lambda kv: -kv[1]))
    Path(str(out_prefix) + ".json").write_text(json.dumps(report, indent=1))
    return report
