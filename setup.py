"""Build hook: a wheel or a non-editable install records where it was built from.

``pip install .`` (the README's install) copies ``ale_app`` into site-packages, away from the
checkout, so provenance could no longer read the git commit or the lock files there. At build
time this writes ``ale_app/_build_info.json`` into the built package: the checkout's git commit
(and whether it had uncommitted changes; None outside a git checkout, e.g. in an image build,
whose revision comes from the REVISION build argument) and the SHA-256 of every
``requirements*.lock`` beside ``pyproject.toml``. Everything else is in ``pyproject.toml``.
"""

import hashlib
import json
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _git_revision():
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"Commit": commit, "Dirty": bool(status.strip())} if commit else None


def build_info() -> dict:
    locks = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(ROOT.glob("requirements*.lock"))}
    return {"GitRevision": _git_revision(), "LockFiles": locks}


class BuildPyWithInfo(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "ale_app" / "_build_info.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(build_info(), indent=2, sort_keys=True) + "\n")


setup(cmdclass={"build_py": BuildPyWithInfo})
