"""Any user, read-only install, no writable HOME (issue #13): numba, matplotlib, joblib and
NiMARE caches go to a private temporary folder, so every run works, --validate-only too.

The package is copied to a root-owned 0755 folder (first on PYTHONPATH) and run as uid
4242 with HOME=/nonexistent, in an empty network namespace (``unshare -n``: a user namespace,
as ``unshare -rn`` makes, could not switch to uid 4242). That needs root (CI runs as root);
elsewhere the test is skipped, and with CI=true a missing root, setpriv or network
namespace fails it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import OFFLINE_SITE, OTHER_UID
from helpers.runs import fast_spec

import ale_app
from ale_app.process import runtime


def _world_readable(path: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(path):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(Path(dirpath) / name, 0o644)


def _as_user(prefix: list[str], python_args: list[str], install: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8",
           "PYTHONPATH": os.pathsep.join([str(OFFLINE_SITE), str(install)])}
    cmd = [*prefix, sys.executable, *python_args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800, cwd="/")


PROBE = """\
import os, socket, sys
print(os.getuid(), [name for _, name in socket.if_nameindex()])
for folder in (sys.argv[1], os.environ["HOME"]):
    try:
        open(os.path.join(folder, "probe"), "w").close()
    except OSError as exc:
        print(type(exc).__name__)
    else:
        print("written")
"""


@pytest.mark.slow
def test_runs_as_any_user_on_a_read_only_install_without_home(as_user_prefix):
    base = Path(tempfile.mkdtemp(prefix="ale-app-ro-"))  # not under pytest's 0700 tmp folder
    try:
        os.chmod(base, 0o755)
        install = base / "install"
        shutil.copytree(Path(ale_app.__file__).parent, install / "ale_app",
                        ignore=shutil.ignore_patterns("__pycache__"))
        spec = fast_spec(base / "spec")
        _world_readable(install)
        _world_readable(base / "spec")
        outputs = base / "outputs"
        outputs.mkdir()
        os.chown(outputs, OTHER_UID, OTHER_UID)
        out = outputs / "deriv"

        # The conditions hold: uid 4242, no network but loopback, the install not writable
        # (root-owned 0755), no HOME to write to.
        probe = _as_user(as_user_prefix, ["-c", PROBE, str(install / "ale_app")], install)
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.splitlines() == [f"{OTHER_UID} ['lo']", "PermissionError", "FileNotFoundError"]

        check = _as_user(as_user_prefix, ["-m", "ale_app", str(spec), "--validate-only"], install)
        assert check.returncode == 0, check.stderr
        assert "no locator available" not in check.stderr and "nothing written" in check.stdout

        run = _as_user(as_user_prefix, ["-m", "ale_app", str(spec), str(out), "--n-jobs", "1"], install)
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr
        record = json.loads((out / "provenance.json").read_text())
        assert all((out / name).is_file() for name in record["Outputs"])
        assert all(os.stat(p).st_uid == OTHER_UID for p in out.rglob("*"))
        assert not any(p for p in install.rglob("*") if p.name == "__pycache__"), "the install was written"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_cache_folders_set_only_when_home_is_not_writable_and_never_override(tmp_path):
    env = {"HOME": "/nonexistent", "MPLCONFIGDIR": "/mine"}
    chosen = runtime.configure_cache_dirs(env)
    assert env["MPLCONFIGDIR"] == "/mine" and "MPLCONFIGDIR" not in chosen
    assert set(chosen) == {"NUMBA_CACHE_DIR", "JOBLIB_TEMP_FOLDER", "NIMARE_DATA"}
    for folder in chosen.values():
        assert os.access(folder, os.W_OK) and Path(folder).stat().st_uid == os.getuid()
    home = tmp_path / "home"
    home.mkdir()
    assert runtime.configure_cache_dirs({"HOME": str(home)}) == {}
