"""A --verify killed with SIGKILL cannot remove its scratch folder; the next --verify removes
it (issue 37), and never anything else: a folder of a live process, of another machine, or
without ale-app's marker stays."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from ale_app.cli import main
from ale_app.run import scratch as T

from conftest import ale_app_command, offline, write_small_spec


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    spec = write_small_spec(tmp_path_factory.mktemp("verify-scratch") / "archive")
    out = spec.parent / "out"
    assert main([str(spec), str(out), "--n-jobs", "1", "-q"]) == 0
    return out


def _scratch_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.name.startswith(T.PREFIX))


def test_a_sigkilled_verify_leaves_its_scratch_and_the_next_verify_removes_it(archive, tmp_path, monkeypatch,
                                                                               capsys):
    root = tmp_path / "tmp"
    root.mkdir()
    keep = root / "someone-elses-folder"
    keep.mkdir()
    (keep / "data").write_text("not ale-app's\n")
    command, env = offline([*ale_app_command(), "--verify", str(archive), "--n-jobs", "1", "-q"],
                           {**os.environ, "TMPDIR": str(root), "PYTHONWARNINGS": "ignore"})
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        give_up = time.monotonic() + 600  # a guard against a hang, not a timing check
        while not any((p / "out").exists() for p in _scratch_folders(root)):  # the re-run is writing
            assert proc.poll() is None, f"--verify ended before the kill:\n{proc.communicate()[1]}"
            assert time.monotonic() < give_up, "--verify never made its scratch folder"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    [stale] = _scratch_folders(root)
    assert stale.name.startswith(f"{T.PREFIX}{proc.pid}-")  # the pid of the killed process
    marker = json.loads((stale / T.MARKER).read_text())
    assert marker["pid"] == proc.pid and marker["start"] is not None
    assert (stale / "out").is_dir()

    # Verify again (in this process, with the same temporary folder): the stale folder is
    # removed and said so, the verification itself succeeds and leaves nothing behind.
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    capsys.readouterr()
    code = main(["--verify", str(archive), "--n-jobs", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "verified: all" in captured.out
    assert f"removed {stale} (" in captured.err and f"(process {proc.pid})" in captured.err, captured.err
    assert not stale.exists()
    assert sorted(p.name for p in root.iterdir()) == [keep.name]
    assert (keep / "data").read_text() == "not ale-app's\n"


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _folder(root: Path, pid: int, **marker) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"{T.PREFIX}{pid}-", dir=root))
    record = {**T._identity(), "pid": pid, **marker}
    (folder / T.MARKER).write_text(json.dumps(record))
    (folder / "out").mkdir()
    (folder / "out" / "half.nii.gz").write_bytes(b"x" * 3000)
    return folder


def test_only_folders_of_ended_owners_with_our_marker_are_removed(tmp_path, caplog):
    root = tmp_path
    own = T.make_scratch(root)  # this live process's own scratch folder
    assert own.name.startswith(f"{T.PREFIX}{os.getpid()}-")
    me = json.loads((own / T.MARKER).read_text())
    assert me["pid"] == os.getpid() and me["start"] == T.process_start(os.getpid()) is not None

    dead = _dead_pid()
    gone = _folder(root, dead)
    reused = _folder(root, os.getpid(), start=me["start"] + 1)  # the same pid, another process
    rebooted = _folder(root, os.getpid(), boot="an earlier boot")
    live = _folder(root, os.getpid())
    elsewhere = _folder(root, dead, host=me["host"] + "-another-node")  # its processes are not seen here
    other_namespace = _folder(root, dead, pidns="pid:[1]")

    kept = [own, live, elsewhere, other_namespace]
    bare = root / f"{T.PREFIX}{dead}-nomarker"  # no marker
    bare.mkdir()
    kept.append(bare)
    for name, text in [("badjson", "{"), ("notobject", "[1]"), ("otherkind", json.dumps({"pid": dead})),
                       ("otherpid", json.dumps({**me, "pid": dead + 1}))]:
        folder = root / f"{T.PREFIX}{dead}-{name}"
        folder.mkdir()
        (folder / T.MARKER).write_text(text)
        kept.append(folder)
    wrong_name = root / "not-ale-app-verify"  # a valid stale marker, but not our name
    wrong_name.mkdir()
    (wrong_name / T.MARKER).write_text(json.dumps({**me, "pid": dead}))
    kept.append(wrong_name)
    target = tmp_path / "elsewhere"  # a link with our name, to a folder with a valid stale marker
    target.mkdir()
    (target / T.MARKER).write_text(json.dumps({**me, "pid": dead}))
    link = root / f"{T.PREFIX}{dead}-link"
    link.symlink_to(target)
    kept += [link, target]
    marker_link = root / f"{T.PREFIX}{dead}-markerlink"  # a marker that is a link to a valid one
    marker_link.mkdir()
    (marker_link / T.MARKER).symlink_to(target / T.MARKER)
    kept.append(marker_link)
    plain_file = root / f"{T.PREFIX}{dead}-file"
    plain_file.write_text("x")
    kept.append(plain_file)

    marker_size = len((gone / T.MARKER).read_bytes())
    with caplog.at_level(logging.INFO, logger="ale_app"):
        removed = T.remove_stale_scratch(root)
    assert sorted(removed) == sorted([gone, reused, rebooted])
    for folder in removed:
        assert not os.path.lexists(folder)
    for path in kept:
        assert os.path.lexists(path), path
    assert (target / T.MARKER).exists()
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(logged) == 3 and any(f"removed {gone} ({3000 + marker_size:,} bytes)" in m and f"(process {dead})" in m for m in logged)


def test_a_folder_of_another_user_is_never_removed(tmp_path, monkeypatch):
    folder = _folder(tmp_path, _dead_pid())
    monkeypatch.setattr(os, "getuid", lambda: os.stat(folder).st_uid + 1)
    assert T.remove_stale_scratch(tmp_path) == []
    assert (folder / "out" / "half.nii.gz").exists()


def test_a_run_start_removes_a_stale_scratch_folder_too(archive, tmp_path, monkeypatch):
    root = tmp_path / "tmp"
    root.mkdir()
    stale = _folder(root, _dead_pid())
    live = _folder(root, os.getpid())
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    assert main([str(archive.parent / "small.yaml"), str(tmp_path / "out"), "--n-jobs", "1", "-q"]) == 0
    assert not stale.exists() and live.exists()
