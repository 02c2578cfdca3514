"""The code passes ``ruff check`` with the project's configuration (``[tool.ruff]`` in
pyproject.toml: unused and undefined names, imports at the top, syntax): mistakes found by
reading, before a test has to run into them. ruff is in the locked test set."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, skip_or_fail


def _ruff() -> list[str]:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        skip_or_fail("ruff is not installed", "install the test lock: pip install --require-hashes -r "
                     "requirements-test.lock")
    return [exe]


def test_ruff_finds_nothing():
    proc = subprocess.run([*_ruff(), "check", "--no-cache", "--output-format", "concise", str(REPO)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_sees_an_unused_import(tmp_path):
    """The check can fail: the same configuration flags an unused import in a new file."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n", encoding="utf-8")
    proc = subprocess.run([*_ruff(), "check", "--no-cache", "--output-format", "concise",
                           "--config", str(REPO / "pyproject.toml"), str(bad)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "F401" in proc.stdout, proc.stdout + proc.stderr
