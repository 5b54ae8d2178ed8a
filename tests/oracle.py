"""Independent reference: the ncnn PyPI wheel runs the graph, plain numpy decodes it. The one
numpy decode of the project: tests import it, and benchmarks/ import it by path.

Nothing here imports nanodet_ncnn. Each shared model's layout is written down by hand from
../shared/models/README.md, so a mistake in the library's own layout inference shows up as a
mismatch instead of being copied into the reference.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MEAN = (103.53, 116.28, 123.675)
NORM = (0.017429, 0.017507, 0.017125)


@dataclass(frozen=True)
class Spec:
    rel: str            # path below models/, without extension
    input_blob: str
    kind: str           # per_stride_2d | per_stride_3d | single | single_t
    outputs: tuple      # per stride: (stride, cls_blob, dis_blob); single: (blob,)
    strides: tuple
    num_classes: int
    sigmoid_applied: bool
    center_offset: float
    size: int


SPECS = {
    "nanodet_m": Spec("nihui__ncnn-assets/nanodet_m", "input.1", "per_stride_2d",
                      ((8, "792", "795"), (16, "814", "817"), (32, "836", "839")),
                      (8, 16, 32), 80, True, 0.5, 320),
    "plus_pnnx": Spec("nihui__ncnn-webassembly-nanodet/coco.torchscript.ncnn", "in0", "single_t",
                      ("out0",), (8, 16, 32, 64), 80, False, 0.0, 416),
    "plus_onnx": Spec("yyccR__nanodet-plus-ncnn-android/nanodet-plus-coco-416", "data", "single",
                      ("output",), (8, 16, 32, 64), 80, True, 0.0, 416),
    "plus_qr": Spec("yyccR__nanodet-plus-ncnn-android/nanodet-plus-qr-416", "data", "single",
                    ("output",), (8, 16, 32, 64), 1, True, 0.0, 416),
    "plus_split": Spec("Deepdive543443__ncnn-android-nanodet/nanodet-plus-m_416", "data",
                       "per_stride_3d", tuple((s, f"cls{s}", f"dis{s}") for s in (8, 16, 32, 64)),
                       (8, 16, 32, 64), 80, True, 0.0, 416),
    "plus_int8": Spec("Deepdive543443__ncnn-android-nanodet/nanodet-plus-m_416_int8", "data",
                      "per_stride_3d", tuple((s, f"cls{s}", f"dis{s}") for s in (8, 16, 32, 64)),
                      (8, 16, 32, 64), 80, True, 0.0, 416),
}


def placement(w: int, h: int, tw: int, th: int, mode: str):
    """(content_w, content_h, pad_left, pad_top, input_w, input_h) as ncnn's examples place it."""
    if mode == "stretch":
        return tw, th, 0, 0, tw, th
    if tw / w <= th / h:
        cw, ch = tw, max(1, int(h * tw / w))
    else:
        cw, ch = max(1, int(w * th / h)), th
    if mode == "letterbox":
        iw, ih = tw, th
    else:  # dynamic: pad to a multiple of 32
        iw, ih = (cw + 31) // 32 * 32, (ch + 31) // 32 * 32
    return cw, ch, (iw - cw) // 2, (ih - ch) // 2, iw, ih


