"""Reproducible, archivable runs: byte-identical derivatives, provenance, safe writes
(lock, --overwrite, interrupted and killed runs, a full disk), --verify, and no network."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ale_app.outputs import folder as D
from ale_app.outputs import registry as O
from ale_app.outputs.registry import known_output_names
from ale_app.outputs import provenance as P
from ale_app.cli import main

from conftest import NetworkBlocked, offline, write_small_spec
from helpers.runs import differences, folder_files, folder_with_events, fork_main, kill_hook


# --------------------------------------------------------------------------- byte identity


def _written(folder: Path) -> set[str]:
    """The files a run says it wrote: its provenance's outputs, and provenance.json itself."""
    return set(json.loads((folder / O.PROVENANCE).read_text())["Outputs"]) | {O.PROVENANCE}


@pytest.mark.slow
def test_two_runs_are_byte_identical(run_jobs1, run_jobs2):
    """The example in-process with one job and through the console script with two (closed
    form: --n-jobs reaches only the figures, drawn in-process with one job and on forked
    workers with two; the refit jackknife's workers are the test below)."""
    jobs2, _ = run_jobs2
    files = folder_files(run_jobs1)
    assert set(files) == _written(run_jobs1) == set(folder_files(jobs2))
    assert differences(run_jobs1, jobs2) == []
    # Only provenance.json may differ, and only in its volatile fields.
    p1, p2 = (json.loads((f / O.PROVENANCE).read_text()) for f in (run_jobs1, jobs2))
    assert p1["Execution"]["NJobs"] == 1 and p2["Execution"]["NJobs"] == 2
    assert {k for k in p1 if p1[k] != p2[k]} <= set(P.VOLATILE_FIELDS)
    # The report embeds the PNGs and names versions; it too is identical, and so is every SVG.
    assert any(n.endswith(".svg") for n in files) and "report.html" in files


@pytest.mark.slow
def test_refit_with_1_and_2_jobs_is_byte_identical(refit_jobs1, refit_jobs2):
    """Parallel equals serial, end to end through the command line, on the path that uses
    the workers: ``jackknife.method: refit`` fits ALE once per left-out experiment on
    --n-jobs loky workers."""
    files = folder_files(refit_jobs1)
    assert set(files) == _written(refit_jobs1) == set(folder_files(refit_jobs2))
    assert differences(refit_jobs1, refit_jobs2) == []
    p1, p2 = (json.loads((f / O.PROVENANCE).read_text()) for f in (refit_jobs1, refit_jobs2))
    assert (p1["Execution"]["NJobs"], p2["Execution"]["NJobs"]) == (1, 2)
    assert {k for k in p1 if p1[k] != p2[k]} <= set(P.VOLATILE_FIELDS)
    for folder in (refit_jobs1, refit_jobs2):
        assert json.loads((folder / "spec.json").read_text())["jackknife"]["method"] == "refit"


def test_provenance_and_dataset_description(run_jobs1):
    record = json.loads((run_jobs1 / O.PROVENANCE).read_text())
    for key in ("Command", "CommandLine", "StartTime", "EndTime", "GeneratedBy", "Software",
                "InstalledDistributions", "Platform", "Container", "Execution", "RandomSeed", "Randomness",
                "SpecSHA256", "Inputs", "InputFiles", "Outputs"):
        assert key in record, key
    assert record["Command"][0] == "ale-app" and record["Command"][1] == "example:pain-qualitative"
    # The count --n-jobs defaults to (affinity capped by cgroup quotas; tests/test_cpus.py
    # checks that accounting against fake cgroup trees), not the machine's.
    from ale_app.process.cpus import available_cpus

    assert record["Execution"]["CPUsAvailable"] == available_cpus()
    assert record["InstalledDistributions"]["nimare"] == "0.22.1"
    assert record["RandomSeed"] is None
    from ale_app.spec.load import example_path
    from ale_app.digests import sha256_file
    from ale_app.inputs.paths import resolve_input_path

    assert record["SpecSHA256"] == D.sha256_bytes(example_path("pain-qualitative").read_bytes())
    (entry,) = record["InputFiles"]
    resolved = resolve_input_path("nimare:nidm_pain_studyset.json", Path("."))
    assert entry["Resolved"] == str(resolved.resolve()) and entry["SHA256"] == sha256_file(resolved)
    files = folder_files(run_jobs1)
    assert set(record["Outputs"]) == set(files) - {O.PROVENANCE}
    for name, digest in record["Outputs"].items():
        assert D.sha256_bytes(files[name].read_bytes()) == digest
    desc = json.loads((run_jobs1 / O.DATASET_DESCRIPTION).read_text())
    assert desc["DatasetType"] == "derivative" and desc["BIDSVersion"]
    generated = desc["GeneratedBy"][0]
    assert generated["Name"] == "ale-app" and generated["Version"] and generated["CodeURL"]
    assert desc["SourceDatasets"] == [{"URL": "nimare:nidm_pain_studyset.json",
                                       "Digest": {"SHA-256": entry["SHA256"]}}]
    assert "figures/" in (run_jobs1 / O.BIDSIGNORE).read_text().splitlines()


