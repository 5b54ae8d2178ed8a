"""Zoo resolution offline: stale copies fall through to the next candidate or a fresh download
(the downloader is faked: no network), and a failing download leaks nothing."""
from __future__ import annotations

import io
import os
import urllib.request

import pytest

from conftest import model_paths
from nanodet_ncnn import zoo

ENTRY = zoo.MODELS["nanodet-m"]


@pytest.fixture()
def dirs(monkeypatch, tmp_path):
    models, cache = tmp_path / "models", tmp_path / "cache"
    (models / ENTRY.folder).mkdir(parents=True)
    monkeypatch.setenv(zoo.ENV_MODELS, str(models))
    monkeypatch.setenv(zoo.ENV_CACHE, str(cache))
    return models / ENTRY.folder, cache / "models" / ENTRY.folder


class FakeResponse:
    def __init__(self, data: bytes, fail_after: int | None = None):
        self.buf, self.fail_after, self.headers = io.BytesIO(data), fail_after, {
            "Content-Length": str(len(data))}

    def read(self, n):
        n = min(n, 512)
        if self.fail_after is not None and self.buf.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        return self.buf.read(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def fake_urlopen(monkeypatch, files: dict[str, bytes], fail_after=None, calls=None):
    def urlopen(url, timeout=None):
        if calls is not None:
            calls.append(url)
        name = url.rsplit("/", 1)[-1]
        if fail_after == "connect":
            raise OSError("network is unreachable")
        return FakeResponse(files[name], fail_after)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


def real_files() -> dict[str, bytes]:
    p, b = model_paths("nanodet_m")
    return {ENTRY.param.name: p.read_bytes(), ENTRY.bin.name: b.read_bytes()}


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_stale_offline_copy_falls_through_to_the_cache(dirs, monkeypatch, capsys):
    offline, cache = dirs
    cache.mkdir(parents=True)
    for name, data in real_files().items():
        (offline / name).write_bytes(b"corrupted" + data[:100])
        (cache / name).write_bytes(data)
    calls: list[str] = []
    fake_urlopen(monkeypatch, {}, calls=calls)
    param, bin_, _ = zoo.resolve("nanodet-m", progress=False)
    assert (param, bin_) == (cache / ENTRY.param.name, cache / ENTRY.bin.name)
    assert calls == []  # the good cached copy was used, nothing downloaded


def test_corrupted_cached_copy_is_downloaded_again(dirs, monkeypatch, capsys):
    _, cache = dirs
    cache.mkdir(parents=True)
    files = real_files()
    for name, data in files.items():
        (cache / name).write_bytes(data[: len(data) // 2])  # an interrupted old download
    calls: list[str] = []
    fake_urlopen(monkeypatch, files, calls=calls)
    param, bin_, _ = zoo.resolve("nanodet-m", progress=False)
    assert [u.rsplit("/", 1)[-1] for u in calls] == [ENTRY.param.name, ENTRY.bin.name]
    assert ENTRY.commit in calls[0] and ENTRY.repo in calls[0]
    assert zoo.sha256_of(param) == ENTRY.param.sha256 and zoo.sha256_of(bin_) == ENTRY.bin.sha256
    err = capsys.readouterr().err
    assert err.count("downloading") == 2 and "sha256" in err
    assert not list(cache.glob("*.part"))


def test_corrupted_copy_without_download_says_why(dirs):
    offline, _ = dirs
    (offline / ENTRY.param.name).write_bytes(b"7767517\n")
    with pytest.raises(zoo.ModelNotFoundError, match=f"sha256.*{ENTRY.param.sha256}"):
        zoo.resolve("nanodet-m", download=False)


@pytest.mark.parametrize("fail", ["connect", 1024])
def test_failed_download_leaks_no_descriptor_or_file(dirs, monkeypatch, fail):
    _, cache = dirs
    fake_urlopen(monkeypatch, real_files(), fail_after=fail)
    before = open_fds()
    for _ in range(5):
        with pytest.raises(zoo.ModelNotFoundError, match="Download failed"):
            zoo.resolve("nanodet-m", progress=False)
    assert open_fds() == before
    assert not list(cache.glob("*"))


def test_download_with_wrong_hash_is_rejected(dirs, monkeypatch):
    _, cache = dirs
    files = {k: v + b"tampered" for k, v in real_files().items()}
    fake_urlopen(monkeypatch, files)
    with pytest.raises(zoo.ModelNotFoundError, match="downloaded .* has sha256"):
        zoo.resolve("nanodet-m", progress=False)
    assert not list(cache.glob("*"))


def test_shared_models_resolve_offline():
    for name, entry in zoo.MODELS.items():
        param, bin_, got = zoo.resolve(name, download=False)
        assert got is entry and zoo.sha256_of(param) == entry.param.sha256
        assert os.path.getsize(bin_) > 0
