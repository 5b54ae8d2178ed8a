#!/usr/bin/env python3
"""Check the release artifacts in DIST (tools/release/build.sh runs it after auditwheel).

Each wheel must hold the extension for its own architecture, bench_arm as a script, the type stubs
and py.typed, no build leftovers, and ELF files that need no glibc newer than its manylinux tag
says (read from the files' version-needed sections, independently of auditwheel). The sdist must
hold the sources the build needs and no build leftovers. Prints one line per artifact.

Usage: check_dist.py DIST [--expect x86_64,aarch64,armv7l]
"""
from __future__ import annotations

import argparse
import io
import re
import sys
import tarfile
import zipfile
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

MACHINE = {"x86_64": "EM_X86_64", "aarch64": "EM_AARCH64", "armv7l": "EM_ARM"}
TRIPLET = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu",
           "armv7l": "arm-linux-gnueabihf"}
LEFTOVER = re.compile(r"(\.o|\.a|\.obj|\.ninja|\.cmake|CMakeCache\.txt|\.pyc|\.whl|\.log)$"
                      r"|(^|/)(build|dist|CMakeFiles|__pycache__|\.git)/")
SDIST_NEEDS = ["pyproject.toml", "CMakeLists.txt", "cmake/NcnnDependency.cmake",
               "tools/fetch_ncnn.py", "cpp/python/bindings.cpp", "python/nanodet_ncnn/__init__.py",
               "README.md", "PKG-INFO"]


def glibc_needed(data: bytes) -> tuple[str, str, tuple[int, int]]:
    """(machine, name of the newest GLIBC_x.y needed, (x, y)) of one ELF file."""
    elf = ELFFile(io.BytesIO(data))
    newest = (0, 0)
    for sec in elf.iter_sections():
        if isinstance(sec, GNUVerNeedSection):
            for _, auxes in sec.iter_versions():
                for aux in auxes:
                    m = re.fullmatch(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?", aux.name)
                    if m:
                        newest = max(newest, (int(m[1]), int(m[2])))
    return elf["e_machine"], f"GLIBC_{newest[0]}.{newest[1]}", newest


def check_wheel(path: Path) -> list[str]:
    errors = []
    m = re.match(r"nanodet_ncnn-[^-]+-cp311-cp311-manylinux_(\d+)_(\d+)_(x86_64|aarch64|armv7l)\.whl$",
                 path.name)
    if not m:
        return [f"{path.name}: not a cp311 manylinux wheel name"]
    limit, arch = (int(m[1]), int(m[2])), m[3]
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        ext = f"nanodet_ncnn/_core.cpython-311-{TRIPLET[arch]}.so"
        wanted = [ext, "nanodet_ncnn/_core.pyi", "nanodet_ncnn/py.typed", "nanodet_ncnn/__init__.py"]
        for w in wanted:
            if w not in names:
                errors.append(f"missing {w}")
        scripts = [n for n in names if re.search(r"\.data/scripts/bench_arm$", n)]
        if not scripts:
            errors.append("missing bench_arm in the wheel's scripts")
        for n in names:
            if LEFTOVER.search(n):
                errors.append(f"build leftover {n}")
        for n in names:
            data = z.read(n)
            if data[:4] != b"\x7fELF":
                continue
            machine, newest_name, newest = glibc_needed(data)
            if machine != MACHINE[arch]:
                errors.append(f"{n} is {machine}, not {MACHINE[arch]}")
            if newest > limit:
                errors.append(f"{n} needs {newest_name}, newer than the tag's glibc {limit}")
    size = path.stat().st_size / 1e6
    print(f"{path.name:62s} {size:6.2f} MB  {len(names)} files  "
          f"{'OK' if not errors else 'FAIL'}")
    return [f"{path.name}: {e}" for e in errors]


def check_sdist(path: Path) -> list[str]:
    errors = []
    with tarfile.open(path) as t:
        names = [n.split("/", 1)[1] for n in t.getnames() if "/" in n]
    for w in SDIST_NEEDS:
        if w not in names:
            errors.append(f"{path.name}: missing {w}")
    for n in names:
        if LEFTOVER.search(n) and not n.endswith(".cmake"):
            errors.append(f"{path.name}: build leftover {n}")
    print(f"{path.name:62s} {path.stat().st_size / 1e6:6.2f} MB  {len(names)} files  "
          f"{'OK' if not errors else 'FAIL'}")
    return errors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dist", type=Path)
    ap.add_argument("--expect", default="", help="comma-separated arches that must have a wheel")
    a = ap.parse_args()
    errors = []
    wheels = sorted(a.dist.glob("*.whl"))
    for w in wheels:
        errors += check_wheel(w)
    for s in sorted(a.dist.glob("*.tar.gz")):
        errors += check_sdist(s)
    for arch in filter(None, a.expect.split(",")):
        if not any(w.name.endswith(f"_{arch}.whl") for w in wheels):
            errors.append(f"no {arch} wheel in {a.dist}")
    for e in errors:
        print("ERROR:", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
