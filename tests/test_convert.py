"""`nanodet-ncnn convert`: pnnx conversion of a small NanoDet-Plus-shaped torch module (random
weights, strides 8/16/32/64, one N x (C + 32) output), parity with the source, and detections of
the converted model in our Detector against the oracle's numpy decode of the torch module's own
output."""
from __future__ import annotations

import re

import numpy as np
import onnx  # noqa: F401  the `export` extra is required by the test command: never skipped
import onnxruntime  # noqa: F401
import pnnx  # noqa: F401
import pytest
import torch

from conftest import IMAGES, assert_same_detections
from nanodet_ncnn import Detector
from nanodet_ncnn.cli import main
from nanodet_ncnn.convert import ParityError, convert, pair_outputs
from oracle import decode

W, H = 320, 256          # deliberately non-square: catches swapped width / height
NUM_CLASSES, REG_MAX = 3, 7
STRIDES = (8, 16, 32, 64)


class TinyNanoDetPlus(torch.nn.Module):
    """NanoDet-Plus in miniature: a stride-8 stem, three stride-2 depthwise stages, one 1x1 head
    conv per level, and the official export tail (sigmoid on the class part, flatten, concat
    over levels, permute to N x (C + 4 * (reg_max + 1)))."""

    def __init__(self, nc=NUM_CLASSES, reg_max=REG_MAX, ch=16):
        super().__init__()
        nn = torch.nn
        act = lambda: nn.LeakyReLU(0.1)  # noqa: E731
        self.stem = nn.Sequential(nn.Conv2d(3, ch, 3, 2, 1), act(), nn.Conv2d(ch, ch, 3, 2, 1), act(),
                                  nn.Conv2d(ch, ch, 3, 2, 1), nn.BatchNorm2d(ch), act())
        self.down = nn.ModuleList([
            nn.Sequential(nn.Conv2d(ch, ch, 3, 2, 1, groups=ch), nn.Conv2d(ch, ch, 1), act())
            for _ in range(3)])
        self.heads = nn.ModuleList([nn.Conv2d(ch, nc + 4 * (reg_max + 1), 1) for _ in STRIDES])
        self.nc = nc
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    fan_in = m.weight[0].numel()
                    m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            for h in self.heads:  # spread the scores and box sides so detections are distinct
                h.weight.mul_(0.5)
                h.bias[:nc] -= 2.0
            bn = self.stem[5]
            bn.running_mean.copy_(torch.randn(ch, generator=g) * 0.1)
            bn.running_var.copy_(torch.rand(ch, generator=g) + 0.5)

    def forward(self, x):
        f = self.stem(x)
        feats = [f]
        for d in self.down:
            f = d(f)
            feats.append(f)
        outs = []
        for f, head in zip(feats, self.heads):
            o = head(f)
            cls, reg = o.split([self.nc, o.shape[1] - self.nc], dim=1)
            outs.append(torch.cat([cls.sigmoid(), reg], dim=1).flatten(start_dim=2))
        return torch.cat(outs, dim=2).permute(0, 2, 1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    module = TinyNanoDetPlus().eval()
    x = torch.randn(1, 3, H, W)
    ts = torch.jit.trace(module, x)
    ts.save(str(d / "tiny.pt"))
    # like NanoDet's exporter: a fixed-shape ONNX graph
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, x, str(d / "tiny.onnx"), input_names=["data"],
                          output_names=["output"], opset_version=13, dynamo=False)
    return module, d


@pytest.fixture(scope="module")
def image():
    import cv2

    # exactly the network size: letterboxing is then the identity, so the torch module sees
    # the same tensor as the converted model
    return cv2.resize(cv2.imread(str(IMAGES / "bus.jpg")), (W, H), interpolation=cv2.INTER_AREA)


def check_detector_matches_torch(param, module, image):
    det = Detector(param)
    # layout read from the graph, size from the Input shape convert wrote
    assert det.layout == "single-output"
    assert det.family == "nanodet-plus"
    assert (det.num_classes, det.reg_max, det.strides) == (NUM_CLASSES, REG_MAX, list(STRIDES))
    assert det.input_size == (W, H)
    x = det.extract_blobs(image, [det._core.input_blob])[det._core.input_blob]
    assert x.shape == (3, H, W)
    with torch.no_grad():
        out = module(torch.from_numpy(x[None])).numpy()[0]
    conf = float(np.quantile(out[:, :NUM_CLASSES].max(1), 0.98))  # ~2% of anchors pass
    # the input is exactly W x H: the content fills it, source pixels are input pixels
    ref = decode(out[:, :NUM_CLASSES], out[:, NUM_CLASSES:], (W, H, W, H, 0, 0, W, H), STRIDES,
                 conf=conf)
    assert len(ref[0]) >= 5, "the test network should produce several detections"
    got = det.detect(image, conf=conf, iou=0.6)
    assert len(got) >= 5
    assert_same_detections((got.xyxy, got.scores, got.class_ids), ref, conf=conf, what="converted")


