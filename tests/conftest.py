from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from oracle import SPECS, iou_matrix, shared_dir

SHARED = shared_dir()
if not (SHARED / "models").is_dir():
    raise pytest.UsageError(
        f"shared test data not found at {SHARED}: put it at ../shared beside the repo or set "
        "NANODET_NCNN_SHARED")
MODELS = SHARED / "models"
IMAGES = SHARED / "images"
COCO = SHARED / "datasets" / "coco128-val2017"
# The zoo finds its models offline here (no network in tests).
os.environ.setdefault("NANODET_NCNN_MODELS", str(MODELS))

# Under qemu-user without binfmt_misc (tools/release/test_wheels.sh) the interpreter is an ARM
# binary the host kernel cannot exec: child interpreters start through a host script that runs
# the same emulated Python on the same CPU model.
_CHILD_PYTHON = os.environ.get("NANODET_NCNN_TEST_PYTHON")
if _CHILD_PYTHON:
    import multiprocessing

    sys.executable = _CHILD_PYTHON
    multiprocessing.set_executable(_CHILD_PYTHON)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs_ncnn_wheel: uses the ncnn PyPI wheel as the oracle (no armv7l wheel "
        "exists: deselected there by tools/release/test_wheels.sh)")


_DESELECTED: list = []


def pytest_deselected(items):
    _DESELECTED.extend(items)


def pytest_terminal_summary(terminalreporter):
    """Why tests were deselected: by marker (-m) or by name (-k / --deselect)."""
    if not _DESELECTED:
        return
    why: dict[str, int] = {}
    for item in _DESELECTED:
        marks = [m for m in ("slow", "needs_ncnn_wheel") if item.get_closest_marker(m)]
        key = "+".join(marks) if marks else "by name"
        why[key] = why.get(key, 0) + 1
    terminalreporter.write_line("deselected: " + ", ".join(f"{n} {k}" for k, n in sorted(why.items())))


# With the shared data present every test can run, so a skip means a missing dependency or a
# broken set-up that would otherwise pass silently: it is reported as a failure. Only tests
# marked `allow_skip` (a dependency on the machine, not on the project's data or extras) may skip.
def _skip_is_allowed(item) -> bool:
    return item is not None and item.get_closest_marker("allow_skip") is not None


def _fail_skip(rep, where: str) -> None:
    reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    rep.outcome = "failed"
    rep.longrepr = (f"{where} skipped although the shared test data is at {SHARED}: {reason} "
                    "(skips are failures here; mark genuinely machine-dependent tests allow_skip)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and not hasattr(rep, "wasxfail") and not _skip_is_allowed(item):
        _fail_skip(rep, item.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped:
        _fail_skip(rep, collector.nodeid)


def model_paths(key: str) -> tuple[Path, Path]:
    base = MODELS / SPECS[key].rel
    return Path(str(base) + ".param"), Path(str(base) + ".bin")


# Under qemu (tools/release/test_wheels.sh, tools/arm) a forward pass takes seconds: the same
# tests run on fewer images there.
EMULATED = os.environ.get("NANODET_NCNN_EMULATED") == "1"


def shared_images() -> list[Path]:
    images = sorted(p for p in IMAGES.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    return images[:2] if EMULATED else images


def coco_images() -> list[Path]:
    images = sorted((COCO / "images").glob("*.jpg"))
    return images[:4] if EMULATED else images


@pytest.fixture(scope="session")
def bus():
    import cv2

    return cv2.imread(str(IMAGES / "bus.jpg"))


@pytest.fixture(scope="session")
def zidane():
    import cv2

    return cv2.imread(str(IMAGES / "zidane.jpg"))


def assert_same_detections(a, b, **kw):
    problems, _ = unmatched_detections(a, b, **kw)
    assert not problems, problems[0]


def unmatched_detections(a, b, *, conf, nms_iou=0.6, box_iou=0.99, score_tol=1e-3, margin=2e-3,
                         what=""):
    """(problems, number of detections checked). Every detection of one side clearly above `conf` has a twin on the other side (same class,
    IoU >= box_iou, |score diff| <= score_tol). Detections within `margin` of the threshold, or
    ones whose NMS fate hinges on an IoU within 0.01 of `nms_iou`, may be unmatched."""
    problems: list[str] = []
    checked = 0
    (ba, sa, la), (bb, sb, lb) = a, b
    ba, bb = np.asarray(ba, np.float64).reshape(-1, 4), np.asarray(bb, np.float64).reshape(-1, 4)
    for (b1, s1, l1), (b2, s2, l2), side in (((ba, sa, la), (bb, sb, lb), "first"),
                                             ((bb, sb, lb), (ba, sa, la), "second")):
        ious = iou_matrix(b1, b2) if len(b1) and len(b2) else np.zeros((len(b1), len(b2)))
        self_ious = iou_matrix(b1, b1) if len(b1) else np.zeros((0, 0))
        for i in range(len(b1)):
            checked += 1
            ok = [j for j in range(len(b2))
                  if l2[j] == l1[i] and ious[i, j] >= box_iou and abs(s2[j] - s1[i]) <= score_tol]
            if ok:
                continue
            if s1[i] <= conf + max(margin, score_tol):
                continue
            borderline = any(abs(self_ious[i, k] - nms_iou) < 0.01 for k in range(len(b1)) if k != i)
            borderline |= any(abs(ious[i, j] - nms_iou) < 0.01 for j in range(len(b2)))
            if borderline:
                continue
            best = int(np.argmax(ious[i])) if len(b2) else -1
            problems.append(
                f"{what}: detection {i} of the {side} set (class {l1[i]}, score {s1[i]:.4f}, "
                f"box {np.round(b1[i], 1).tolist()}) has no twin; closest: "
                + (f"class {l2[best]}, score {s2[best]:.4f}, IoU {ious[i, best]:.4f}"
                   if best >= 0 else "none"))
    return problems, checked
