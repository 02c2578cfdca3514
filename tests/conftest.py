"""Shared fixtures: the Agg backend, figures closed after each test, no network, and the
example analysis run once per session through the real command line."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = "example:pain-qualitative"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


class _NetworkBlocked(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Any attempt to open an internet socket fails the test (local sockets stay allowed)."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if host not in ("127.0.0.1", "::1", "localhost"):
                raise _NetworkBlocked(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def ale_app_command() -> list[str]:
    """The installed console script, or the module run with this interpreter."""
    exe = shutil.which("ale-app", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "ale_app"]


@pytest.fixture(scope="session")
def run_jobs1(tmp_path_factory):
    """The example run in-process through ``main`` with one job."""
    from ale_app.cli import main

    out = tmp_path_factory.mktemp("run") / "jobs1"
    code = main([EXAMPLE, str(out), "group", "--n-jobs", "1", "-q"])
    assert code == 0
    return out


@pytest.fixture(scope="session")
def run_jobs2(tmp_path_factory):
    """The example run as a subprocess through the console script with two jobs."""
    out = tmp_path_factory.mktemp("run") / "jobs2"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [*ale_app_command(), EXAMPLE, str(out), "--n-jobs", "2"],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    return out, proc.stderr
