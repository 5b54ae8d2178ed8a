"""Model zoo: names -> ncnn param/bin pairs.

Lookup order for a name: the folder named by $NANODET_NCNN_MODELS (laid out as
``<owner>__<repo>/<file>`` or flat), then the user cache ($NANODET_NCNN_CACHE/models, default
~/.cache/nanodet-ncnn/models), then a download of the pinned file from its source repository,
checked against its sha256.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

ENV_MODELS = "NANODET_NCNN_MODELS"
ENV_CACHE = "NANODET_NCNN_CACHE"


class ModelNotFoundError(FileNotFoundError):
    """A zoo model is neither available offline nor downloadable."""


@dataclass(frozen=True)
class ModelFile:
    path: str  # path inside the source repository
    sha256: str

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ZooModel:
    name: str
    description: str
    repo: str
    commit: str
    param: ModelFile
    bin: ModelFile
    input_size: int
    num_classes: int
    precision: str
    layout: str
    names: tuple[str, ...] | None = None  # None = COCO
    extra: dict = field(default_factory=dict)

    @property
    def folder(self) -> str:
        return self.repo.replace("/", "__")

    def url(self, f: ModelFile) -> str:
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{f.path}"


_DEEPDIVE = ("Deepdive543443/ncnn-android-nanodet", "1481b2417f57f93460e06c16bc170c24e4d1ed5a")
_YYCCR = ("yyccR/nanodet-plus-ncnn-android", "e902e25caa9260b63a0b32bb529f196376419596")
_NIHUI_ASSETS = ("nihui/ncnn-assets", "9489f876aebdaa846af3786f70ea5da6be198243")
_NIHUI_WASM = ("nihui/ncnn-webassembly-nanodet", "ac68cf74d4d81f70160bb9e9020c8be1fd78502a")

MODELS: dict[str, ZooModel] = {m.name: m for m in [
    ZooModel("nanodet-plus-m-416", "NanoDet-Plus-m 416, COCO, per-stride cls/dis outputs",
             *_DEEPDIVE,
             ModelFile("app/src/main/assets/nanodet-plus-m_416.param",
                       "b93f9ff62a189aaaf00792d52bbaf20ad56ebaf2c49c8dac8d7c335d8464c362"),
             ModelFile("app/src/main/assets/nanodet-plus-m_416.bin",
                       "c8c23ffb33f3a39b76051516829e0ad6bfdccc77bde70700dee045580afecd24"),
             416, 80, "fp32", "per-stride"),
    ZooModel("nanodet-plus-m-416-int8", "NanoDet-Plus-m 416, COCO, ncnn INT8-quantized",
             *_DEEPDIVE,
             ModelFile("app/src/main/assets/nanodet-plus-m_416_int8.param",
                       "4e183b10cecf79d94a4ae1e6dfe26533695b6206f81674bc5484073f5ee6ce32"),
             ModelFile("app/src/main/assets/nanodet-plus-m_416_int8.bin",
                       "1d289656d6bfe563342520e305f139a9fb1702cc2bc843082a7c0f806e35eb00"),
             416, 80, "int8", "per-stride"),
    ZooModel("nanodet-plus-m-416-onnx", "NanoDet-Plus-m 416, COCO, single N x 112 output (ONNX export)",
             *_YYCCR,
             ModelFile("app/src/main/assets/nanodet-plus-coco-416.param",
                       "d79e18ecd8595081bb29fdf0c790a47fcea96fbf58598350569a92e71e915b72"),
             ModelFile("app/src/main/assets/nanodet-plus-coco-416.bin",
                       "f7555ca6cb9650ee41e2f0a53fdf46b6e187a2a09792208d8c3eec033b6ac615"),
             416, 80, "fp32", "single-output"),
    ZooModel("nanodet-plus-m-416-pnnx", "NanoDet-Plus-m 416, COCO, single 112 x N logits output (pnnx export)",
             *_NIHUI_WASM,
             ModelFile("assets/coco.torchscript.ncnn.param",
                       "1c0ddf1e8009a6ff55032deda21b97e221ebdfe68d820faa68999790d5e972f9"),
             ModelFile("assets/coco.torchscript.ncnn.bin",
                       "1942dede585c2163c888e34295fffffdf73841ca8e79b2a548042393510fb9ae"),
             416, 80, "fp32", "single-output"),
    ZooModel("nanodet-m", "NanoDet-m 320 (legacy), COCO, per-stride outputs",
             *_NIHUI_ASSETS,
             ModelFile("models/nanodet_m.param",
                       "8543dccd5604ded10d06bdb2b2f702f8f2f1dac09652c81750f21bf0a6e3f1a8"),
             ModelFile("models/nanodet_m.bin",
                       "8d7f846cfc340a3ef66389f174a66819709f7182b9d35788ee1506679caac65e"),
             320, 80, "fp32", "per-stride"),
    ZooModel("nanodet-plus-qr-416", "NanoDet-Plus-m 416 custom 1-class QR-code detector",
             *_YYCCR,
             ModelFile("app/src/main/assets/nanodet-plus-qr-416.param",
                       "aca3ad644d7b0c05ac0631e98da9b75a9f29ad2e26d081acd603cdfeea2d3c8c"),
             ModelFile("app/src/main/assets/nanodet-plus-qr-416.bin",
                       "7888e03bda03a17d8ba3d0a8173f679f319a54abbacac0e3047e9340797afbf8"),
             416, 1, "fp32", "single-output", names=("QR code",)),
]}


def cache_dir() -> Path:
    root = os.environ.get(ENV_CACHE) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "nanodet-ncnn")
    return Path(root) / "models"


def sha256_of(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _offline_candidates(model: ZooModel, f: ModelFile) -> list[Path]:
    out = []
    env = os.environ.get(ENV_MODELS)
    if env:
        out += [Path(env) / model.folder / f.name, Path(env) / f.name]
    out.append(cache_dir() / model.folder / f.name)
    return out


def _download(url: str, dest: Path, sha256: str, progress: bool) -> None:
    import tempfile
    import urllib.request  # ssl, http, email: only when a download happens

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
    out = os.fdopen(fd, "wb")  # owns the descriptor from here on, closed on every path
    try:
        with out, urllib.request.urlopen(url, timeout=60) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, leave=False)
            try:
                for chunk in iter(lambda: resp.read(1 << 16), b""):
                    out.write(chunk)
                    if bar:
                        bar.update(len(chunk))
            finally:
                if bar:
                    bar.close()
        got = sha256_of(Path(tmp))
        if got != sha256:
            raise ModelNotFoundError(f"downloaded {dest.name} has sha256 {got}, expected {sha256}")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _resolve_file(model: ZooModel, f: ModelFile, download: bool, progress: bool) -> Path:
    stale: list[str] = []
    for cand in _offline_candidates(model, f):
        if cand.is_file():
            got = sha256_of(cand)
            if got == f.sha256:
                return cand
            stale.append(f"{cand} has sha256 {got}, but model '{model.name}' pins {f.sha256}")
    dest = cache_dir() / model.folder / f.name
    if not download:
        raise ModelNotFoundError("; ".join(stale + [_not_found_message(model, f)]))
    if stale:
        print(f"nanodet-ncnn: {'; '.join(stale)}: ignoring it and downloading {f.name} again",
              file=sys.stderr)
    try:
        _download(model.url(f), dest, f.sha256, progress)
    except ModelNotFoundError:
        raise
    except Exception as exc:  # network errors: offline machine, proxy, HTTP error
        raise ModelNotFoundError(_not_found_message(model, f) + f" Download failed: {exc}") from exc
    return dest


def _not_found_message(model: ZooModel, f: ModelFile) -> str:
    return (f"model '{model.name}' is not available offline: {f.name} was not found in "
            f"${ENV_MODELS} ({os.environ.get(ENV_MODELS) or 'not set'}) nor in the cache "
            f"({cache_dir() / model.folder}). Set {ENV_MODELS} to a folder holding "
            f"{model.folder}/{f.name}, or allow the download from {model.repo}@{model.commit[:7]}.")


def resolve(name: str, *, download: bool = True, progress: bool = True) -> tuple[Path, Path, ZooModel]:
    """(param path, bin path, zoo entry) for a zoo name."""
    if name not in MODELS:
        raise KeyError(f"unknown model '{name}'; known: {', '.join(MODELS)}")
    model = MODELS[name]
    return (_resolve_file(model, model.param, download, progress),
            _resolve_file(model, model.bin, download, progress), model)


def models() -> list[dict]:
    """The known model names with input size, classes, precision, layout, size and source."""
    out = []
    for m in MODELS.values():
        local = [c for c in _offline_candidates(m, m.bin) if c.is_file()]
        size = local[0].stat().st_size if local else None
        out.append({
            "name": m.name, "description": m.description, "input_size": m.input_size,
            "classes": m.num_classes, "precision": m.precision, "layout": m.layout,
            "size_mb": round(size / 1e6, 2) if size else None,
            "available_offline": bool(local), "source": f"{m.repo}@{m.commit[:7]}",
        })
    return out

