"""Per-module table of the emulated pytest runs of tools/release/test_wheels.sh: how many tests
ran and passed in each module on each CPU, from the runs' JUnit XML files.

    python junit_table.py OUT.json RUN.xml...     (RUN = junit_<arch>_<label>_<cpu>.xml)
"""
from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path


def counts(xml: Path) -> dict[str, list[int]]:
    """module -> [ran, passed] of one run."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for case in ET.parse(xml).getroot().iter("testcase"):
        module = case.get("classname", "").split(".")
        module = next((m for m in module if m.startswith("test_")), ".".join(module))
        if case.find("skipped") is not None:
            continue
        out[module][0] += 1
        if case.find("failure") is None and case.find("error") is None:
            out[module][1] += 1
    return out


def label(xml: Path) -> str:
    """junit_aarch64_broad_cortex-a72 -> 'aarch64 a72 broad'"""
    arch, run, cpu = xml.stem.removeprefix("junit_").split("_")[:3]
    return f"{arch} {cpu.removeprefix('cortex-')} {run}"


def main() -> None:
    dest, files = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
    runs: dict[str, dict[str, list[int]]] = {}
    for f in files:  # files of one label (a run split in parts) add up
        run = runs.setdefault(label(f), defaultdict(lambda: [0, 0]))
        for m, (ran, passed) in counts(f).items():
            run[m][0] += ran
            run[m][1] += passed
    modules = sorted({m for c in runs.values() for m in c})
    cols = list(runs)
    width = max(len(m) for m in modules + ["module"])
    colw = max(9, *(len(c) for c in cols))
    print(f"{'module':<{width}}  " + "  ".join(f"{c:>{colw}}" for c in cols))
    for m in modules:
        cells = [f"{runs[c][m][1]}/{runs[c][m][0]}" if m in runs[c] else "-" for c in cols]
        print(f"{m:<{width}}  " + "  ".join(f"{x:>{colw}}" for x in cells))
    totals = [f"{sum(v[1] for v in runs[c].values())}/{sum(v[0] for v in runs[c].values())}"
              for c in cols]
    print(f"{'total (passed/ran)':<{width}}  " + "  ".join(f"{x:>{colw}}" for x in totals))
    dest.write_text(json.dumps({c: {m: {"ran": v[0], "passed": v[1]} for m, v in runs[c].items()}
                                for c in cols}, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
