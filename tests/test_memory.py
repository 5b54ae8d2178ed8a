"""RSS stays flat (issue #5): 10,000 detect() calls and 1,000 load/detect/unload cycles.

Generous bounds (allocator noise is not a leak): measured drift on x86-64 is 0.0 MB for the calls
and <= 0 MB for the cycles (benchmarks/memory_curve.py prints the whole curve). A leak of 1 KB
per call would add 10 MB here. Both tests are `slow` (about 15 s and 70 s on 2 cores). Under
emulation (NANODET_NCNN_EMULATED=1) they make 300 calls and 60 cycles instead, which still
catches a leaked model per cycle or 25 KB per call, and are not marked slow there.
"""
from __future__ import annotations

import gc

import numpy as np
import pytest

import nanodet_ncnn
from conftest import EMULATED, IMAGES, model_paths

CALLS, CYCLES = (300, 60) if EMULATED else (10000, 1000)
# allowed to skip: a system without /proc
pytestmark = [pytest.mark.allow_skip] + ([] if EMULATED else [pytest.mark.slow])


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    pytest.skip("no /proc/self/status")


@pytest.fixture(scope="module")
def small_frames():
    import cv2

    out = []
    for n in ("bus.jpg", "zidane.jpg"):
        im = cv2.imread(str(IMAGES / n))
        out.append(cv2.resize(im, (im.shape[1] // 4, im.shape[0] // 4)))
    return out


def test_rss_flat_over_10000_detect_calls(small_frames):
    det = nanodet_ncnn.Detector(*model_paths("nanodet_m"), num_threads=1, input_size=64)
    for i in range(min(500, CALLS // 6)):
        det.detect(small_frames[i % 2])
    gc.collect()
    base = rss_mb()
    samples = []
    for i in range(1, CALLS + 1):
        det.detect(small_frames[i % 2])
        if i % (CALLS // 10) == 0:
            samples.append(rss_mb() - base)
    assert max(samples) < 8.0, f"RSS grew by {max(samples):.1f} MB over {CALLS} calls: {samples}"


def test_rss_flat_over_1000_load_unload_cycles(small_frames):
    p, b = model_paths("nanodet_m")
    param, weights = p.read_bytes(), b.read_bytes()

    def cycle(i):
        if i % 2:
            d = nanodet_ncnn.Detector(p, b, num_threads=1, input_size=64)
        else:
            d = nanodet_ncnn._core.Detector.from_memory(param, weights, input_size=64)
        d.detect(small_frames[0])

    for i in range(20):
        cycle(i)
    gc.collect()
    base = rss_mb()
    samples = []
    for i in range(1, CYCLES + 1):
        cycle(i)
        if i % (CYCLES // 10) == 0:
            gc.collect()
            samples.append(rss_mb() - base)
    assert max(samples) < 16.0, f"RSS grew by {max(samples):.1f} MB over {CYCLES} cycles: {samples}"
