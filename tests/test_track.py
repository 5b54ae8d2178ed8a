"""model.track(): ids kept across frames on clips made from real photos, line counts, CLI."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

import nanodet_ncnn
from conftest import IMAGES, model_paths
from oracle import iou_matrix

W, H = 960, 540
LINE_Y = 270


@pytest.fixture(scope="module")
def model():
    param, bin_path = model_paths("nanodet_m")
    return nanodet_ncnn.load(param, bin_path, num_threads=1, input_size=320)


@pytest.fixture(scope="module")
def people():
    """Two real people cut from the shared photos (zidane.jpg's right player, bus.jpg's left
    pedestrian), scaled to clip size."""
    z = cv2.imread(str(IMAGES / "zidane.jpg"))
    b = cv2.imread(str(IMAGES / "bus.jpg"))
    return (cv2.resize(z[20:720, 720:1180], None, fx=0.4, fy=0.4),
            cv2.resize(b[380:910, 40:230], None, fx=0.5, fy=0.5))


def compose(placements) -> tuple[np.ndarray, list]:
    """A frame with each (patch, (x, y)) pasted on a plain background, later ones on top; the
    ground-truth boxes (None for a patch placed off screen)."""
    img = np.full((H, W, 3), 120, np.uint8)
    boxes = []
    for patch, (x, y) in placements:
        if x is None:
            boxes.append(None)
            continue
        h, w = patch.shape[:2]
        img[y:y + h, x:x + w] = patch
        boxes.append((x, y, x + w, y + h))
    return img, boxes


def clip_translate(people):
    """Both people walk right side by side for 60 frames, never overlapping."""
    a, b = people
    return _clip([[(a, (40 + 5 * i, 60 + 2 * i)), (b, (560 + 5 * i, 200 - i))] for i in range(60)])


def clip_pass(people):
    """a walks right, b walks left a little lower and in front of a: they pass each other,
    b hiding a's legs for a few frames."""
    a, b = people
    return _clip([[(a, (60 + 14 * i, 60)), (b, (800 - 14 * i, 250))] for i in range(50)])


def clip_reentry(people, buffer):
    """a walks right, vanishes for 3 frames (less than the buffer), walks on, vanishes for
    buffer + 6 frames and comes back."""
    a, _ = people
    plan = [True] * 10 + [False] * 3 + [True] * 10 + [False] * (buffer + 6) + [True] * 10
    return _clip([[(a, (200 + 4 * i, 120) if on else (None, None))] for i, on in enumerate(plan)])


def clip_crossing(people):
    """a (scaled to 0.6) walks down across y=LINE_Y and then hovers just below it; b walks up
    across it and hovers just above, both jittering by 3 px."""
    a, b = (cv2.resize(p, None, fx=0.6, fy=0.6) for p in people)
    ha, hb = a.shape[0], b.shape[0]
    plan = []
    for i in range(40):
        j = 3 if i % 2 else 0
        ya = min(20 + 12 * i, LINE_Y + 12) + j
        yb = max(H - 20 - hb - 12 * i, LINE_Y - 12 - hb) - j
        plan.append([(a, (150, ya)), (b, (650, yb))])
    return _clip(plan)


def _clip(plan):
    frames, truths = [], []
    for placements in plan:
        img, gts = compose(placements)
        frames.append(img)
        truths.append(gts)
    return frames, truths


def ids_of_truth(results, truths) -> list[list[int]]:
    """Per ground-truth object, per frame: the tracker id of the detection that overlaps it best
    (IoU >= 0.5), -2 when no detection does, None when the object is off screen."""
    out = [[] for _ in truths[0]]
    for r, gts in zip(results, truths):
        d = r.detections
        assert d.tracker_id is not None and len(d.tracker_id) == len(d)
        for k, gt in enumerate(gts):
            if gt is None:
                out[k].append(None)
                continue
            ious = iou_matrix(np.asarray([gt], np.float64), d.xyxy.astype(np.float64)) if len(d) else np.zeros((1, 0))
            j = int(np.argmax(ious[0])) if ious.size else -1
            out[k].append(int(d.tracker_id[j]) if j >= 0 and ious[0, j] >= 0.5 else -2)
    return out


def majority(ids) -> tuple[int, float]:
    vals = [i for i in ids if i is not None]
    best = max(set(vals), key=vals.count)
    return best, vals.count(best) / len(vals)


