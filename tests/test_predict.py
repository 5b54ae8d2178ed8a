"""The one-line predict API over every kind of source, and the result objects."""
from __future__ import annotations

import functools
import http.server
import json
import threading

import cv2
import numpy as np
import pytest

import nanodet_ncnn
from nanodet_ncnn import Result, Results, VideoPrediction
from conftest import IMAGES


@pytest.fixture(scope="module")
def model():
    return nanodet_ncnn.load("nanodet-m", num_threads=2)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """A 24-frame 10 fps clip: zidane.jpg sliding sideways."""
    path = tmp_path_factory.mktemp("vid") / "clip.mp4"
    src = cv2.resize(cv2.imread(str(IMAGES / "zidane.jpg")), (480, 272))
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (480, 272))
    assert w.isOpened()
    for i in range(24):
        w.write(np.roll(src, 6 * i, axis=1))
    w.release()
    return path


def test_single_image_path(model, tmp_path):
    r = model.predict(str(IMAGES / "bus.jpg"), conf=0.4)
    assert isinstance(r, Result) and "bus" in r.detections.class_names
    assert r.path.endswith("bus.jpg") and r.orig_img.shape == (1080, 810, 3)
    assert {"preprocess", "inference", "decode", "nms", "total"} <= set(r.speed)
    saved = r.save(tmp_path)
    assert saved == tmp_path / "bus.jpg" and cv2.imread(str(saved)).shape == r.orig_img.shape
    assert r.save(tmp_path / "custom.png").exists()


def test_array_and_pil_sources(model, bus):
    from PIL import Image

    a = model.predict(bus)
    pil = Image.fromarray(cv2.cvtColor(bus, cv2.COLOR_BGR2RGB))
    b = model.predict(pil)
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)
    # the RGB source is drawn in the right colours: plots agree
    assert np.abs(a.plot().astype(int) - b.plot().astype(int)).mean() < 1.0


def test_list_folder_glob(model):
    paths = sorted(p for p in IMAGES.iterdir() if p.suffix in (".jpg", ".png"))
    by_list = model.predict([str(p) for p in paths], progress=False)
    by_folder = model.predict(IMAGES, progress=False)
    by_glob = model.predict(str(IMAGES / "*.jpg"), progress=False)
    assert isinstance(by_list, Results) and len(by_list) == len(paths) == len(by_folder)
    assert len(by_glob) == len([p for p in paths if p.suffix == ".jpg"])
    for a, b in zip(by_list, by_folder):
        np.testing.assert_array_equal(a.xyxy, b.xyxy)
    gen = model.predict(IMAGES, stream=True)
    assert not isinstance(gen, list)
    assert [r.path for r in gen] == [r.path for r in by_folder]
    with pytest.raises(FileNotFoundError):
        model.predict(str(IMAGES / "*.nothing"))


def test_plot_draws_boxes_where_detections_are(model, bus):
    r = model.predict(bus, conf=0.4)
    plotted = r.plot()
    assert plotted.shape == bus.shape and plotted is not bus
    diff = np.abs(plotted.astype(int) - bus).sum(2) > 0
    for x1, y1, x2, y2 in r.xyxy.round().astype(int):
        ym = (y1 + y2) // 2
        assert diff[ym, max(x1 - 1, 0):x1 + 2].any(), "left edge of a box not drawn"
        assert diff[ym, max(x2 - 2, 0):x2 + 1].any(), "right edge of a box not drawn"
    # nothing drawn far from every box: the bottom-right corner region of bus.jpg
    assert not diff[1000:, 700:].any()
    # stable colours per class
    from nanodet_ncnn.draw import class_color

    assert class_color(0) == class_color(0) and class_color(0) != class_color(5)


def test_json_round_trip(model, bus):
    r = model.predict(bus, conf=0.3)
    d = json.loads(r.to_json())
    assert d["width"] == 810 and len(d["detections"]) == len(r)
    back = Result.from_dict(d, r.names)
    np.testing.assert_allclose(back.xyxy, r.xyxy, atol=0.01)
    np.testing.assert_allclose(back.scores, r.scores, atol=1e-5)
    np.testing.assert_array_equal(back.class_ids, r.class_ids)
    many = model.predict(IMAGES, progress=False)
    assert len(json.loads(many.to_json())) == len(many)


def test_to_supervision(model, bus):
    import supervision as sv  # in the test extra: a missing package is a set-up error

    r = model.predict(bus, conf=0.4)
    s = r.to_supervision()
    assert isinstance(s, sv.Detections) and len(s) == len(r)
    np.testing.assert_allclose(s.xyxy, r.xyxy)
    assert list(s.data["class_name"]) == r.detections.class_names


def test_show_without_display(model, bus, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(RuntimeError, match="display"):
        model.predict(bus).show()


def test_video_save_keeps_fps_and_frames(model, video, tmp_path):
    vp = model.predict(str(video))
    assert isinstance(vp, VideoPrediction)
    out = vp.save(tmp_path / "out.mp4")
    cap = cv2.VideoCapture(str(out))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(10, abs=0.01)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    assert len(frames) == 24 and frames[0].shape == (272, 480, 3)
    assert vp.stats["frames"] == 24 and vp.stats["fps"] > 0
    # annotated: differs from the source frame
    src = cv2.VideoCapture(str(video))
    ok, first = src.read()
    assert np.abs(frames[0].astype(int) - first).mean() > 0.5


def test_video_stream_generator(model, video):
    results = list(model.predict(str(video), stream=True, progress=False))
    assert [r.index for r in results] == list(range(24))
    assert sum(r.detections.class_names.count("person") for r in results) >= 24
    few = list(model.predict(str(video), stream=True, max_frames=5, progress=False))
    assert len(few) == 5


def test_stream_url_over_loopback(model, video):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(video.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{video.name}"
        results = list(model.predict(url, stream=True, max_frames=6, progress=False,
                                     stream_buffer=True))
        assert [r.index for r in results] == list(range(6))
    finally:
        server.shutdown()


def test_bad_video_sources(model, tmp_path):
    with pytest.raises(FileNotFoundError):
        model.predict(str(tmp_path / "missing.mp4"))
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(ValueError, match="cannot open video"):
        list(model.predict(str(tmp_path / "junk.mp4"), stream=True))
    with pytest.raises(ValueError, match="cannot open video"):
        list(model.predict(97, stream=True))  # no such webcam


def test_cli_video_and_folder(video, tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "nanodet_ncnn", "detect", str(video), str(IMAGES),
                        "--model", "nanodet-m", "--out", str(tmp_path), "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report[0]["frames"] == 24 and (tmp_path / "clip.mp4").exists()
    assert (tmp_path / "bus.jpg").exists()
