"""The C++ worker pool (_core.Pool): N workers on one shared Detector, results in order.

The reference is serial _core.Detector.detect() on the same detector: the pool must give the
same bits, frame by frame, for every worker count.
"""
from __future__ import annotations

import os
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from nanodet_ncnn import _core
from conftest import IMAGES, model_paths
from oracle import SPECS

IMAGE_NAMES = ("bus.jpg", "zidane.jpg", "astronaut.png", "chelsea.png")


def task_count() -> int:
    return len(os.listdir("/proc/self/task"))


def wait_for_tasks(n: int, timeout: float = 5.0) -> int:
    """Thread count once it drops to n (threads finish exiting after join returns)."""
    deadline = time.monotonic() + timeout
    while task_count() > n and time.monotonic() < deadline:
        time.sleep(0.01)
    return task_count()


@pytest.fixture(scope="module")
def images():
    out = [cv2.imread(str(IMAGES / n)) for n in IMAGE_NAMES]
    assert all(im is not None for im in out)
    # a strided view (every other column) and a gray frame: not everything is packed BGR
    out.append(out[0][:, ::2])
    out.append(cv2.cvtColor(out[1], cv2.COLOR_BGR2GRAY))
    return out


def core_detector(key: str, **kw) -> _core.Detector:
    param, bin_ = model_paths(key)
    return _core.Detector(str(param), str(bin_), **kw)


def run_in_order(pool: _core.Pool, frames, **kw) -> list:
    """Submit everything, collecting whenever the pool is full; returns results or exceptions."""
    out: list = []

    def take():
        try:
            out.append(pool.collect())
        except Exception as e:  # the frame's own error, in its place
            out.append(e)

    for f in frames:
        if pool.pending >= pool.max_pending:
            take()
        pool.submit(f, **kw)
    while pool.pending:
        take()
    return out


def assert_same(result, serial, what=""):
    xyxy, scores, classes, times, insize = serial
    assert np.array_equal(result[1], xyxy), what
    assert np.array_equal(result[2], scores), what
    assert np.array_equal(result[3], classes), what
    assert result[5] == insize, what
    assert set(result[4]) == set(times)


@pytest.mark.parametrize("key", sorted(SPECS))
def test_bit_identical_to_serial_for_1_2_4_workers(key, images):
    det = core_detector(key, num_threads=1)
    serial = [det.detect(im, conf=0.3) for im in images]
    assert sum(len(s[1]) for s in serial) > 0 or key == "plus_qr"
    frames = images * 2  # more frames than workers, each image twice
    for workers in (1, 2, 4):
        with _core.Pool(det, workers=workers) as pool:
            assert (pool.workers, pool.threads_per_worker, pool.max_pending) == (workers, 1, 2 * workers)
            got = run_in_order(pool, frames, conf=0.3)
        assert [g[0] for g in got] == list(range(len(frames)))
        for k, g in enumerate(got):
            assert_same(g, serial[k % len(images)], f"{key} workers={workers} frame {k}")


@pytest.mark.parametrize("num_threads,threads_per_worker", [(1, 2), (2, 1)])
def test_threads_per_worker_other_than_the_detectors_gives_the_same_bits(
        num_threads, threads_per_worker, images, capfd):
    det = core_detector("plus_split", num_threads=num_threads)
    serial = [det.detect(im) for im in images[:2]]
    capfd.readouterr()
    with _core.Pool(det, workers=2, threads_per_worker=threads_per_worker) as pool:
        assert pool.threads_per_worker == threads_per_worker
        got = run_in_order(pool, images[:2] * 2)
    for k, g in enumerate(got):
        assert_same(g, serial[k % 2])
    # ncnn complains when an extractor's thread count differs from its net's load-time count
    # (and then ignores it for gemm convolutions): the pool runs a net loaded for its count.
    assert "load-time" not in capfd.readouterr().err


def serial_error(det, frame, **kw) -> Exception:
    with pytest.raises(Exception) as info:
        det.detect(frame, **kw)
    return info.value


def test_error_frames_come_back_in_place_without_breaking_the_pool(images):
    det = core_detector("nanodet_m", num_threads=1)
    good = images[:3]
    bad = ["not an image", good[0].astype(np.float32), np.zeros((0, 5, 3), np.uint8),
           np.zeros((8, 8, 2), np.uint8)]
    frames = [good[0], bad[0], good[1], bad[1], bad[2], good[2], bad[3], good[0]]
    serial = {id(f): (serial_error(det, f) if any(f is b for b in bad) else det.detect(f))
              for f in frames}
    with _core.Pool(det, workers=2) as pool:
        got = run_in_order(pool, frames)
        assert pool.pending == 0
        # the pool still works after the failures
        pool.submit(good[1])
        assert_same(pool.collect(), det.detect(good[1]))
    assert len(got) == len(frames)
    for k, (f, g) in enumerate(zip(frames, got)):
        want = serial[id(f)]
        if isinstance(want, Exception):
            assert type(g) is type(want) and str(g) == str(want), (k, g, want)
        else:
            assert g[0] == k
            assert_same(g, want, f"frame {k}")


