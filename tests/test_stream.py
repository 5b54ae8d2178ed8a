"""Throughput mode (worker pool, in order), latency mode (newest frame) and frame sources:
ordering and bit-identity against serial detect(), reader threads that always stop, dropping
and reconnecting streams, callable / iterable sources, and the CLI's --workers."""
from __future__ import annotations

import http.server
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import nanodet_ncnn
from nanodet_ncnn.sources import Frame, to_frames
from conftest import IMAGES, SPECS, coco_images, model_paths

SOME_COCO = coco_images()[:5]


def nanodet_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("nanodet-")]


def no_threads_left(timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while nanodet_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    return nanodet_threads()


@pytest.fixture(scope="module")
def model():
    return nanodet_ncnn.load("nanodet-m", num_threads=1)


@pytest.fixture(scope="module")
def frames():
    src = cv2.resize(cv2.imread(str(IMAGES / "zidane.jpg")), (320, 180))
    return [np.ascontiguousarray(np.roll(src, 7 * i, axis=1)) for i in range(12)]


@pytest.fixture(scope="module")
def video(tmp_path_factory, frames):
    path = tmp_path_factory.mktemp("vid") / "clip.mp4"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12, (320, 180))
    for f in frames:
        w.write(f)
    w.release()
    return path


def count_frames(path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def same(a, b) -> None:
    np.testing.assert_array_equal(a.xyxy, b.xyxy)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.class_ids, b.class_ids)


# --- throughput mode ----------------------------------------------------------------------------

@pytest.mark.parametrize("key", sorted(SPECS))
def test_workers_bit_identical_to_serial_detect(key):
    param, bin_ = model_paths(key)
    det = nanodet_ncnn.Detector(param, bin_, num_threads=1, conf=0.3)
    serial = [det.detect(p) for p in SOME_COCO]
    assert sum(len(d) for d in serial) > 0
    for workers in (1, 2, 4):
        got = det.predict([str(p) for p in SOME_COCO], workers=workers, progress=False)
        assert [r.path for r in got] == [str(p) for p in SOME_COCO]
        for r, d in zip(got, serial):
            same(r.detections, d)
            assert r.detections.input_size == d.input_size


def test_workers_on_folder_array_stack_and_video(model, frames, video):
    serial = [model.detect(f) for f in frames]
    stack = np.stack(frames)
    for workers in (2, 4, "auto"):
        for r, d in zip(model.predict(stack, workers=workers, progress=False), serial):
            same(r.detections, d)
        vid = list(model.predict(str(video), stream=True, workers=workers, progress=False))
        assert [r.index for r in vid] == list(range(len(frames)))
        # decoded mp4 frames differ slightly from the originals: compare with detect() on them
        cap = cv2.VideoCapture(str(video))
        for r in vid:
            ok, f = cap.read()
            same(r.detections, model.detect(f))
    by_folder = model.predict(IMAGES, workers=2, progress=False)
    names = sorted(p.name for p in IMAGES.iterdir() if p.suffix.lower() in nanodet_ncnn.sources.IMAGE_EXTS)
    assert [Path(r.path).name for r in by_folder] == names


