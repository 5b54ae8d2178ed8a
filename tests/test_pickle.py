"""A Detector travels by pickle (to Ray actors, Dask workers, process pools): model paths or
bytes with their sha256, names and every option; the network is rebuilt on first use."""
from __future__ import annotations

import multiprocessing
import pickle
import shutil

import numpy as np
import pytest

import nanodet_ncnn
from conftest import coco_images, model_paths, shared_images

OPTIONS = dict(conf=0.25, iou=0.5, nms="agnostic", max_det=7, resize="dynamic", input_size=352,
               num_threads=1, precision="fp32")


def same(a, b) -> None:
    assert np.array_equal(a.xyxy, b.xyxy) and a.xyxy.dtype == b.xyxy.dtype
    assert np.array_equal(a.scores, b.scores)
    assert np.array_equal(a.class_ids, b.class_ids)
    assert list(a.class_names) == list(b.class_names)


def images():
    return shared_images() + coco_images()[:6]


def test_file_detector_round_trip_keeps_options_and_detections():
    p, b = model_paths("plus_split")
    det = nanodet_ncnn.Detector(p, b, names=[f"c{i}" for i in range(80)], **OPTIONS)
    twin = pickle.loads(pickle.dumps(det))
    assert twin.__dict__["_impl"] is None  # nothing built until first use
    assert twin.defaults == det.defaults and twin.names == det.names
    assert twin.input_size == det.input_size and twin.num_threads == 1
    assert twin.precision == "fp32" and twin.param_path == p and twin.model_id == det.model_id
    found = 0
    for path in images():
        a, c = det.detect(path), twin.detect(path)
        same(a, c)
        assert len(c) <= 7 and all(n.startswith("c") for n in c.class_names)
        found += len(c)
    assert found > 10
    # the options really changed behaviour: a default detector finds something else
    plain = nanodet_ncnn.Detector(p, b, num_threads=1)
    assert any(len(plain.detect(q)) != len(det.detect(q)) for q in images())


def test_memory_detector_pickle_carries_the_bytes(tmp_path):
    p, b = model_paths("nanodet_m")
    work = tmp_path / "m"
    work.mkdir()
    shutil.copy(p, work / "m.param")
    shutil.copy(b, work / "m.bin")
    det = nanodet_ncnn.Detector.from_bytes((work / "m.param").read_bytes(),
                                           (work / "m.bin").read_bytes(), conf=0.3, num_threads=1)
    assert det.param_path is None and det.model_id.startswith("memory@")
    blob = pickle.dumps(det)
    assert len(blob) > (work / "m.bin").stat().st_size  # the weights are in the pickle
    shutil.rmtree(work)  # no files needed on the receiving side
    twin = pickle.loads(blob)
    for path in images():
        same(det.detect(path), twin.detect(path))
    # pickling an unpickled (still unbuilt) copy works too
    again = pickle.loads(pickle.dumps(pickle.loads(blob)))
    same(again.detect(images()[0]), det.detect(images()[0]))


def test_memory_detector_matches_file_detector():
    p, b = model_paths("plus_onnx")
    a = nanodet_ncnn.Detector(p, b, num_threads=1)
    m = nanodet_ncnn.Detector.from_bytes(p.read_text(), b.read_bytes(), num_threads=1)
    for path in images()[:4]:
        same(a.detect(path), m.detect(path))


def test_closed_detector_refuses_to_pickle():
    p, b = model_paths("nanodet_m")
    det = nanodet_ncnn.Detector(p, b, num_threads=1)
    det.close()
    with pytest.raises(pickle.PicklingError, match="closed"):
        pickle.dumps(det)
    twin = pickle.loads(pickle.dumps(nanodet_ncnn.Detector(p, b, num_threads=1)))
    twin.close()  # closing an unbuilt copy closes it for good
    assert twin.closed
    with pytest.raises(RuntimeError, match="closed"):
        twin.detect(images()[0])
    with pytest.raises(pickle.PicklingError, match="closed"):
        pickle.dumps(twin)


def test_changed_or_missing_model_file_is_reported(tmp_path):
    p, b = model_paths("nanodet_m")
    shutil.copy(p, tmp_path / "m.param")
    shutil.copy(b, tmp_path / "m.bin")
    blob = pickle.dumps(nanodet_ncnn.Detector(tmp_path / "m.param", num_threads=1))
    with open(tmp_path / "m.bin", "r+b") as f:  # same size, different weights
        f.seek(1000)
        f.write(b"\x00" * 16)
    with pytest.raises(nanodet_ncnn.ModelError, match="differs"):
        pickle.loads(blob).detect(images()[0])
    (tmp_path / "m.bin").unlink()
    with pytest.raises(FileNotFoundError, match="from_bytes"):
        pickle.loads(blob).detect(images()[0])


def test_zoo_model_round_trip_in_another_process():
    det = nanodet_ncnn.load("nanodet-plus-m-416", num_threads=1, conf=0.3)
    paths = [str(q) for q in images()]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        remote = pool.apply(_detect_all, (pickle.dumps(det), paths), )
    for path, (xyxy, scores, ids) in zip(paths, remote):
        d = det.detect(path)
        assert np.array_equal(d.xyxy, xyxy) and np.array_equal(d.scores, scores)
        assert np.array_equal(d.class_ids, ids)


def _detect_all(blob, paths):
    det = pickle.loads(blob)
    return [(d.xyxy, d.scores, d.class_ids) for d in map(det.detect, paths)]
