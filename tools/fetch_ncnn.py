#!/usr/bin/env python3
"""Fetch the pinned ncnn source distribution into a cache folder and unpack it.

The registry location is never written into the project: it is asked from pip's own
configuration at run time (PIP_INDEX_URL / pip config / pip's built-in default index).
Only the file name and its sha256 are pinned.

Usage: fetch_ncnn.py CACHE_DIR  -> prints the unpacked source folder on stdout.
"""
from __future__ import annotations

import hashlib
import html.parser
import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request

VERSION = "1.0.20261020"
FILENAME = f"ncnn-{VERSION}.tar.gz"
SHA256 = "ad8cdd63e9755cfa8e23b9b6d9ce46156077d80298a89e7c3ba325ffccfca200"


def log(msg: str) -> None:
    print(f"[fetch_ncnn] {msg}", file=sys.stderr, flush=True)


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pip_index_urls() -> list[str]:
    """Index URLs pip would use: explicit configuration first, then pip's default."""
    urls: list[str] = []
    env = os.environ.get("PIP_INDEX_URL")
    if env:
        urls.append(env)
    for key in ("global.index-url", "install.index-url", "download.index-url"):
        try:
            out = subprocess.run([sys.executable, "-m", "pip", "config", "get", key],
                                 capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            break
        if out.returncode == 0 and out.stdout.strip():
            urls.append(out.stdout.strip())
    try:
        from pip._internal.models.index import PyPI  # pip's built-in default index
        urls.append(PyPI.simple_url)
    except Exception:  # pragma: no cover - pip missing from this interpreter
        pass
    extra = os.environ.get("PIP_EXTRA_INDEX_URL", "")
    urls += [u for u in extra.split() if u]
    seen, unique = set(), []
    for u in urls:
        if u not in seen:
            seen.add(u)
            unique.append(u)
    return unique


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)


def find_file_url(index: str) -> str | None:
    page = index.rstrip("/") + "/ncnn/"
    req = urllib.request.Request(page, headers={
        "Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.5"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = resp.read()
        ctype = resp.headers.get("Content-Type", "")
    if "json" in ctype:
        files = json.loads(body).get("files", [])
        links = [f["url"] for f in files if f.get("filename") == FILENAME]
    else:
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        links = [h for h in parser.links
                 if urllib.parse.urlparse(h).path.rsplit("/", 1)[-1] == FILENAME]
    if not links:
        return None
    return urllib.parse.urljoin(page, links[0])


def download(dest: str) -> None:
    errors = []
    for index in pip_index_urls():
        try:
            url = find_file_url(index)
        except Exception as exc:  # network or parse failure: try the next index
            errors.append(f"{index}: {exc}")
            continue
        if not url:
            errors.append(f"{index}: no {FILENAME}")
            continue
        log(f"downloading {FILENAME} through pip's configured index")
        tmp = dest + ".part"
        with urllib.request.urlopen(url, timeout=300) as resp, open(tmp, "wb") as out:
            shutil.copyfileobj(resp, out)
        got = sha256_of(tmp)
        if got != SHA256:
            os.remove(tmp)
            raise SystemExit(f"[fetch_ncnn] sha256 mismatch for {FILENAME}: {got} != {SHA256}")
        os.replace(tmp, dest)
        return
    raise SystemExit(
        f"[fetch_ncnn] could not obtain {FILENAME}. ncnn is neither installed nor fetchable.\n"
        "  Options: install ncnn and pass -DNCNN_ROOT=<prefix> (or ncnn_DIR), point\n"
        "  -DNANODET_NCNN_SOURCE_DIR=<ncnn source tree>, or place the file (sha256 "
        f"{SHA256}) in the cache folder.\n  Tried: " + "; ".join(errors))


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    cache = os.path.abspath(sys.argv[1])
    os.makedirs(cache, exist_ok=True)
    tarball = os.path.join(cache, FILENAME)
    if not os.path.exists(tarball) or sha256_of(tarball) != SHA256:
        download(tarball)
    src = os.path.join(cache, f"ncnn-{VERSION}")
    stamp = os.path.join(src, ".unpacked")
    if not os.path.exists(stamp):
        shutil.rmtree(src, ignore_errors=True)
        with tarfile.open(tarball) as tf:
            tf.extractall(cache, filter="data")
        open(stamp, "w").close()
    print(src)


if __name__ == "__main__":
    main()