def test_core_error_from_a_worker_is_the_detect_error(images):
    det = core_detector("nanodet_m", num_threads=1)
    want = serial_error(det, images[0], conf=1.5)  # checked by the core, on the worker
    assert isinstance(want, _core.NanodetError)
    with _core.Pool(det, workers=2) as pool:
        pool.submit(images[0], conf=1.5)
        pool.submit(images[1])
        with pytest.raises(type(want), match="conf"):
            pool.collect()
        assert_same(pool.collect(), det.detect(images[1]))


def test_bad_arguments_raise_at_submit(images):
    det = core_detector("nanodet_m")
    with _core.Pool(det, workers=1) as pool:
        with pytest.raises(ValueError, match="nms"):
            pool.submit(images[0], nms="none")
        with pytest.raises(ValueError, match="pixel_format"):
            pool.submit(images[0], pixel_format="yuv")
        assert pool.pending == 0
        with pytest.raises(RuntimeError, match="nothing to collect"):
            pool.collect()
    for bad in (dict(workers=0), dict(threads_per_worker=0), dict(max_pending=-1)):
        with pytest.raises(ValueError):
            _core.Pool(det, **bad)


def test_frame_is_referenced_not_copied_until_collected(images):
    det = core_detector("nanodet_m", num_threads=1)
    frame = images[0].copy()
    before = sys.getrefcount(frame)
    with _core.Pool(det, workers=1) as pool:
        pool.submit(frame)
        assert sys.getrefcount(frame) == before + 1
        got = pool.collect()
        assert sys.getrefcount(frame) == before
    assert_same(got, det.detect(frame))


def test_pool_keeps_its_detector_alive(images):
    det = core_detector("nanodet_m", num_threads=1)
    want = det.detect(images[1])
    pool = _core.Pool(det, workers=2)
    del det
    pool.submit(images[1])
    assert_same(pool.collect(), want)
    pool.close()


def test_close_with_frames_pending_is_prompt_and_joins_every_thread(images):
    det = core_detector("plus_onnx", num_threads=1)
    t0 = time.perf_counter()
    det.detect(images[0])
    one = time.perf_counter() - t0
    n0 = task_count()
    pool = _core.Pool(det, workers=1, max_pending=12)
    assert task_count() == n0 + 1
    for _ in range(12):
        pool.submit(images[0])
    t0 = time.perf_counter()
    pool.close()
    took = time.perf_counter() - t0
    # only the frame already running finishes; the other 11 are dropped
    assert took < 4 * one + 0.5, (took, one)
    assert wait_for_tasks(n0) == n0
    assert pool.pending == 0 and pool.closed
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(images[0])
    with pytest.raises(RuntimeError, match="closed"):
        pool.collect()
    pool.close()  # idempotent


def test_context_manager_and_garbage_collection_join_the_workers(images):
    det = core_detector("nanodet_m", num_threads=1)
    n0 = task_count()
    with _core.Pool(det, workers=4) as pool:
        assert task_count() == n0 + 4
        pool.submit(images[0])
    assert wait_for_tasks(n0) == n0
    pool = _core.Pool(det, workers=3)
    pool.submit(images[0])
    del pool  # pending frame and all: the destructor closes
    assert wait_for_tasks(n0) == n0


def test_producer_thread_blocks_on_backpressure_and_order_holds(images):
    det = core_detector("nanodet_m", num_threads=1)
    serial = [det.detect(im) for im in images]
    frames = images * 3
    seen_pending: list[int] = []
    with _core.Pool(det, workers=2, max_pending=3) as pool:
        def produce():
            for f in frames:
                pool.submit(f)  # blocks while 3 are pending, GIL released
        t = threading.Thread(target=produce)
        t.start()
        got = []
        deadline = time.monotonic() + 120
        for _ in frames:
            # collect() with nothing submitted raises instead of waiting: wait for the producer
            while pool.pending == 0 and time.monotonic() < deadline:
                time.sleep(0.001)
            got.append(pool.collect())
            seen_pending.append(pool.pending)
        t.join(timeout=60)
        assert not t.is_alive()
    assert max(seen_pending) <= 3
    assert [g[0] for g in got] == list(range(len(frames)))
    for k, g in enumerate(got):
        assert_same(g, serial[k % len(images)])


def test_close_wakes_a_blocked_submitter(images):
    det = core_detector("nanodet_m", num_threads=1)
    pool = _core.Pool(det, workers=1, max_pending=1)
    pool.submit(images[0])
    errors: list[Exception] = []

    def blocked():
        try:
            pool.submit(images[1])  # full: waits until close()
        except RuntimeError as e:
            errors.append(e)
    t = threading.Thread(target=blocked)
    t.start()
    time.sleep(0.3)
    assert t.is_alive()
    pool.close()
    t.join(timeout=10)
    assert not t.is_alive() and len(errors) == 1 and "closed" in str(errors[0])


@pytest.mark.parametrize("cores", ["all", "big", "little"])
def test_cores_modes_detect_the_same(cores, images):
    ref = core_detector("nanodet_m", num_threads=1)
    det = core_detector("nanodet_m", num_threads=1, cores=cores)
    assert det.cores == cores
    assert_same((0,) + tuple(det.detect(images[0])), ref.detect(images[0]))
    with _core.Pool(det, workers=2) as pool:
        got = run_in_order(pool, images[:2])
    for g, im in zip(got, images[:2]):
        assert_same(g, ref.detect(im))


def test_unknown_cores_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="cores must be one of 'all', 'big', 'little'"):
        core_detector("nanodet_m", cores="fast")