def test_bad_image_in_a_list_raises_in_order(model, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    paths = [str(p) for p in SOME_COCO[:2]] + [str(bad)] + [str(SOME_COCO[3])]
    seen = []
    with pytest.raises(ValueError, match="cannot decode"):
        for r in model.predict(paths, workers=2, stream=True, progress=False):
            seen.append(r.path)
    assert seen == paths[:2]
    assert no_threads_left() == []


def test_workers_argument_checked(model, frames):
    for bad in (0, -1, "many", 1.5):
        with pytest.raises(ValueError, match="workers"):
            model.predict(frames, workers=bad, progress=False)


def test_load_sets_default_workers(frames):
    m = nanodet_ncnn.load("nanodet-m", num_threads=1, workers=2)
    assert m.workers == 2
    ref = nanodet_ncnn.load("nanodet-m", num_threads=1)
    for r, f in zip(m.predict(frames[:4], progress=False), frames):
        same(r.detections, ref.detect(f))


def test_path_pixel_format_is_the_same_for_detect_and_predict(bus):
    """A decoded file is BGR whatever the detector's default pixel_format says."""
    m = nanodet_ncnn.load("nanodet-m", num_threads=1, pixel_format="rgb")
    path = str(IMAGES / "bus.jpg")
    a = m.detect(path)
    b = m.predict(path)
    c = m.predict([path, path], workers=2, progress=False)[1]
    bgr = nanodet_ncnn.load("nanodet-m", num_threads=1).detect(bus)
    for x in (a, b.detections, c.detections):
        same(x, bgr)


# --- reader threads always stop ---------------------------------------------------------------

def test_early_break_leaves_no_thread(model, frames, video):
    assert nanodet_threads() == []
    sources = [str(video), IMAGES, frames, iter(frames), lambda: frames[0]]
    for src in sources:
        for workers in (1, 2):
            gen = model.predict(src, stream=True, workers=workers, progress=False)
            for i, r in enumerate(gen):
                if i == 1:
                    break
            del gen
            assert no_threads_left() == [], f"reader left running for {src!r}"


def test_save_failures_leave_no_reader_thread(model, video, tmp_path):
    vp = model.predict(str(video), progress=False)
    with pytest.raises(OSError, match="codec"):
        vp.save(tmp_path / "bad_codec.mp4", codec="zzzz")
    assert nanodet_threads() == []
    with pytest.raises(TypeError):
        vp.save(tmp_path / "bad_codec.mp4", codec="toolong")
    assert nanodet_threads() == []
    with pytest.raises(OSError):
        vp.save("/proc/nanodet-ncnn-unwritable/out.mp4")
    assert nanodet_threads() == []
    with pytest.raises(OSError, match="cannot write"):
        vp.save("/sys/nanodet-ncnn-unwritable.mp4")
    assert nanodet_threads() == []
    # an opened-but-never-iterated source holds no thread and closes
    src = to_frames(str(video))
    it = iter(src)
    assert nanodet_threads() == []
    src.close()
    with pytest.raises(RuntimeError, match="closed"):
        next(it)


def test_exception_during_save_keeps_a_playable_partial_file(model, frames, tmp_path):
    n = {"i": 0}

    def camera():
        n["i"] += 1
        if n["i"] > 10:
            raise RuntimeError("camera unplugged")
        return frames[n["i"] % len(frames)]

    out = tmp_path / "partial.mp4"
    vp = model.predict(camera, stream_buffer=True, workers=2, progress=False)
    with pytest.raises(RuntimeError, match="unplugged"):
        vp.save(out, fps=12)
    assert count_frames(out) == 10
    assert no_threads_left() == []


def test_sigint_during_save_keeps_a_playable_partial_file(tmp_path):
    out = tmp_path / "interrupted.mp4"
    # Ctrl+C as in a terminal: a job started in the background (`cmd &` without job control)
    # inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler
    script = textwrap.dedent(f"""
        import signal
        signal.signal(signal.SIGINT, signal.default_int_handler)
        import cv2, numpy as np, nanodet_ncnn
        img = cv2.resize(cv2.imread({str(IMAGES / "zidane.jpg")!r}), (320, 180))
        n = [0]
        def camera():
            n[0] += 1
            return None if n[0] > 3000 else np.roll(img, n[0] % 320, axis=1)
        m = nanodet_ncnn.load("nanodet-m", num_threads=1)
        m.predict(camera, stream_buffer=True, workers=2, progress=False).save({str(out)!r}, fps=25)
    """)
    p = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            if out.exists() and out.stat().st_size > 64_000:
                break
            time.sleep(0.1)
        assert p.poll() is None, p.stderr.read()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert "KeyboardInterrupt" in err
    written = count_frames(out)
    assert 0 < written < 3000


def test_video_save_with_workers_keeps_every_frame_and_fps(model, video, tmp_path):
    vp = model.predict(str(video), workers=2, progress=False)
    out = vp.save(tmp_path / "out.mp4")
    assert count_frames(out) == 12 and vp.stats["frames"] == 12
    assert cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FPS) == pytest.approx(12, abs=0.01)
    assert no_threads_left() == []


# --- latency mode and live sources ------------------------------------------------------------

def test_latency_mode_takes_the_newest_frame(model, frames):
    made: list[float] = []

    def fast_camera():
        if len(made) >= 3000:
            return None
        time.sleep(0.001)
        made.append(time.time())
        return frames[len(made) % len(frames)]

    results = []
    for r in model.predict(fast_camera, stream=True, progress=False):
        results.append(r)
        if len(results) == 25:
            break
    assert no_threads_left() == []
    period = float(np.median([r.speed["total"] for r in results])) / 1000
    idx = [r.index for r in results]
    assert idx == sorted(set(idx)) and idx[-1] - idx[0] > len(idx), "frames were not skipped"
    for r in results:
        assert abs(r.timestamp - made[r.index]) < 0.05
        assert r.speed["latency"] >= r.speed["total"]
        # age of the frame when its inference started
        assert r.speed["latency"] / 1000 - r.speed["total"] / 1000 <= 2 * period


