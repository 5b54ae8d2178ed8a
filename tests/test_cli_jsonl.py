"""`detect FOLDER --jsonl FILE [--resume]`: one flushed line per image, a SIGKILLed run leaves
only valid complete lines, and resuming finishes the job without redoing or losing an image."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from conftest import coco_images

N = min(32, len(coco_images()))  # 4 under emulation


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "nanodet_ncnn", "detect", *map(str, args),
            "--model", "nanodet-m", "--threads", "1"]


def lines(path) -> list[dict]:
    return [json.loads(s) for s in path.read_text().splitlines()]


def comparable(entries) -> list[str]:
    return sorted(json.dumps({k: v for k, v in e.items() if k != "speed_ms"}, sort_keys=True)
                  for e in entries)


def folder(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    for p in coco_images()[:N]:
        shutil.copy2(p, d / p.name)
    return d


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    imgs = folder(tmp_path)
    full = tmp_path / "full.jsonl"
    r = subprocess.run(cli(imgs, "--jsonl", full), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    reference = lines(full)
    assert len(reference) == N
    assert {os.path.basename(e["source"]["path"]) for e in reference} == {p.name for p in imgs.iterdir()}
    assert sum(len(e["detections"]) for e in reference) > N

    part = tmp_path / "part.jsonl"
    proc = subprocess.Popen(cli(imgs, "--jsonl", part), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if part.exists() and part.read_bytes().count(b"\n") >= N // 2:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    data = part.read_bytes()
    complete = data[:data.rfind(b"\n") + 1].decode().splitlines()
    assert N // 2 <= len(complete) < N
    killed = [json.loads(s) for s in complete]  # every complete line is valid JSON

    r = subprocess.run(cli(imgs, "--jsonl", part, "--resume"), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    assert f"{len(killed)} inputs already done" in r.stderr
    resumed = lines(part)
    assert resumed[:len(killed)] == killed  # nothing already done was rewritten
    paths = [e["source"]["path"] for e in resumed]
    assert len(paths) == len(set(paths)) == N
    assert comparable(resumed) == comparable(reference)

    # a finished file resumes to a no-op
    r = subprocess.run(cli(imgs, "--jsonl", part, "--resume"), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0 and lines(part) == resumed


def test_partial_last_line_is_cut_and_changed_files_are_redone(tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for p in coco_images()[:3]:
        shutil.copy2(p, imgs / p.name)
    out = tmp_path / "o.jsonl"
    assert subprocess.run(cli(imgs, "--jsonl", out), capture_output=True, timeout=300).returncode == 0
    good = lines(out)
    text = out.read_text()
    out.write_text(text + text.splitlines()[0][:57])  # a kill in the middle of a write
    victim = imgs / os.path.basename(good[1]["source"]["path"])
    os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 10**9))
    r = subprocess.run(cli(imgs, "--jsonl", out, "--resume"), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "dropped an incomplete last line" in r.stderr
    after = lines(out)  # all complete and valid
    assert after[:3] == good and len(after) == 4
    assert after[3]["source"]["path"] == good[1]["source"]["path"]
    assert after[3]["source"]["mtime_ns"] == good[1]["source"]["mtime_ns"] + 10**9
    assert after[3]["detections"] == good[1]["detections"]


def test_jsonl_refuses_to_overwrite_and_resume_needs_jsonl(tmp_path):
    out = tmp_path / "o.jsonl"
    out.write_text('{"source": null}\n')
    img = coco_images()[0]
    r = subprocess.run(cli(img, "--jsonl", out), capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "--resume" in r.stderr
    assert out.read_text() == '{"source": null}\n'
    r = subprocess.run(cli(img, "--resume"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "--jsonl" in r.stderr
    out.write_text("not json\n")
    r = subprocess.run(cli(img, "--jsonl", out, "--resume"), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2 and "line 1" in r.stderr