# --------------------------------------------------------------------------- --verify


@pytest.mark.slow
def test_verify_passes_on_a_fresh_output(run_jobs1, capsys):
    before = {n: p.read_bytes() for n, p in folder_files(run_jobs1).items()}
    assert main(["--verify", str(run_jobs1), "--n-jobs", "1", "-q"]) == 0
    out = capsys.readouterr().out
    assert "input nimare:nidm_pain_studyset.json: unchanged" in out
    assert "software: the same versions as recorded" in out
    for name in before:
        if name != O.PROVENANCE:
            assert f"identical: {name}\n" in out
    assert f"verified: all {len(before) - 1} files are identical" in out
    assert {n: p.read_bytes() for n, p in folder_files(run_jobs1).items()} == before


@pytest.mark.slow
def test_verify_names_a_flipped_byte_and_a_changed_input(tmp_path, capsys):
    spec = write_small_spec(tmp_path / "archive")
    out = tmp_path / "archive" / "out"
    assert main([str(spec), str(out), "--n-jobs", "1", "-q"]) == 0
    # The archive moves as a whole (years later, another machine): inputs are found relative
    # to OUTPUT_DIR where the recorded absolute folder is gone.
    shutil.move(tmp_path / "archive", tmp_path / "moved")
    out = tmp_path / "moved" / "out"
    table = out / O.CLUSTER_TABLE
    data = bytearray(table.read_bytes())
    data[-3] = ord("7") if data[-3] != ord("7") else ord("8")
    table.write_bytes(bytes(data))
    capsys.readouterr()

    assert main(["--verify", str(out), "--n-jobs", "1", "-q"]) == 3
    captured = capsys.readouterr()
    assert f"differs: {O.CLUSTER_TABLE} (from the cluster step)\n" in captured.out
    assert f"identical: {O.STATMAP}\n" in captured.out
    assert O.CLUSTER_TABLE in captured.err and "1 of " in captured.err and "Traceback" not in captured.err

    studyset = tmp_path / "moved" / "studyset.json"
    studyset.write_bytes(studyset.read_bytes() + b"\n")
    assert main(["--verify", str(out), "-q"]) == 3
    captured = capsys.readouterr()
    assert "input studyset.json: changed" in captured.out
    assert "studyset.json (changed)" in captured.err
    studyset.unlink()
    assert main(["--verify", str(out), "-q"]) == 3
    assert "input studyset.json: missing" in capsys.readouterr().out


def test_verify_usage_and_missing_run(tmp_path, capsys):
    assert main(["--verify", str(tmp_path), "-q"]) == 66
    assert "provenance.json" in capsys.readouterr().err
    assert main(["example:pain-qualitative", "--verify", str(tmp_path)]) == 64
    assert "no SPEC" in capsys.readouterr().err


def test_verify_reports_different_software(run_jobs1, tmp_path, capsys):
    archived = tmp_path / "archived"
    shutil.copytree(run_jobs1, archived)
    record = json.loads((archived / O.PROVENANCE).read_text())
    record["Software"]["nimare"] = "0.0.1"
    record["InputFiles"][0]["SHA256"] = "0" * 64  # so that verify stops before re-running
    (archived / O.PROVENANCE).write_text(json.dumps(record))
    assert main(["--verify", str(archived), "-q"]) == 3
    out = capsys.readouterr().out
    assert "nimare: recorded 0.0.1, now 0.22.1" in out


# --------------------------------------------------------------------------- output folder