def test_translated_objects_keep_one_id(model, people):
    frames, truths = clip_translate(people)
    results = list(model.track(frames, stream=True, progress=False))
    assert len(results) == 60
    per_obj = ids_of_truth(results, truths)
    stab = [majority(ids) for ids in per_obj]
    for (tid, share), ids in zip(stab, per_obj):
        assert tid >= 0 and share >= 0.95, (share, ids)
    assert stab[0][0] != stab[1][0]
    # ids and trails reach every output form
    last = results[-1]
    js = json.loads(last.to_json())
    assert {d["tracker_id"] for d in js["detections"]} >= {stab[0][0], stab[1][0]}
    svd = last.to_supervision()
    assert list(svd.tracker_id) == list(last.detections.tracker_id)
    assert len(last.trails[stab[0][0]][1]) == 30  # default trail length
    again = nanodet_ncnn.Result.from_dict(js, model.names)
    assert list(again.detections.tracker_id) == list(last.detections.tracker_id)
    # plot() draws "#id" labels and the trail: it differs from the untracked drawing along the
    # trail (box centres of earlier frames) and in the label
    plain = nanodet_ncnn.Result(last.detections[np.arange(len(last))], last.orig_img)
    plain.detections.tracker_id = None
    tracked, untracked = last.plot(), plain.plot()
    _, pts = last.trails[stab[0][0]]
    x, y = (int(v) for v in pts[len(pts) // 2])
    assert np.any(tracked[y - 3:y + 4, x - 3:x + 4] != untracked[y - 3:y + 4, x - 3:x + 4])


def test_objects_passing_each_other_keep_distinct_ids(model, people):
    frames, truths = clip_pass(people)
    results = list(model.track(frames, stream=True, progress=False))
    ida, idb = ids_of_truth(results, truths)
    first_a, first_b = ida[1], idb[1]  # a track gets its id on its second frame
    assert first_a >= 0 and first_b >= 0 and first_a != first_b
    # after they have passed, each still carries its own id ...
    assert ida[-5:] == [first_a] * 5, ida
    assert idb[-5:] == [first_b] * 5, idb
    # ... and at no frame do both carry the same one
    assert all(x != y or x < 0 for x, y in zip(ida, idb))


def test_reentry_after_track_buffer_gets_new_id(model, people):
    buffer = 8
    frames, truths = clip_reentry(people, buffer)
    results = list(model.track(frames, stream=True, progress=False, track_buffer=buffer))
    (ids,) = ids_of_truth(results, truths)
    first, after_short, after_long = ids[1:10], ids[13:23], ids[23 + buffer + 6 + 1:]
    assert len(set(first)) == 1 and first[0] >= 0, ids
    assert set(after_short) == {first[0]}, ids      # gone for less than the buffer: same id
    assert len(set(after_long)) == 1 and after_long[0] >= 0, ids
    assert after_long[0] != first[0], ids          # gone for longer: a new id


def test_line_crossing_counted_once_per_object_and_direction(model, people):
    frames, _ = clip_crossing(people)
    results = list(model.track(frames, stream=True, progress=False,
                               count_line=(0, LINE_Y, W, LINE_Y)))
    counts = results[-1].counts
    assert counts["in"] == 1 and counts["out"] == 1, counts
    assert counts["per_class"] == {"person": {"in": 1, "out": 1}}
    assert len(counts["ids"]["in"]) == 1 and len(counts["ids"]["out"]) == 1
    assert counts["ids"]["in"] != counts["ids"]["out"]
    # each total steps up once, at the frame its object crossed, then stays while both hover
    series = [(r.counts["in"], r.counts["out"]) for r in results]
    assert series[0] == (0, 0) and all(x <= y for x, y in zip(series, series[1:]))
    assert series[-10:] == [(1, 1)] * 10
    js = json.loads(results[-1].to_json())
    assert js["counts"]["out"] == 1
    assert nanodet_ncnn.Result.from_dict(js, model.names).counts == counts
    # the line is drawn (white with a dark core) at its place
    img = results[-1].plot()
    assert np.all(img[LINE_Y - 2, 5:30] > 200) or np.all(img[LINE_Y, 5:30] < 60)
    plain = results[-1].orig_img
    assert np.all(plain[LINE_Y, 5:30] == 120)


def test_cli_track_video_with_line(people, tmp_path):
    frames, _ = clip_crossing(people)
    clip = tmp_path / "clip.mp4"
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 20, (W, H))
    for f in frames:
        w.write(f)
    w.release()
    param, _ = model_paths("nanodet_m")
    out, jl = tmp_path / "tracked.mp4", tmp_path / "tracked.jsonl"
    r = subprocess.run([sys.executable, "-m", "nanodet_ncnn", "track", str(clip), "--model",
                        str(param), "--threads", "1", "--save", str(out), "--json", str(jl),
                        "--count-line", f"0,{LINE_Y},{W},{LINE_Y}", "--quiet"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "line in 1 out 1" in r.stdout, r.stdout
    lines = [json.loads(x) for x in jl.read_text().splitlines()]
    assert len(lines) == len(frames)
    assert lines[-1]["counts"]["in"] == 1 and lines[-1]["counts"]["out"] == 1
    assert all("tracker_id" in d for ln in lines for d in ln["detections"])
    cap = cv2.VideoCapture(str(out))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    assert n == len(frames)


def test_bad_arguments_are_clear(model, people):
    with pytest.raises(ValueError, match="tracker must be one of"):
        model.track([people[0]], tracker="sort")
    with pytest.raises(ValueError, match="four numbers"):
        model.track([people[0]], count_line="1,2,3")
    r = subprocess.run([sys.executable, "-m", "nanodet_ncnn", "track", "missing.mp4"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "not found" in r.stderr
