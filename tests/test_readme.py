"""Every ```python block of README.md runs as pasted, from the repository root."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index, tmp_path):
    (ROOT / "out").mkdir(exist_ok=True)
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-c", BLOCKS[index]], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"README block {index} failed:\n{BLOCKS[index]}\n{r.stderr}"
