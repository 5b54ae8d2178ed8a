"""precision="auto": the one rule in the core (cpp/src/precision.cpp) against the CPU's features
as the kernel reports them (AT_HWCAP, read here without ncnn), and against explicit precisions.
Runs on x86 (auto -> fp32) and under qemu-aarch64 (tools/release/test_wheels.sh): cortex-a76 has
asimdhp (auto -> fp16), cortex-a72 and cortex-a53 do not (auto -> fp32)."""
from __future__ import annotations

import ctypes
import platform

import numpy as np
import pytest

import nanodet_ncnn
from conftest import assert_same_detections, model_paths

AT_HWCAP = 16
HWCAP_ASIMDHP = 1 << 10  # Linux arch/arm64/include/uapi/asm/hwcap.h
SIZE = 160  # small input: the tests also run under emulation, where fp16 is slow


def cpu_has_fp16_arithmetic() -> bool:
    if platform.machine() not in ("aarch64", "arm64"):
        return False
    libc = ctypes.CDLL(None)
    libc.getauxval.restype = ctypes.c_ulong
    libc.getauxval.argtypes = [ctypes.c_ulong]
    return bool(libc.getauxval(AT_HWCAP) & HWCAP_ASIMDHP)


EXPECTED_AUTO = "fp16" if cpu_has_fp16_arithmetic() else "fp32"


def detector(precision: str, key: str = "nanodet_m") -> nanodet_ncnn.Detector:
    param, bin_path = model_paths(key)
    return nanodet_ncnn.Detector(param, bin_path, precision=precision, input_size=SIZE,
                                 num_threads=1)


def raw(det, image, conf=0.05):
    d = det.detect(image, conf=conf)
    return d.xyxy, d.scores, d.class_ids


def test_auto_follows_the_cpu(bus):
    det = detector("auto")
    assert det.precision_used == EXPECTED_AUTO
    text = det.describe()
    assert f"precision {EXPECTED_AUTO} (auto: " in text, text
    if platform.machine() == "aarch64":
        assert ("CPU has asimdhp" if EXPECTED_AUTO == "fp16" else "CPU has no asimdhp") in text
    # auto runs exactly what it names: the same bits as asking for that precision
    a, b = raw(det, bus), raw(detector(EXPECTED_AUTO), bus)
    assert len(a[0]) > 0
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_fp16_runs_only_where_the_cpu_has_it(bus):
    fp16, fp32 = detector("fp16"), detector("fp32")
    assert fp16.precision_used == "fp16" and fp32.precision_used == "fp32"
    assert "precision fp32 (asked)" in fp32.describe()
    a, b = raw(fp16, bus, 0.3), raw(fp32, bus, 0.3)
    assert len(b[0]) > 0
    if cpu_has_fp16_arithmetic():
        assert "precision fp16 (asked)" in fp16.describe()
        # fp16 arithmetic changes the scores a little, not the confident objects found
        assert not np.array_equal(a[1], b[1])
        assert_same_detections(a, b, conf=0.3, box_iou=0.9, score_tol=0.03, margin=0.03)
    else:
        assert "convolutions run in fp32" in fp16.describe(), fp16.describe()
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_int8_graph_stays_int8(bus):
    det = detector("auto", "plus_int8")
    assert det.quantized and det.precision_used == "int8"
    assert "precision int8 (auto: INT8-quantized graph" in det.describe()
    # its float layers follow the CPU rule: fp16 where the CPU has it (what precision="fp16"
    # runs on this graph), else fp32 (what precision="int8" runs)
    twin = "fp16" if cpu_has_fp16_arithmetic() else "int8"
    assert ("float layers fp16" in det.describe()) == cpu_has_fp16_arithmetic()
    a, b = raw(det, bus), raw(detector(twin, "plus_int8"), bus)
    assert len(a[0]) > 0
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_int8_asked_of_a_float_graph_fails():
    with pytest.raises(nanodet_ncnn.ModelError, match="INT8-quantized model"):
        detector("int8")


def test_a_pickled_auto_detector_resolves_again():
    import pickle

    det = pickle.loads(pickle.dumps(detector("auto")))
    assert det.precision == "auto" and det.precision_used == EXPECTED_AUTO