def test_stream_buffer_keeps_every_frame(model, frames):
    gen = (f for f in frames)
    got = list(model.predict(gen, stream=True, stream_buffer=True, progress=False))
    assert [r.index for r in got] == list(range(len(frames)))
    for r, f in zip(got, frames):
        same(r.detections, model.detect(f))
        assert "latency" in r.speed and r.timestamp is not None


def test_callable_and_iterable_sources(model, frames):
    it = iter(frames[:5])
    got = list(model.predict(lambda: next(it, None), stream_buffer=True, progress=False))
    assert len(got) == 5
    vp = model.predict(iter(frames[:3]), stream_buffer=True, progress=False)
    assert len(list(vp)) == 3 and vp.stats["frames"] == 3
    with pytest.raises(TypeError, match="uint8"):
        list(model.predict(iter([np.zeros((8, 8, 3), np.float32)]), progress=False))
    with pytest.raises(TypeError, match="uint8"):
        list(model.predict(lambda: "not a frame", progress=False))
    assert no_threads_left() == []


class _MJPEG(http.server.BaseHTTPRequestHandler):
    """multipart/x-mixed-replace JPEG frames; each connection sends `per_connection` frames
    and then closes (a stream that drops)."""
    frames: list = []
    per_connection = 8
    connections = 0
    max_connections = 1000

    def log_message(self, *a):
        pass

    def do_GET(self):
        type(self).connections += 1
        if type(self).connections > self.max_connections:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        for f in self.frames[:self.per_connection]:
            jpg = cv2.imencode(".jpg", f)[1].tobytes()
            self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                             % len(jpg) + jpg + b"\r\n")
        self.close_connection = True


@pytest.fixture
def mjpeg_server(frames):
    handler = type("H", (_MJPEG,), {"frames": frames, "connections": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cam.mjpg", handler
    finally:
        server.shutdown()
        server.server_close()
        t.join(5)


def test_dropping_stream_ends_with_a_message(model, mjpeg_server, caplog):
    url, handler = mjpeg_server
    with caplog.at_level(logging.WARNING, logger="nanodet_ncnn"):
        vp = model.predict(url, stream_buffer=True, progress=False)
        got = list(vp)
    assert [r.index for r in got] == list(range(8))
    assert "stopped delivering frames after 8 frames" in vp.stats["end_reason"]
    assert any("stopped delivering" in m for m in caplog.messages)
    assert handler.connections == 1
    assert no_threads_left() == []


def test_dropping_stream_reconnects(model, mjpeg_server, caplog):
    url, handler = mjpeg_server
    handler.max_connections = 2   # two good connections, then the camera is gone (404)
    with caplog.at_level(logging.WARNING, logger="nanodet_ncnn"):
        vp = model.predict(url, stream_buffer=True, reconnect=True, progress=False)
        got = [r.index for r in vp]
    assert got == list(range(16))
    assert handler.connections == 2 + 3   # then the default 3 retries, all refused
    assert sum("reconnecting" in m for m in caplog.messages) == 4
    assert "3 reconnect attempts failed" in vp.stats["end_reason"]
    assert no_threads_left() == []


def test_frames_carry_capture_timestamps(video):
    before = time.time()
    with to_frames(str(video)) as src:
        got = list(src)
    assert all(isinstance(f, Frame) and f.pixel_format == "bgr" for f in got)
    ts = [f.timestamp for f in got]
    assert ts == sorted(ts) and before <= ts[0] <= time.time()


# --- command line -----------------------------------------------------------------------------

def test_cli_workers(tmp_path, capsys):
    from nanodet_ncnn.cli import main

    args = ["detect", *map(str, SOME_COCO), "--model", "nanodet-m", "--threads", "1", "--json"]
    assert main(args + ["--workers", "2"]) == 0
    two = json.loads(capsys.readouterr().out)
    m = nanodet_ncnn.load("nanodet-m", num_threads=1)
    for entry, p in zip(two, SOME_COCO):
        d = m.detect(p)
        assert entry["path"] == str(p)
        assert [x["class_id"] for x in entry["detections"]] == d.class_ids.tolist()
        np.testing.assert_allclose([x["box"] for x in entry["detections"]] or np.zeros((0, 4)),
                                   d.xyxy, atol=0.006)
    with pytest.raises(SystemExit):
        main(args + ["--workers", "0"])
    assert "positive integer" in capsys.readouterr().err
