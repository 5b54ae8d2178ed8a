"""The README recipes: examples/ray_batch.py and examples/dask_batch.py as pasted, from a folder
and from a Parquet list of paths, give one row per image with the serial detections."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from conftest import assert_row_matches, coco_paths

ROOT = Path(__file__).resolve().parents[1]


def check(rows, paths, serial):
    assert sorted(x["path"] for x in rows) == sorted(paths)
    for x in rows:
        assert_row_matches(x, serial[x["path"]])


def test_ray_example_from_a_parquet_list_of_paths(tmp_path, serial):
    paths = coco_paths()[:12]
    pq.write_table(pa.table({"path": paths}), tmp_path / "paths.parquet")
    r = subprocess.run([sys.executable, "examples/ray_batch.py", tmp_path / "paths.parquet",
                        tmp_path / "out"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "12 images" in r.stdout
    check(pq.read_table(tmp_path / "out").to_pylist(), paths, serial)


def test_dask_example_from_a_folder(tmp_path, serial):
    folder = Path(coco_paths()[0]).parent
    r = subprocess.run([sys.executable, "examples/dask_batch.py", folder, tmp_path / "out",
                        "--limit", "12"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "12 images" in r.stdout
    check(pq.read_table(tmp_path / "out").to_pylist(), coco_paths()[:12], serial)
