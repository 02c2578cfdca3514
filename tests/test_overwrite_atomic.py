"""--overwrite is all or nothing (issue #26): a full disk, an error or a kill at any moment of
an --overwrite leaves the earlier run (A) whole, or the new run (B) whole, each with its
provenance; nothing is written outside OUTPUT_DIR and files that are not ale-app's are never
touched. Run A is the small spec; run B the same with another display threshold, so that the
clusters, jackknife table, figures, report and citation differ."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from ale_app.cli import main
from ale_app.outputs import folder as D
from ale_app.outputs import registry as O

from conftest import SMALL_SPEC, skip_or_fail, write_small_spec
from helpers.runs import differences, folder_files, folder_with_events, fork_main, kill_hook, stable_provenance

#: Files in OUTPUT_DIR that are not ale-app's; every run must leave them as they are.
USER_FILES = {"notes.txt": b"my notes", "figures/mine.png": b"not ale-app's", "code/analysis.R": b"# mine\n"}


@pytest.fixture(scope="session")
def spec_b(tmp_path_factory):
    """The small spec with ``display.threshold_percentile: 90`` (run B)."""
    spec = write_small_spec(tmp_path_factory.mktemp("spec-b"))
    spec.write_text(SMALL_SPEC + "display:\n  threshold_percentile: 90\n")
    return spec


@pytest.fixture(scope="session")
def reference_b(tmp_path_factory, spec_b):
    """Run B into a new folder: what an --overwrite by B must leave."""
    out = tmp_path_factory.mktemp("small-b") / "reference"
    assert main([str(spec_b), str(out), "--n-jobs", "1", "-q"]) == 0
    return out


def test_runs_a_and_b_differ(small_reference, reference_b):
    """The test is only as good as its two runs: the files the issue names must differ."""
    a, b = folder_files(small_reference), folder_files(reference_b)
    assert set(a) == set(b)
    differing = {n for n in a if a[n].read_bytes() != b[n].read_bytes()}
    assert {O.CLUSTER_TABLE, O.JACKKNIFE_TABLE, O.CLUSTER_MAP, O.REPORT, O.CITATION, O.SPEC_JSON,
            O.PROVENANCE} <= differing


# --------------------------------------------------------------------------- helpers


def make_run_a(small_reference: Path, out: Path) -> dict[str, tuple]:
    """OUTPUT_DIR holding run A and the user's files; returns the user files' identities."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(small_reference, out)
    for name, data in USER_FILES.items():
        (out / name).parent.mkdir(exist_ok=True)
        (out / name).write_bytes(data)
    return user_identities(out)


def user_identities(out: Path) -> dict[str, tuple]:
    """Bytes, inode and modification time of each user file: all equal if it was never touched."""
    found = {}
    for name in USER_FILES:
        info = os.lstat(out / name)
        found[name] = ((out / name).read_bytes(), info.st_ino, info.st_mtime_ns)
    return found


def internal_leftovers(out: Path) -> list[str]:
    return sorted(n for n in D.INTERNAL_NAMES if os.path.lexists(out / n))


def assert_holds_run(out: Path, reference: Path, users: dict[str, tuple], what: str) -> None:
    """``out`` holds exactly the run in ``reference`` (byte for byte, provenance apart from its
    volatile fields), every file with the digest its own provenance.json records, no staging
    or swap leftovers, and the user's files untouched."""
    assert internal_leftovers(out) == [], what
    assert differences(out, reference) == [f"extra {n}" for n in sorted(USER_FILES)], what
    record = json.loads((out / O.PROVENANCE).read_text())
    files = {n: p for n, p in folder_files(out).items() if n not in USER_FILES}
    assert set(files) == set(record["Outputs"]) | {O.PROVENANCE}, what
    for name, digest in record["Outputs"].items():
        assert D.sha256_bytes(files[name].read_bytes()) == digest, (what, name)
    assert user_identities(out) == users, what


