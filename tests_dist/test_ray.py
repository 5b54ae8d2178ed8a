"""nanodet_ncnn.ray.NanoDetPredictor on a local 2-CPU Ray: every row, exactly the serial
detections, Parquet-ready columns, threads from num_cpus, and an actor killed mid-run."""
from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

import nanodet_ncnn
from conftest import MODEL, assert_row_matches, coco_paths

import ray
from nanodet_ncnn.ray import NanoDetPredictor


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING,
             log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    yield
    ray.shutdown()


def run(ds, **kw):
    kw.setdefault("fn_constructor_kwargs", {"model": nanodet_ncnn.load(MODEL, num_threads=1)})
    return ds.map_batches(NanoDetPredictor, compute=ray.data.ActorPoolStrategy(size=2),
                          num_cpus=1, batch_size=8, **kw)


def test_path_rows_match_serial_detect_and_write_parquet(serial, tmp_path):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.zeros((120, 200, 3), np.uint8))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    paths = coco_paths() + [str(blank), str(broken)]
    ds = ray.data.from_items([{"path": p, "n": i} for i, p in enumerate(paths)])
    run(ds).write_parquet(str(tmp_path / "out"))

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(str(tmp_path / "out"))
    assert table.num_rows == len(paths)
    assert table.schema.field("boxes").type == pa.list_(pa.list_(pa.float32()))
    rows = {r["path"]: r for r in table.to_pylist()}
    assert sorted(r["n"] for r in rows.values()) == list(range(len(paths)))  # each row once
    for p in coco_paths():
        assert_row_matches(rows[p], serial[p])
    assert rows[str(blank)]["boxes"] == [] and rows[str(blank)]["image_width"] == 200
    assert rows[str(broken)]["boxes"] == [] and "cannot decode" in rows[str(broken)]["error"]
    assert len({r["model_id"] for r in rows.values()}) == 1
    assert sum(len(r["boxes"]) for r in rows.values()) > 300


def test_image_column_any_size_rgb(serial):
    paths = coco_paths()[:24]
    items = [{"image": np.ascontiguousarray(cv2.imread(p)[:, :, ::-1]), "path": p} for p in paths]
    assert len({it["image"].shape for it in items}) > 1  # mixed sizes in one batch
    rows = run(ray.data.from_items(items),
               fn_constructor_kwargs={"model": MODEL, "num_threads": 1}).take_all()
    assert len(rows) == len(paths) and "image" not in rows[0]
    for r in rows:
        assert_row_matches(r, serial[r["path"]])


def test_direct_call_and_a_batch_without_images_is_a_clear_error(serial):
    pred = NanoDetPredictor(MODEL, num_threads=1)
    paths = coco_paths()[:3]
    table = pred({"path": np.array(paths), "id": np.arange(3)})
    assert table.column_names[:2] == ["path", "id"] and table.num_rows == 3
    for r in table.to_pylist():
        assert_row_matches(r, serial[r["path"]])
    with pytest.raises(KeyError, match="'image', 'frame' or 'path'"):
        pred({"x": np.arange(3)})


@pytest.mark.parametrize("cpus", [1, 2])
def test_ncnn_threads_follow_num_cpus(cpus):
    @ray.remote
    class Probe:
        def threads(self, model):
            return NanoDetPredictor(model).detector.num_threads

    probe = Probe.options(num_cpus=cpus).remote()
    assert ray.get(probe.threads.remote(MODEL), timeout=300) == cpus
    ray.kill(probe)


def test_actor_killed_mid_run_still_yields_every_row_once(serial, tmp_path):
    marker = tmp_path / "killed"

    class DiesOnce(NanoDetPredictor):
        """Processes half of its first batch, then SIGKILLs its own process (once per test)."""

        def __call__(self, batch):
            import os
            import signal

            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return super().__call__(batch)
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            super().__call__({k: v[: len(v) // 2] for k, v in batch.items()})
            os.kill(os.getpid(), signal.SIGKILL)

    paths = coco_paths()[:48]
    ds = ray.data.from_items([{"path": p} for p in paths])
    rows = ds.map_batches(DiesOnce, fn_constructor_kwargs={"model": MODEL, "num_threads": 1},
                          compute=ray.data.ActorPoolStrategy(size=2), num_cpus=1,
                          batch_size=8).take_all()
    assert marker.exists()  # an actor really died
    got = sorted(r["path"] for r in rows)
    assert got == sorted(paths)  # every row, exactly once
    for r in rows:
        assert_row_matches(r, serial[r["path"]])
