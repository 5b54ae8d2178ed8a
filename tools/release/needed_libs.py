"""The shared libraries ELF files load (their DT_NEEDED closure), looked up in an unpacked
Debian tree and skipping those a sysroot already has: prints their paths relative to the tree.

    python needed_libs.py TREE SYSROOT ELF...      (NANODET_TRIPLET, default arm-linux-gnueabihf)

Used by tools/release/test_wheels.sh to keep, of python3-opencv's 400-package dependency closure,
only the libraries cv2 (and Pillow) really load. Reads the dynamic section with readelf (binutils; the cross
toolchain's <triplet>-readelf works as well).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path


def readelf() -> str:
    for name in ("readelf", "aarch64-linux-gnu-readelf", "arm-linux-gnueabihf-readelf"):
        if shutil.which(name):
            return name
    raise SystemExit("needed_libs.py: no readelf on PATH (apt-get install binutils)")


def lookup(name: str, base: Path, triplet: str) -> Path | None:
    for d in (f"usr/lib/{triplet}", f"lib/{triplet}", "usr/lib", "lib"):
        if (base / d / name).exists():
            return base / d / name
        # libraries Debian selects with update-alternatives (blas/, lapack/)
        found = sorted((base / d).glob(f"*/{name}")) if (base / d).is_dir() else []
        if found:
            return found[0]
    return None


def closure(tree: Path, elfs: list[Path], sysroot: Path, triplet: str) -> list[Path]:
    tool = readelf()
    found: dict[str, Path | None] = {}
    todo, missing = list(elfs), []
    while todo:
        elf = todo.pop()
        out = subprocess.run([tool, "-d", str(elf)], capture_output=True, text=True,
                             check=True).stdout
        for name in re.findall(r"\(NEEDED\).*\[(.*)\]", out):
            if name in found:
                continue
            if lookup(name, sysroot, triplet):
                found[name] = None
                continue
            path = lookup(name, tree, triplet)
            found[name] = path
            if path is None:
                missing.append(f"{name} (of {elf.name})")
            else:
                todo.append(path)
    if missing:
        raise SystemExit(f"needed_libs.py: {', '.join(missing)} found nowhere")
    return sorted(p.relative_to(tree) for p in found.values() if p is not None)


def main() -> None:
    tree, sysroot, *elfs = map(Path, sys.argv[1:])
    triplet = os.environ.get("NANODET_TRIPLET", "arm-linux-gnueabihf")
    for rel in closure(tree, elfs, sysroot, triplet):
        print(rel)


if __name__ == "__main__":
    main()