def visible_files(out: Path) -> dict[str, Path]:
    """The files of OUTPUT_DIR outside the staging and swap folders."""
    return {n: p for n, p in folder_files(out).items() if n.split("/")[0] not in D.INTERNAL_NAMES}


def outside_snapshot(top: Path, out: Path) -> dict[str, tuple]:
    """Every entry below ``top`` except OUTPUT_DIR's content, with size and mtime."""
    found = {}
    for path in sorted(top.rglob("*")):
        if path == out or out in path.parents:
            continue
        info = os.lstat(path)
        found[path.relative_to(top).as_posix()] = (info.st_size, info.st_mtime_ns)
    return found


def args(spec: Path, out: Path, *extra: str) -> list[str]:
    return [str(spec), str(out), "--n-jobs", "1", "-q", *extra]


@pytest.fixture
def scratch_tmpdir(tmp_path, monkeypatch):
    """TMPDIR for the runs: an empty folder that must stay empty (nothing is staged there)."""
    import tempfile

    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


# --------------------------------------------------------------------------- a full disk


def _mount_tmpfs(where: Path, size_kib: int) -> None:
    if os.geteuid() != 0:
        skip_or_fail("a full disk is simulated with a small tmpfs, which needs root",
                     "run the tests as root (the CI container does)")
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        where.rmdir()
        skip_or_fail(f"cannot mount a tmpfs: {proc.stderr.strip()}", "run where 'mount -t tmpfs' works")


