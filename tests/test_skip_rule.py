"""The conftest rule: with the shared data present, a skip is a failure unless the test is
marked allow_skip (run on throw-away test files in a child pytest with this conftest loaded)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
TIMEOUT = 900 if os.environ.get("NANODET_NCNN_EMULATED") == "1" else 120  # a child pytest under qemu


def run_pytest(tmp_path, files: dict[str, str]) -> subprocess.CompletedProcess:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "conftest",
                           "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnknownMarkWarning",
                           *files], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def test_skips_fail_unless_allowed(tmp_path):
    r = run_pytest(tmp_path, {"test_a.py": (
        "import pytest\n"
        "def test_skipped():\n    pytest.skip('data missing')\n"
        "@pytest.mark.allow_skip\n"
        "def test_allowed():\n    pytest.skip('no display')\n"
        "@pytest.mark.xfail(reason='known')\n"
        "def test_xfail():\n    assert False\n"
        "def test_ok():\n    pass\n")})
    assert r.returncode == 1, r.stdout
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed" in r.stdout, r.stdout
    assert "test_skipped skipped although the shared test data" in r.stdout


def test_module_level_importorskip_fails(tmp_path):
    r = run_pytest(tmp_path, {"test_b.py": (
        "import pytest\n"
        "pytest.importorskip('no_such_module_nanodet')\n"
        "def test_never():\n    pass\n")})
    assert r.returncode != 0 and "skipped although the shared test data" in r.stdout, r.stdout