def test_overwrite_keeps_other_files_and_removes_only_stale_own(small_spec, small_reference, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(small_reference, out)
    (out / "notes.txt").write_text("mine")
    (out / "figures" / "mine.png").write_bytes(b"not ale-app's")
    # An ale-app file that this spec (PNG only) does not write: the earlier run's SVG.
    stale = out / "figures" / "desc-coordinates_glassbrain.svg"
    stale.write_text("<svg/>")

    assert main([str(small_spec), str(out), "-q"]) == 73
    assert "already holds an ale-app run" in capsys.readouterr().err
    assert main([str(small_spec), str(out), "--overwrite", "--n-jobs", "1", "-q"]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "figures" / "mine.png").read_bytes() == b"not ale-app's"
    assert not stale.exists()
    assert differences(out, small_reference) == ["extra figures/mine.png", "extra notes.txt"]


def test_unfinished_run_with_other_files_needs_overwrite(small_spec, small_reference, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(small_reference / O.DATASET_DESCRIPTION, out)
    (out / "notes.txt").write_text("mine")
    assert main([str(small_spec), str(out), "-q"]) == 73
    err = capsys.readouterr().err
    assert "holds an ale-app run and other files: notes.txt" in err and "--overwrite" in err


def test_foreign_folder_keeps_no_lock_file(small_spec, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("someone else's report")
    assert main([str(small_spec), str(out), "--overwrite", "-q"]) == 73
    assert "does not hold an ale-app run" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["report.html"]


@pytest.mark.slow
def test_two_concurrent_runs_one_refused(small_spec, small_reference, tmp_path, capsys):
    out = tmp_path / "out"
    pid = fork_main([str(small_spec), str(out), "--n-jobs", "1", "-q"])
    # The first file is written under the lock, which the run then holds until it ends.
    deadline = time.monotonic() + 600
    while not (out / O.DATASET_DESCRIPTION).exists():
        assert time.monotonic() < deadline, "the first run never started writing"
        time.sleep(0.02)
    code = main([str(small_spec), str(out), "--overwrite", "-q"])
    err = capsys.readouterr().err
    _, status = os.waitpid(pid, 0)
    assert code == 73 and "Another ale-app run is writing to" in err, err
    assert os.waitstatus_to_exitcode(status) == 0
    assert differences(out, small_reference) == []


def test_full_disk_ends_with_73_and_leaves_complete_files(small_spec, small_reference, tmp_path, capsys):
    out = tmp_path / "out"
    # A file-size limit makes the kernel refuse the first large write (EFBIG), as a full disk
    # refuses a write (ENOSPC): the same OSError path through OutputFolder.write_bytes.
    limit = min(p.stat().st_size for n, p in folder_files(small_reference).items()
                if n.endswith(".nii.gz")) - 1
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        code = main([str(small_spec), str(out), "--n-jobs", "1", "-q"])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    err = capsys.readouterr().err
    assert code == 73 and "Cannot write" in err and "Traceback" not in err
    written = folder_files(out)
    assert O.DATASET_DESCRIPTION in written and O.PROVENANCE not in written
    assert not [n for n in written if D.is_temp_name(n, known_output_names())]
    assert differences(out, small_reference, allow_missing=True) == []


# --------------------------------------------------------------------------- kill test


def kill_points(n_writes: int) -> list[tuple[int, str, str]]:
    """One kill per file write, signals and phases alternating, plus two SIGINTs."""
    points = []
    for k in range(1, n_writes + 1):
        sig = "TERM" if k % 2 else "KILL"
        phase = "before-rename" if (k // 2) % 2 else "after-rename"
        points.append((k, sig, phase))
    points += [(3, "INT", "after-rename"), (n_writes, "TERM", "before-rename")]
    return points


@pytest.mark.slow
def test_killed_runs_leave_complete_files_and_a_rerun_completes(small_spec, small_reference, tmp_path,
                                                                 monkeypatch, capsys):
    """Interrupt the small run at every file write (SIGTERM, SIGINT in-process; SIGKILL in a
    forked child), each time in the folder the previous interrupted run left, so every run
    is also a re-run of an interrupted folder; then complete it and compare."""
    n_writes = len(folder_files(small_reference))
    points = kill_points(n_writes)
    assert len(points) >= 20 and {s for _, s, _ in points} == {"TERM", "KILL", "INT"}
    out = tmp_path / "out"
    reference = folder_files(small_reference)
    for k, sig, phase in points:
        args = [str(small_spec), str(out), "--n-jobs", "1", "-q"]
        was_complete = (out / O.PROVENANCE).exists()
        if was_complete:
            # An --overwrite of a complete run: interrupted, it leaves that run whole
            # (tests/test_overwrite_atomic.py tests this with a run that differs).
            args.append("--overwrite")
        hook = f"{k}:{sig}:{phase}"
        if sig == "KILL":
            pid = fork_main(args, kill_hook(k, sig, phase))
            _, status = os.waitpid(pid, 0)
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, hook
        else:
            # A signal once provenance.json (the last file) is in place no longer stops the run
            # (runtime.deferred_signals): the run is complete and exits 0.
            completed = k == n_writes and phase == "after-rename"
            with monkeypatch.context() as patched:
                patched.setattr(D, "OutputFolder", folder_with_events(kill_hook(k, sig, phase)))
                assert main(args) == (0 if completed else 75), hook
            if not completed:
                assert "re-run the same command" in capsys.readouterr().err
        files = folder_files(out)
        temps = [n for n in files if D.is_temp_name(n, known_output_names())]
        if sig == "KILL" and phase == "before-rename":
            assert len(temps) == 1, (hook, temps)  # a SIGKILL cannot clean up; the re-run does
        else:
            assert temps == [], (hook, temps)
        present = {n: p for n, p in files.items() if n not in temps}
        assert set(present) <= set(reference), hook
        diffs = differences(out, small_reference, allow_missing=True)
        assert [d for d in diffs if d.removeprefix("extra ") not in temps] == [], (hook, diffs)
        assert (O.PROVENANCE in present) == (was_complete or (k == n_writes and phase == "after-rename")), hook
    args = [str(small_spec), str(out), "--n-jobs", "1", "-q"]
    if (out / O.PROVENANCE).exists():
        args.append("--overwrite")
    assert main(args) == 0
    assert differences(out, small_reference) == []
    assert not [n for n in folder_files(out) if D.is_temp_name(n, known_output_names())]


# --------------------------------------------------------------------------- no network


def test_network_is_blocked_in_tests():
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("example.org", 80), timeout=1)
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("pypi.org", 443)
    with pytest.raises(NetworkBlocked):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(("93.184.215.14", 80))


def test_network_is_blocked_in_subprocesses():
    code = ("import socket\n"
            "try:\n    socket.create_connection(('93.184.215.14', 80), timeout=2)\n"
            "except OSError as exc:\n    print(type(exc).__name__, exc)\nelse:\n    print('CONNECTED')\n")
    cmd, env = offline([sys.executable, "-c", code])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "CONNECTED" not in proc.stdout
    assert "NetworkBlocked" in proc.stdout, proc.stdout


def test_subprocesses_run_in_an_empty_network_namespace():
    """Below the socket guard: the subprocess sees no network interface but loopback, and a
    socket that bypasses the guard (``_socket``) finds no route. Fails if :func:`offline`
    ran the command in the host's network namespace."""
    code = ("import errno, socket, _socket\n"
            "print([name for _, name in socket.if_nameindex()])\n"
            "raw = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)\n"
            "raw.settimeout(2)\n"
            "try:\n    raw.connect(('93.184.215.14', 80))\n"
            "except OSError as exc:\n    print(errno.errorcode.get(exc.errno, exc))\n"
            "else:\n    print('CONNECTED')\n")
    cmd, env = offline([sys.executable, "-c", code])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["['lo']", "ENETUNREACH"], proc.stdout


@pytest.mark.slow
def test_verify_a_run_whose_input_is_a_parquet_folder(tmp_path, capsys):
    """A folder input is digested file by file, and --verify checks it the same way."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "spec_version: 1\n"
        "input: {path: 'nimare:nback_vs_flanker_studyset_2026-07', select: {first: 4}}\n"
        "ale: {sample_size: 20}\n"
        "jackknife: {enabled: false}\n"
        "figures: {formats: [png], dpi: 50}\n"
    )
    out = tmp_path / "out"
    assert main([str(spec), str(out), "--n-jobs", "1", "-q"]) == 0
    capsys.readouterr()
    assert main(["--verify", str(out), "--n-jobs", "1", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "input nimare:nback_vs_flanker_studyset_2026-07: unchanged" in printed
    assert "verified: all" in printed
