"""The code passes ``ruff check`` with the project's configuration (``[tool.ruff]`` in
pyproject.toml: unused and undefined names, imports at the top, syntax) and ``ale_app/``
passes ``mypy`` (``[tool.mypy]``: types of the annotated functions): mistakes found by
reading, before a test has to run into them. ruff and mypy are in the locked test set."""

from __future__ import annotations

import importlib.util
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


def _mypy() -> list[str]:
    if importlib.util.find_spec("mypy") is None:
        skip_or_fail("mypy is not installed", "install the test lock: pip install --require-hashes -r "
                     "requirements-test.lock")
    return [sys.executable, "-m", "mypy"]


def test_mypy_finds_nothing():
    """``python -m mypy ale_app`` from the repository root, as a developer runs it; its cache is
    the default .mypy_cache/ (git ignores it), so a second run takes about a second."""
    proc = subprocess.run([*_mypy(), "ale_app"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_sees_a_wrong_type(tmp_path):
    """The check can fail: the same configuration flags a str returned as an int."""
    bad = tmp_path / "bad.py"
    bad.write_text("def n() -> int:\n    return 'one'\n", encoding="utf-8")
    proc = subprocess.run([*_mypy(), "--config-file", str(REPO / "pyproject.toml"),
                           "--cache-dir", str(tmp_path / "cache"), str(bad)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 1 and "[return-value]" in proc.stdout, proc.stdout + proc.stderr
