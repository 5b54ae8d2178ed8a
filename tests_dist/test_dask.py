"""nanodet_ncnn.dask on a LocalCluster of 2 worker processes: every row, exactly the serial
detections, one network per worker process (not per task), and a worker killed mid-run."""
from __future__ import annotations

import dask.bag as db
import dask.dataframe as dd
import pandas as pd
import pytest
from dask.distributed import Client, LocalCluster

import nanodet_ncnn
from conftest import MODEL, assert_row_matches, coco_paths
from nanodet_ncnn.dask import detect_bag, detect_partition, partition_meta


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    with Client(cluster) as c:
        c.wait_for_workers(2, timeout=120)
        yield c
    cluster.close()


def builds(client) -> dict:
    return client.run(lambda: __import__("nanodet_ncnn.dask").dask.builds)


def test_bag_rows_match_serial_and_one_model_per_worker(client, serial):
    before = builds(client)
    paths = coco_paths()
    rows = detect_bag(db.from_sequence(paths, npartitions=16),
                      nanodet_ncnn.load(MODEL, num_threads=1)).compute(timeout=600)
    assert sorted(r["path"] for r in rows) == paths  # every row once
    for r in rows:
        assert_row_matches(r, serial[r["path"]])
    after = builds(client)
    assert set(after) == set(before)
    new = [after[w] - before[w] for w in after]
    assert sum(new) >= 1 and max(new) == 1  # 16 tasks, at most one network per worker


def test_dataframe_map_partitions_with_a_memory_model(client, serial):
    p, b = nanodet_ncnn.load(MODEL).param_path, nanodet_ncnn.load(MODEL).bin_path
    det = nanodet_ncnn.Detector.from_bytes(p.read_bytes(), b.read_bytes(), input_size=416,
                                           num_threads=1)
    before = builds(client)
    ddf = dd.from_pandas(pd.DataFrame({"path": coco_paths()[:40], "n": range(40)}), npartitions=8)
    df = ddf.map_partitions(detect_partition, det, meta=partition_meta(ddf)).compute(timeout=600)
    assert list(df["n"]) == list(range(40))
    for r in df.to_dict("records"):
        assert_row_matches(r, serial[r["path"]])
        assert r["model_id"] == det.model_id
    assert max(builds(client)[w] - before[w] for w in before) <= 1


def test_worker_killed_mid_run_still_yields_every_row_once(client, serial, tmp_path):
    marker = tmp_path / "killed"
    det = nanodet_ncnn.load(MODEL, num_threads=1)

    def dies_once(paths, model):
        import os
        import signal

        from nanodet_ncnn.dask import detect_paths

        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return detect_paths(paths, model)
        detect_paths(paths[: len(paths) // 2], model)
        os.kill(os.getpid(), signal.SIGKILL)

    import dask

    paths = coco_paths()[:48]
    rows = db.from_sequence(paths, npartitions=8).map_partitions(
        dies_once, dask.delayed(det, pure=True, traverse=False)).compute(timeout=600)
    assert marker.exists()
    assert sorted(r["path"] for r in rows) == paths
    for r in rows:
        assert_row_matches(r, serial[r["path"]])
    client.wait_for_workers(2, timeout=120)  # the nanny restarted it