def _pages(folder: Path) -> int:
    """The KiB ``folder``'s files take on a tmpfs (whole 4 KiB pages, one per folder too)."""
    total = 0
    for path in folder.rglob("*"):
        total += 4 if path.is_dir() else -(-path.stat().st_size // 4096) * 4
    return total


def test_full_disk_during_overwrite_keeps_run_a(small_spec, small_reference, spec_b, reference_b, tmp_path,
                                               scratch_tmpdir, capsys):
    """A tmpfs with room for run A, the user's files and half of run B: the --overwrite runs
    out of space while it writes B; exit 73 names the file, and every file of A is there with
    the digest A's provenance recorded, no file of B, nothing outside OUTPUT_DIR; --verify
    then passes on A."""
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, _pages(small_reference) + 16 + _pages(reference_b) // 2)
    try:
        out = disk / "out"
        users = make_run_a(small_reference, out)
        before = outside_snapshot(tmp_path, out)
        code = main(args(spec_b, out, "--overwrite"))
        err = capsys.readouterr().err
        assert code == 73, err
        assert "Cannot write" in err and "No space left on device" in err and "Traceback" not in err
        assert "earlier run in the output folder is unchanged" in err
        assert_holds_run(out, small_reference, users, "full disk")
        b_only = {D.sha256_bytes(p.read_bytes()) for p in folder_files(reference_b).values()} - {
            D.sha256_bytes(p.read_bytes()) for p in folder_files(small_reference).values()}
        assert not b_only & {D.sha256_bytes(p.read_bytes()) for p in folder_files(out).values()}
        assert outside_snapshot(tmp_path, out) == before
        assert list(scratch_tmpdir.iterdir()) == []
        # The earlier run is valid: --verify re-runs it (in TMPDIR, on the real disk) and agrees.
        assert main(["--verify", str(out), "--n-jobs", "1", "-q"]) == 0
        assert "verified: all" in capsys.readouterr().out
        assert_holds_run(out, small_reference, users, "after --verify")
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def _failing_writes(k: int, phase: str):
    """An ``events`` hook that fails the k-th write (or swap move) as a full disk would."""
    def hook(n: int, at: str) -> None:
        if n == k and at == phase:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return hook


@pytest.mark.parametrize("k, phase", [(1, "before-rename"), (12, "before-rename"), (0, "swap-start"),
                                      (1, "swap"), (30, "swap")])
def test_write_or_move_failing_during_overwrite_keeps_run_a(k, phase, small_reference, spec_b, tmp_path,
                                                            scratch_tmpdir, monkeypatch, capsys):
    """A failing write while B is staged, and a failing move during the swap (A's
    provenance.json already moved aside at move 1; half of B moved in at move 30): the swap
    moves everything back. Exit 73, A whole, nothing outside OUTPUT_DIR."""
    out = tmp_path / "out"
    users = make_run_a(small_reference, out)
    before = outside_snapshot(tmp_path, out)
    monkeypatch.setattr(D, "OutputFolder", folder_with_events(_failing_writes(k, phase)))
    assert main(args(spec_b, out, "--overwrite")) == 73
    err = capsys.readouterr().err
    assert "No space left on device" in err and "earlier run in the output folder is unchanged" in err
    assert "Traceback" not in err
    assert_holds_run(out, small_reference, users, f"{k}:{phase}")
    assert outside_snapshot(tmp_path, out) == before
    assert list(scratch_tmpdir.iterdir()) == []


# --------------------------------------------------------------------------- interruptions


def test_sigterm_before_the_swap_keeps_a_and_during_it_completes_b(small_spec, small_reference, spec_b,
                                                                  reference_b, tmp_path, monkeypatch, capsys):
    """SIGTERM while B is staged (even after B's provenance.json is in the staging folder):
    exit 75, A whole. SIGTERM during the swap: the swap finishes and the run ends with 0, B whole."""
    out = tmp_path / "out"
    n_writes = len(folder_files(reference_b))
    for k, phase in [(3, "after-rename"), (n_writes, "after-rename")]:
        users = make_run_a(small_reference, out)
        with monkeypatch.context() as patched:
            patched.setattr(D, "OutputFolder", folder_with_events(kill_hook(k, "TERM", phase)))
            assert main(args(spec_b, out, "--overwrite")) == 75
        err = capsys.readouterr().err
        assert "stopped by signal SIGTERM" in err and "earlier run in the output folder is unchanged" in err
        assert_holds_run(out, small_reference, users, f"TERM {k}:{phase}")
    for k in (0, 20):
        users = make_run_a(small_reference, out)
        phase = "swap-start" if k == 0 else "swap"
        with monkeypatch.context() as patched:
            patched.setattr(D, "OutputFolder", folder_with_events(kill_hook(k, "TERM", phase)))
            assert main(args(spec_b, out, "--overwrite")) == 0
        assert_holds_run(out, reference_b, users, f"TERM {k}:{phase}")


def overwrite_kill_points(n_writes: int, n_old: int) -> list[tuple[int, str]]:
    """Every write of B (phases alternating), then moments of the swap: the journal written,
    A's provenance.json moved aside, half and all of A moved aside, B's first file, half of
    B, all but B's provenance.json, all of B, and the journal removed."""
    points = [(k, "before-rename" if k % 2 else "after-rename") for k in range(1, n_writes + 1)]
    points.append((n_writes, "before-rename" if n_writes % 2 == 0 else "after-rename"))
    n_all = n_old + n_writes
    points += [(0, "swap-start"), (1, "swap"), (n_old // 2, "swap"), (n_old, "swap"), (n_old + 1, "swap"),
               (n_old + n_writes // 2, "swap"), (n_all - 1, "swap"), (n_all, "swap"), (0, "swap-end")]
    return points


@pytest.mark.slow
def test_sigkill_at_every_moment_of_an_overwrite_leaves_a_or_b(small_spec, small_reference, spec_b, reference_b,
                                                               tmp_path, capsys):
    """SIGKILL of an --overwrite by B of run A at every write of B and at moments of the swap
    (a forked child, so nothing can clean up). Before the swap began, the folder still holds
    A, exactly; once it began (its journal is written), every file of A and of B is still on
    disk with its digest. The next ale-app invocation on the folder (here: run A again without
    --overwrite, refused with 73) first finishes the job: the folder then holds A, or B, each
    with its provenance, and nothing else has changed."""
    out = tmp_path / "out"
    n_writes = len(folder_files(reference_b))
    n_old = len(folder_files(small_reference))
    points = overwrite_kill_points(n_writes, n_old)
    assert len(points) > n_writes + 8
    digests = {run: {n: D.sha256_bytes(p.read_bytes()) for n, p in folder_files(ref).items()}
               for run, ref in (("A", small_reference), ("B", reference_b))}
    outcomes = {}
    for k, phase in points:
        what = f"KILL {k}:{phase}"
        users = make_run_a(small_reference, out)
        before = outside_snapshot(tmp_path, out)
        pid = fork_main(args(spec_b, out, "--overwrite"), kill_hook(k, "KILL", phase))
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, what
        assert outside_snapshot(tmp_path, out) == before, what
        swapping = (out / D.JOURNAL).exists()
        if not phase.startswith("swap"):
            assert not swapping, what
            # While B is staged, the folder (apart from the hidden staging folder) is A.
            shown = {n: D.sha256_bytes(p.read_bytes()) for n, p in visible_files(out).items() if n not in USER_FILES}
            assert shown == digests["A"], what
        if swapping:
            # Nothing is lost mid-swap: each file of A and of B is in one of its places.
            for run, places in (("A", ["", D.PREVIOUS]), ("B", ["", D.STAGING])):
                reference = small_reference if run == "A" else reference_b
                for name, digest in digests[run].items():
                    here = [out / p / name for p in places if (out / p / name).is_file()]
                    if name == O.PROVENANCE:  # B's own, which differs from the reference's in timing fields
                        ref = stable_provenance(reference / name)
                        found = [{k for k in set(ref) | set(r) if r.get(k) != ref.get(k)}
                                 for r in map(stable_provenance, here)]
                        assert set() in found, (what, run, found)
                    else:
                        assert any(D.sha256_bytes(h.read_bytes()) == digest for h in here), (what, run, name)
        expected = "B" if swapping or phase == "swap-end" else "A"
        outcomes[(k, phase)] = expected
        # The next invocation on the folder completes or discards, then refuses (A's spec, no --overwrite).
        assert main(args(small_spec, out)) == 73, what
        assert "already holds an ale-app run" in capsys.readouterr().err, what
        assert_holds_run(out, reference_b if expected == "B" else small_reference, users, what)
    # Both outcomes occurred, each where it should: B once the journal was written.
    assert outcomes[(n_writes, "after-rename")] == "A" and outcomes[(0, "swap-start")] == "B"
    assert set(outcomes.values()) == {"A", "B"}


@pytest.mark.slow
def test_verify_completes_an_overwrite_killed_mid_swap(small_reference, spec_b, reference_b, tmp_path, capsys):
    """--verify on a folder whose --overwrite was killed half-way through the swap completes
    the swap first, then verifies run B."""
    out = tmp_path / "out"
    users = make_run_a(small_reference, out)
    n_old = len(folder_files(small_reference))
    pid = fork_main(args(spec_b, out, "--overwrite"), kill_hook(n_old + 3, "KILL", "swap"))
    os.waitpid(pid, 0)
    assert (out / D.JOURNAL).exists() and not (out / O.PROVENANCE).exists()
    assert main(["--verify", str(out), "--n-jobs", "1", "-q"]) == 0
    assert "verified: all" in capsys.readouterr().out
    assert_holds_run(out, reference_b, users, "verify after a kill mid-swap")


# --------------------------------------------------------------------------- links and leftovers


def test_overwrite_refuses_a_link_at_the_staging_folder(small_reference, spec_b, tmp_path, capsys):
    """A symbolic link planted where the staging folder goes is refused (73), never followed
    or removed; run A and the link's target are untouched."""
    out = tmp_path / "out"
    users = make_run_a(small_reference, out)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    (out / D.STAGING).symlink_to(elsewhere)
    assert main(args(spec_b, out, "--overwrite")) == 73
    assert "symbolic link" in capsys.readouterr().err
    assert [p.name for p in elsewhere.iterdir()] == ["keep.txt"]
    assert (out / D.STAGING).is_symlink()
    (out / D.STAGING).unlink()
    assert_holds_run(out, small_reference, users, "link at the staging folder")
