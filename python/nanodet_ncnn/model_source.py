"""Where a Detector's graph comes from (a .param/.bin pair on disk, or their bytes in memory),
so a pickled Detector can rebuild the same network in another process and check it is the same."""
from __future__ import annotations

import os
from pathlib import Path

from . import _core


def sha256_file(path: str | os.PathLike) -> str:
    import hashlib  # loads OpenSSL's libcrypto: only when a checksum is wanted

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ModelFiles:
    """A .param/.bin pair on disk. The sha256 of each is taken when first asked for (at the
    first pickle) and checked again when a pickled copy builds its network."""

    def __init__(self, param: str | os.PathLike, bin: str | os.PathLike | None = None):
        param = Path(param)
        bin_path = Path(bin) if bin is not None else param.with_suffix(".bin")
        for p, what in ((param, "param"), (bin_path, "bin")):
            if not p.exists():
                raise FileNotFoundError(f"{what} file not found: {p}")
            if p.is_dir():
                raise IsADirectoryError(f"{what} path is a folder: {p}")
        self.param, self.bin = param, bin_path
        self._sha: tuple[str, str] | None = None

    @property
    def sha256(self) -> tuple[str, str]:
        if self._sha is None:
            self._sha = (sha256_file(self.param), sha256_file(self.bin))
        return self._sha

    @property
    def name(self) -> str:
        return self.param.name

    def build(self, **kw) -> "_core.Detector":
        return _core.Detector(str(self.param), str(self.bin), **kw)

    def __getstate__(self) -> dict:
        return {"param": str(self.param), "bin": str(self.bin), "sha256": self.sha256}

    def __setstate__(self, state: dict) -> None:
        self.param, self.bin = Path(state["param"]), Path(state["bin"])
        self._sha = tuple(state["sha256"])

    def verify(self) -> None:
        """Raises unless the files at the pickled paths are the ones that were pickled."""
        for p, want in zip((self.param, self.bin), self._sha or ()):
            if not p.is_file():
                raise FileNotFoundError(
                    f"model file {p} of a pickled Detector is not on this machine: put the model "
                    "at the same path on every worker, or load it with Detector.from_bytes() so "
                    "the pickle carries it")
            got = sha256_file(p)
            if got != want:
                raise _core.ModelError(
                    f"model file {p} differs from the one the Detector was pickled with "
                    f"(sha256 {got[:16]}... here, {want[:16]}... there)")


class ModelBytes:
    """A graph held in memory: the pickle carries the bytes themselves."""

    def __init__(self, param: bytes | str, bin: bytes, name: str | None = None):
        if isinstance(param, str):
            param = param.encode()
        if not isinstance(param, (bytes, bytearray, memoryview)) or not isinstance(
                bin, (bytes, bytearray, memoryview)):
            raise TypeError("from_bytes takes the .param text (bytes or str) and the .bin bytes")
        self.param, self.bin = bytes(param), bytes(bin)
        import hashlib

        self.sha256 = (hashlib.sha256(self.param).hexdigest(), hashlib.sha256(self.bin).hexdigest())
        self.name = name or "memory"

    def build(self, **kw) -> "_core.Detector":
        return _core.Detector.from_memory(self.param, self.bin, **kw)

    def verify(self) -> None:
        import hashlib

        got = (hashlib.sha256(self.param).hexdigest(), hashlib.sha256(self.bin).hexdigest())
        if got != self.sha256:
            raise _core.ModelError("the model bytes of a pickled Detector are corrupted "
                                   "(sha256 mismatch)")