def anchors(strides, iw: int, ih: int, center_offset: float):
    """(centres N x 2, stride per anchor N) over the levels, row-major within each level."""
    centres, per = [], []
    for st in strides:
        fw, fh = -(-iw // st), -(-ih // st)
        ys, xs = np.mgrid[0:fh, 0:fw]
        centres.append(np.stack([(xs.ravel() + center_offset) * st,
                                 (ys.ravel() + center_offset) * st], 1))
        per.append(np.full(fw * fh, st, np.float64))
    return np.concatenate(centres), np.concatenate(per)


def decode(cls, dis, geometry, strides, *, center_offset=0.0, sigmoid_applied=True, conf=0.35,
           iou=0.6, max_det=100, agnostic=False):
    """GFL decode + NMS of N x C scores and N x 4(reg_max+1) distances; boxes in source pixels.
    geometry: (src_w, src_h, content_w, content_h, pad_left, pad_top, input_w, input_h)."""
    w, h, cw, ch, pl, pt, iw, ih = geometry
    cls, dis = np.asarray(cls, np.float64), np.asarray(dis, np.float64)
    scores = cls if sigmoid_applied else 1.0 / (1.0 + np.exp(-cls))
    centres, per = anchors(strides, iw, ih, center_offset)
    assert len(centres) == len(scores), (len(centres), scores.shape)
    best = scores.max(1)
    label = scores.argmax(1)
    keep = best > conf
    d = dis[keep].reshape(-1, 4, dis.shape[1] // 4)
    e = np.exp(d - d.max(2, keepdims=True))
    p = e / e.sum(2, keepdims=True)
    dist = (p * np.arange(d.shape[2])).sum(2) * per[keep, None]
    c = centres[keep]
    boxes = np.stack([c[:, 0] - dist[:, 0], c[:, 1] - dist[:, 1],
                      c[:, 0] + dist[:, 2], c[:, 1] + dist[:, 3]], 1)
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(pl, pl + cw)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(pt, pt + ch)
    sc, lb = best[keep], label[keep]
    kept = nms(boxes, sc, None if agnostic else lb, iou)
    if max_det > 0:  # 0: unlimited
        kept = kept[:max_det]
    boxes, sc, lb = boxes[kept], sc[kept], lb[kept]
    boxes[:, [0, 2]] = ((boxes[:, [0, 2]] - pl) * (w / cw)).clip(0, w)
    boxes[:, [1, 3]] = ((boxes[:, [1, 3]] - pt) * (h / ch)).clip(0, h)
    return boxes, sc, lb


class Oracle:
    """The ncnn wheel running one shared model, decoded by :func:`decode`. ``fp32_only``
    switches ncnn's fp16 paths off (the default for parity); ``threads``: ncnn threads."""

    def __init__(self, models_dir: Path, spec: Spec, *, threads: int = 1, fp32_only: bool = True):
        import ncnn

        self.ncnn = ncnn
        self.spec = spec
        self.net = ncnn.Net()
        o = self.net.opt
        o.use_vulkan_compute = False
        if fp32_only:
            o.use_fp16_packed = o.use_fp16_storage = o.use_fp16_arithmetic = False
        o.num_threads = threads
        base = models_dir / spec.rel
        if self.net.load_param(str(base) + ".param") != 0 or self.net.load_model(str(base) + ".bin") != 0:
            raise RuntimeError(f"the ncnn wheel cannot load {base}")

    def prepare(self, img: np.ndarray, mode: str, size=None):
        """(input Mat, geometry) for a BGR image, placed as ncnn's examples place it."""
        ncnn = self.ncnn
        h, w = img.shape[:2]
        tw = th = size or self.spec.size
        cw, ch, pl, pt, iw, ih = placement(w, h, tw, th, mode)
        img = np.ascontiguousarray(img)
        mat = ncnn.Mat.from_pixels_resize(img, ncnn.Mat.PixelType.PIXEL_BGR, w, h, cw, ch)
        if (iw, ih) != (cw, ch):
            mat = ncnn.copy_make_border(mat, pt, ih - ch - pt, pl, iw - cw - pl,
                                        ncnn.BorderType.BORDER_CONSTANT, 0.0)
        mat.substract_mean_normalize(MEAN, NORM)
        return mat, (w, h, cw, ch, pl, pt, iw, ih)

    def output_blobs(self) -> list[str]:
        s = self.spec
        if s.kind in ("single", "single_t"):
            return [s.outputs[0]]
        return [b for _stride, cb, db in s.outputs for b in (cb, db)]

    def extract(self, mat) -> list[np.ndarray]:
        """Every output blob as an array (the "raw extract" of a Python user)."""
        ex = self.net.create_extractor()
        ex.input(self.spec.input_blob, mat)
        outs = []
        for name in self.output_blobs():
            ret, out = ex.extract(name)
            assert ret == 0, f"extract {name} failed"
            outs.append(np.array(out, dtype=np.float32))
        return outs

    def split(self, outs: list[np.ndarray]):
        """(cls N x C, dis N x 4(reg_max+1)) from the raw outputs, per the hand-written spec."""
        s = self.spec
        C = s.num_classes
        if s.kind in ("single", "single_t"):
            a = outs[0].reshape(outs[0].shape[-2], outs[0].shape[-1])
            if s.kind == "single_t":
                a = a.T
            return a[:, :C], a[:, C:]
        cls_parts, dis_parts = [], []
        for c, d in zip(outs[0::2], outs[1::2]):
            if s.kind == "per_stride_3d":  # cls: C x h x w ; dis: h x w x 32
                c = c.reshape(C, -1).T
                d = d.reshape(-1, d.shape[-1])
            cls_parts.append(c)
            dis_parts.append(d)
        return np.concatenate(cls_parts), np.concatenate(dis_parts)

    def raw_outputs(self, img: np.ndarray, mode: str, size=None):
        mat, geometry = self.prepare(img, mode, size)
        cls, dis = self.split(self.extract(mat))
        return cls.astype(np.float64), dis.astype(np.float64), geometry

    def detect(self, img, *, conf=0.35, iou=0.6, mode="letterbox", size=None, max_det=100,
               agnostic=False):
        s = self.spec
        cls, dis, geometry = self.raw_outputs(img, mode, size)
        return decode(cls, dis, geometry, s.strides, center_offset=s.center_offset,
                      sigmoid_applied=s.sigmoid_applied, conf=conf, iou=iou, max_det=max_det,
                      agnostic=agnostic)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes, scores, labels, iou_thr):
    """Greedy NMS in descending score order (stable); labels None: class-agnostic."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    for i in order:
        if keep:
            k = np.array(keep)
            if labels is not None:
                k = k[labels[k] == labels[i]]
            if len(k) and (iou_matrix(boxes[i:i + 1], boxes[k])[0] > iou_thr).any():
                continue
        keep.append(int(i))
    return np.array(keep, dtype=np.int64)


def shared_dir() -> Path:
    env = os.environ.get("NANODET_NCNN_SHARED")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared"
