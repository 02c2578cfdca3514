"""Resuming an interrupted project: a run killed (SIGKILL) after some of its analyses finished,
run again with the same spec into the same folder, reuses them (checked by their inputs' and
settings' digests), computes the rest and ends byte-identical to an uninterrupted run; an
analysis whose settings changed is computed again. The work area's records are checked
against their key and SHA-256 before they are reused.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time

import pytest

from conftest import offline

from ale_app.outputs.folder import WORK
from ale_app.run.resume import UnitStore

from helpers.projects import project_spec, write_spec, write_table
from helpers.runs import differences


def _run(spec, out) -> subprocess.CompletedProcess:
    cmd, env = offline([sys.executable, "-m", "ale_app", str(spec), str(out), "--n-jobs", "2"])
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)


def _kill_when(spec, out, record: str) -> None:
    """Start a run and SIGKILL it as soon as the work area holds ``record``."""
    cmd, env = offline([sys.executable, "-m", "ale_app", str(spec), str(out), "--n-jobs", "2", "-q"])
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not (out / WORK / record).exists():
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "provenance.json").exists()


@pytest.mark.slow
def test_a_killed_project_resumes_reusing_its_finished_analyses(tmp_path):
    write_table(tmp_path)
    spec = write_spec(tmp_path, "project", project_spec())
    reference = tmp_path / "reference"
    assert _run(spec, reference).returncode == 0
    out = tmp_path / "out"
    _kill_when(spec, out, "contrast-goMinusStop.json")
    again = _run(spec, out)
    assert again.returncode == 0, again.stderr
    for what in ("group go", "group stop", "group flank", "contrast goMinusStop"):
        assert f"Reusing {what}, finished by an interrupted run" in again.stderr, what
    assert "Reusing contrast goMinusFlank" not in again.stderr
    assert differences(out, reference) == []
    assert not (out / WORK).exists()  # a finished folder keeps no work area

    # A changed setting: the contrast it changes is computed again, the groups are reused.
    changed = project_spec(contrasts=[{"groups": ["go", "stop"], "conjunction": False},
                                      {"groups": ["go", "flank"], "conjunction": False}])
    spec2 = write_spec(tmp_path, "changed", changed)
    out2, reference2 = tmp_path / "out2", tmp_path / "reference2"
    _kill_when(spec, out2, "contrast-goMinusStop.json")
    resumed = _run(spec2, out2)
    assert resumed.returncode == 0, resumed.stderr
    assert "Reusing group go," in resumed.stderr and "Reusing contrast goMinusStop" not in resumed.stderr
    assert _run(spec2, reference2).returncode == 0
    assert differences(out2, reference2) == []


def test_a_record_is_reused_only_with_its_key_and_digest(tmp_path):
    store = UnitStore(tmp_path)
    store.save("group-a", "k1", {"threshold": 0.5, "step_status": {"ale": "ran"}})
    assert store.load("group-a", "k1") == {"threshold": 0.5, "step_status": {"ale": "ran"}}
    assert store.load("group-a", "k2") is None  # other inputs or settings
    assert store.load("group-b", "k1") is None  # no record
    # A record changed after it was written (a byte of the pickle) is not reused.
    pkl = tmp_path / WORK / "group-a.pkl"
    pkl.write_bytes(pickle.dumps({"threshold": 0.9, "step_status": {}}))
    assert store.load("group-a", "k1") is None
    assert store.reused == ["group-a"]
    store.clear()
    assert not (tmp_path / WORK).exists()


def test_a_linked_work_area_is_neither_read_nor_written(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = tmp_path / "out"
    root.mkdir()
    (root / WORK).symlink_to(elsewhere)
    store = UnitStore(root)
    store.save("group-a", "k", {"step_status": {}})
    assert list(elsewhere.iterdir()) == []
    assert store.load("group-a", "k") is None
    store.clear()
    assert not os.path.lexists(root / WORK) and elsewhere.is_dir()


def test_a_record_that_cannot_be_written_leaves_nothing_half_written(tmp_path, monkeypatch, caplog):
    import builtins

    store = UnitStore(tmp_path)
    real_open = builtins.open

    def full_disk(path, *args, **kwargs):
        if str(path).endswith(".pkl.tmp"):
            handle = real_open(path, *args, **kwargs)
            handle.write(b"partial")
            handle.close()
            raise OSError(28, "No space left on device")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", full_disk)
    store.save("group-a", "k", {"step_status": {}})
    monkeypatch.setattr(builtins, "open", real_open)
    assert list((tmp_path / WORK).iterdir()) == []  # no temporary file, no record
    assert "Could not keep the finished group-a" in caplog.text
    assert store.load("group-a", "k") is None
