"""A results file that survives being killed: one JSON line per finished input, written and
flushed as soon as it is done, and resumable (inputs already in the file, by path + size +
mtime, are skipped; a partial last line left by a kill is cut off)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def file_key(path: str | os.PathLike) -> dict:
    """What identifies an input file across runs: absolute path, size and mtime (ns)."""
    st = os.stat(path)
    return {"path": os.path.abspath(os.fspath(path)), "size": st.st_size,
            "mtime_ns": st.st_mtime_ns}


def _key_tuple(key: dict) -> tuple:
    return key["path"], key["size"], key["mtime_ns"]


class JsonlLog:
    """``with JsonlLog("out.jsonl", resume=True) as log: ...; log.done(path); log.write(path,
    entry)``. Without ``resume`` an existing non-empty file is refused rather than overwritten."""

    def __init__(self, path: str | os.PathLike, resume: bool = False):
        self.path = Path(path)
        self._done: set[tuple] = set()
        self.resumed = 0
        if self.path.is_dir():
            raise IsADirectoryError(f"--jsonl needs a file, got a folder: {self.path}")
        if self.path.exists() and self.path.stat().st_size and not resume:
            raise FileExistsError(f"{self.path} already holds results: pass --resume to continue "
                                  "it, or choose another file")
        if resume and self.path.exists():
            self._load()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")

    def _load(self) -> None:
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # the partial line of a killed run: drop it
            with open(self.path, "r+b") as f:
                f.truncate(end)
            print(f"{self.path}: dropped an incomplete last line ({len(data) - end} bytes)",
                  file=sys.stderr)
        for n, line in enumerate(data[:end].splitlines(), 1):
            if not line.strip():
                continue
            try:
                key = json.loads(line)["source"]
                if key is not None:
                    self._done.add(_key_tuple(key))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{self.path} line {n} is not a result line of this tool "
                                 f"({exc}); not resuming into it") from None
        self.resumed = len(self._done)

    def done(self, path: str | os.PathLike) -> bool:
        try:
            return _key_tuple(file_key(path)) in self._done
        except OSError:
            return False

    def write(self, path: str | os.PathLike | None, entry: dict) -> None:
        """Appends one line (``entry`` plus its ``source`` key) and flushes it to the OS, so a
        kill loses at most the line being written."""
        line = {"source": file_key(path) if path is not None else None, **entry}
        self._f.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "JsonlLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