def _parity_diff(stdout: str) -> float:
    m = re.search(r"max abs diff ([0-9.eE+-]+)", stdout)
    assert m, stdout
    return float(m.group(1))


def test_convert_torchscript_cli(tiny, image, tmp_path, capsys):
    module, d = tiny
    rc = main(["convert", str(d / "tiny.pt"), "--input-size", str(W), str(H),
               "--out", str(tmp_path / "ts")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert _parity_diff(out) < 1e-3
    check_detector_matches_torch(tmp_path / "ts.param", module, image)


def test_convert_fixed_shape_onnx(tiny, image, tmp_path):
    module, d = tiny
    report = convert(d / "tiny.onnx", (W, H), tmp_path / "onnx", log=None)
    assert report["parity"] and report["max_rel_diff"] < 1e-3
    assert report["dynamic_trace"] is False and "Reshape" in report["note"]
    # the flatten reshapes were made size-independent: the Detector's probes at other sizes ran
    check_detector_matches_torch(tmp_path / "onnx.param", module, image)


def test_convert_rejects_swapped_size(tiny, tmp_path):
    _, d = tiny
    with pytest.raises(ValueError, match="swapped"):
        convert(d / "tiny.onnx", (H, W), tmp_path / "x", log=None)


def test_convert_parity_failure_exits_nonzero(tiny, tmp_path, capsys):
    _, d = tiny
    # fp16 weights differ from the source by ~1e-4: a zero tolerance must fail
    rc = main(["convert", str(d / "tiny.pt"), "--input-size", str(W), str(H), "--fp16",
               "--tol", "0", "--out", str(tmp_path / "f16")])
    cap = capsys.readouterr()
    assert rc != 0
    assert _parity_diff(cap.out) > 0
    assert "tolerance" in cap.err
    with pytest.raises(ParityError):
        convert(d / "tiny.pt", (W, H), tmp_path / "f16b", fp16=True, tol=0.0, log=None)


def test_convert_pnnx_failure_is_an_error(tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a torchscript archive")
    with pytest.raises(RuntimeError, match="pnnx failed"):
        convert(bad, (W, H), tmp_path / "out", log=None)
    assert not (tmp_path / "out.param").exists()


def _outs(*shapes, names=None):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    return arrays if names is None else dict(zip(names, arrays))


def test_pair_outputs_by_shape_not_position():
    """ncnn lists outputs in .param layer order, which need not be the source's output order."""
    cls, reg = _outs((1, 3, 40, 32), (1, 32, 40, 32))
    got = {"reg_out": reg[0].copy(), "cls_out": cls[0].copy()}  # reversed, other names
    pairs = pair_outputs([(None, cls), (None, reg)], got)
    assert [n for n, _, _ in pairs] == ["cls_out", "reg_out"]
    for _, r, g in pairs:
        np.testing.assert_array_equal(r.reshape(-1), g.reshape(-1))


def test_pair_outputs_by_name_and_pnnx_index():
    a, b = _outs((1, 100, 35), (1, 100, 35))  # same shape: only names / numbering can tell
    by_name = pair_outputs([("x", a), ("y", b)], {"y": b[0], "x": a[0]})
    assert [n for n, _, _ in by_name] == ["x", "y"]
    by_index = pair_outputs([("output", a), ("aux", b)], {"out1": b[0], "out0": a[0]})
    assert [(n, r is a) for n, r, _ in by_index] == [("out0", True), ("out1", False)]


def test_pair_outputs_fails_clearly():
    a, b = _outs((1, 100, 35), (1, 100, 35))
    with pytest.raises(ParityError, match="several of the ncnn outputs"):
        pair_outputs([(None, a), (None, b)], {"p": a[0], "q": b[0]})
    with pytest.raises(ParityError, match="none of the ncnn outputs"):
        pair_outputs([(None, a)], {"p": np.zeros((100, 36), np.float32)})
    with pytest.raises(ParityError, match="the source has 2 outputs, the ncnn model 1"):
        pair_outputs([(None, a), (None, b)], {"p": a[0]})
    with pytest.raises(ParityError, match=r"output out0: \[100, 36\] in ncnn"):
        pair_outputs([(None, a)], {"out0": np.zeros((100, 36), np.float32)})
