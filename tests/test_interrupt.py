"""SIGTERM (SLURM's time limit) mid-run: exit 75, a message, nothing half-written, and a
re-run of the same command completes the folder."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import EXAMPLE, ale_app_command, offline

from ale_app.outputs.folder import WORK
from ale_app.outputs import registry as O


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(root: Path) -> dict[str, Path]:
    """Every file below ``root``, the work area an unfinished run keeps for its re-run apart."""
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] != WORK}


@pytest.mark.slow
def test_sigterm_mid_run_leaves_only_complete_files_and_rerun_completes(tmp_path, run_jobs1):
    out = tmp_path / "deriv"
    command, env = offline([*ale_app_command(), EXAMPLE, str(out), "--n-jobs", "1"],
                           {**os.environ, "PYTHONWARNINGS": "ignore"})
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        # Mid-run: once the ALE map is in place, the other derivatives and figures are still to come.
        give_up = time.monotonic() + 900  # a guard against a hang, not a timing check
        while not (out / O.STATMAP).exists():
            assert proc.poll() is None, f"ale-app ended before the signal:\n{proc.communicate()[1]}"
            assert time.monotonic() < give_up, "ale-app never wrote the ALE map"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert proc.returncode == 75, stderr
    assert "stopped by signal SIGTERM" in stderr
    assert "re-run the same command" in stderr
    assert "Traceback" not in stderr

    present = _files(out)
    assert not [n for n in present if Path(n).name.startswith(".") and n.endswith(".tmp")], present
    assert O.PROVENANCE not in present, "provenance.json marks a finished run and is written last"
    assert O.STATMAP in present and O.DATASET_DESCRIPTION in present
    reference = _files(run_jobs1)
    assert set(present) < set(reference), "the run was stopped before it finished"
    for name, path in present.items():  # every file present is complete: the same bytes as a full run
        assert _sha256(path) == _sha256(reference[name]), name

    rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    # Stopped while writing: the analysis had finished, and the re-run reuses it.
    assert "Reusing the analysis, finished by an interrupted run" in rerun.stderr
    assert not (out / WORK).exists()
    completed = _files(out)
    assert set(completed) == set(reference)
    for name in completed:
        if name != O.PROVENANCE:  # the only file with times in it
            assert _sha256(completed[name]) == _sha256(reference[name]), name
