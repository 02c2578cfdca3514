"""Every file ale-app reads goes through one bounded, regular-files-only opener
(:mod:`ale_app.files`), and a reader decides quickly whether a file is what its format says.

Through the command line: a pipe (FIFO), a link to ``/dev/zero`` or ``/dev/urandom``, and a
file above its limit, in the place of ``provenance.json``, ``spec.json``, a recorded input,
a derivative, the spec and the input of a run. Each case checks the exit code, the message,
a generous time bound (30 s), that nothing is written outside OUTPUT_DIR (``TMPDIR`` is a
folder of the test, left empty) and that nothing in the folders is lost or changed. SIGINT
while ``--verify`` hashes a large input ends it with 75.

And the checks of an input: a Sleuth file of 20,000 foci with decimal commas and 100 MB
of random text after a valid first line are refused within seconds, and collecting problems
takes time in proportion to their number.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from ale_app.cli import main
from ale_app.errors import ExitCode
from ale_app.files import INPUT_LIMIT, OUTPUT_LIMIT, RECORD_LIMIT
from ale_app.outputs import registry as O

from conftest import ale_app_command, offline, write_small_spec

#: Generous: every refusal here is immediate; the bound only catches a hang or a slow path.
BOUND_S = 30.0


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """A finished small run; tests copy it before changing anything."""
    spec = write_small_spec(tmp_path_factory.mktemp("bounded") / "archive")
    out = spec.parent / "out"
    assert main([str(spec), str(out), "--n-jobs", "1", "-q"]) == 0
    return out


def _copy(archive: Path, tmp_path: Path) -> Path:
    """A copy of the archive and its input, whose record names the copy's spec folder (so
    that --verify reads the copy's input, not the original's)."""
    target = tmp_path / "archive"
    shutil.copytree(archive.parent, target)
    record = json.loads((target / "out" / O.PROVENANCE).read_text())
    assert record["Spec"]["Folder"] == str(archive.parent)
    record["Spec"]["Folder"] = str(target)
    (target / "out" / O.PROVENANCE).write_text(json.dumps(record, indent=2))
    return target / "out"


def _snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root``: its kind, a link's target, a regular file's digest (size and
    modification time for a large one). Pipes and devices are never opened."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = os.lstat(path)
            key = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                found[key] = "link -> " + os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                found[key] = (hashlib.sha256(path.read_bytes()).hexdigest() if st.st_size < 1 << 24
                              else f"{st.st_size} bytes, {st.st_mtime_ns}")
            else:
                found[key] = stat.filemode(st.st_mode)[0]
    return found


def _make(path: Path, kind: str, limit: int) -> None:
    """Put a pipe, a link to a device, or a sparse file one byte above ``limit`` at ``path``."""
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind in ("zero", "urandom"):
        path.symlink_to(f"/dev/{kind}")
    else:
        with open(path, "wb") as fh:
            fh.truncate(limit + 1)


#: What the message says for each kind.
SAYS = {"fifo": "not a regular file (a pipe (FIFO)", "zero": "not a regular file (a character device",
        "urandom": "not a regular file (a character device", "big": "larger than the"}


def _cli(args: list[str], root: Path, timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    """Run ale-app offline with TMPDIR inside ``root``; return the process and its seconds."""
    tmpdir = root / "tmpdir"
    tmpdir.mkdir(exist_ok=True)
    cmd, env = offline([*ale_app_command(), *args], {**os.environ, "TMPDIR": str(tmpdir)})
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return proc, time.monotonic() - start


def _check_nothing_changed(root: Path, before: dict, proc) -> None:
    after = _snapshot(root)
    assert after == before, proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- --verify


@pytest.mark.parametrize("record", [O.PROVENANCE, O.SPEC_JSON])
@pytest.mark.parametrize("kind", ["fifo", "zero", "urandom", "big"])
def test_verify_refuses_a_record_that_is_no_regular_file_or_too_large(archive, tmp_path, record, kind):
    """provenance.json or spec.json: nothing to verify against (exit 66), at once."""
    out = _copy(archive, tmp_path)
    _make(out / record, kind, RECORD_LIMIT)
    before = _snapshot(tmp_path)
    proc, seconds = _cli(["--verify", str(out), "--n-jobs", "1"], tmp_path)
    assert proc.returncode == ExitCode.MISSING_INPUT == 66, proc.stderr
    assert seconds < BOUND_S
    assert f"Cannot read {out / record}: it is {SAYS[kind]}" in proc.stderr
    assert "restore it from the archive" in proc.stderr
    _check_nothing_changed(tmp_path, before | {"tmpdir": "d"}, proc)


@pytest.mark.parametrize("kind", ["fifo", "zero", "urandom", "big"])
def test_verify_reports_a_recorded_input_that_is_no_regular_file_or_too_large(archive, tmp_path, kind):
    """The recorded input replaced: a changed input (exit 3), named with why; no re-run."""
    out = _copy(archive, tmp_path)
    _make(out.parent / "studyset.json", kind, INPUT_LIMIT)
    before = _snapshot(tmp_path)
    proc, seconds = _cli(["--verify", str(out), "--n-jobs", "1"], tmp_path)
    assert proc.returncode == ExitCode.VERIFY_DIFFERS == 3, proc.stderr
    assert seconds < BOUND_S
    assert f"input studyset.json: changed: {SAYS[kind]}" in proc.stdout
    assert "the analysis was not re-run" in proc.stderr
    _check_nothing_changed(tmp_path, before | {"tmpdir": "d"}, proc)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["fifo", "big"])
def test_verify_reports_a_derivative_that_is_no_regular_file_or_too_large(archive, tmp_path, kind):
    """A derivative replaced by a pipe, or grown past the limit: a tampered record (exit 3)."""
    out = _copy(archive, tmp_path)
    _make(out / O.STATMAP, kind, OUTPUT_LIMIT)
    before = _snapshot(tmp_path)
    proc, seconds = _cli(["--verify", str(out), "--n-jobs", "1"], tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert seconds < 120  # the re-run of the small analysis included
    assert f"record: {O.STATMAP}: {SAYS[kind]}" in proc.stdout
    _check_nothing_changed(tmp_path, before | {"tmpdir": "d"}, proc)


def _opened(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def test_sigint_while_verify_hashes_a_large_input_ends_with_75(archive, tmp_path):
    """A recorded input of exactly the limit (1 GiB, sparse) takes seconds to hash: SIGINT
    sent once the file is open is answered (exit 75), not after the hash."""
    out = _copy(archive, tmp_path)
    big = out.parent / "studyset.json"
    big.unlink()
    with open(big, "wb") as fh:
        fh.truncate(INPUT_LIMIT)
    before = _snapshot(tmp_path)
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    cmd, env = offline([*ale_app_command(), "--verify", str(out), "--n-jobs", "1"],
                       {**os.environ, "TMPDIR": str(tmpdir)})
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        give_up = time.monotonic() + 120  # a guard against a hang
        while proc.poll() is None and not _opened(proc.pid, big):
            assert time.monotonic() < give_up, "the input was never opened"
            time.sleep(0.002)
        assert proc.poll() is None, "finished before the input was opened"
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=BOUND_S)
        answered = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == ExitCode.INTERRUPTED == 75, stderr
    assert "interrupted" in stderr or "SIGINT" in stderr
    assert answered < 5.0, answered  # hashing the whole GiB takes longer on this machine's disk
    assert _snapshot(tmp_path) == before | {"tmpdir": "d"}


# --------------------------------------------------------------------------- a run


def _spec_text(input_name: str) -> str:
    return f"spec_version: 1\ninput:\n  path: {input_name}\n  select:\n    first: 3\n"


@pytest.mark.parametrize("kind", ["fifo", "zero", "urandom", "big"])
def test_a_run_refuses_a_spec_that_is_no_regular_file_or_too_large(tmp_path, kind):
    spec = tmp_path / "spec.yaml"
    _make(spec, kind, RECORD_LIMIT)
    out = tmp_path / "out"
    before = _snapshot(tmp_path)
    proc, seconds = _cli([str(spec), str(out)], tmp_path)
    assert proc.returncode == ExitCode.INVALID_DATA == 65, proc.stderr
    assert seconds < BOUND_S
    assert f"The spec file {str(spec)!r} is {SAYS[kind]}" in proc.stderr
    assert not out.exists()
    _check_nothing_changed(tmp_path, before | {"tmpdir": "d"}, proc)


@pytest.mark.parametrize("kind", ["fifo", "zero", "urandom", "big"])
def test_a_run_refuses_an_input_that_is_no_regular_file_or_too_large(tmp_path, kind):
    (tmp_path / "spec.yaml").write_text(_spec_text("studyset.json"))
    _make(tmp_path / "studyset.json", kind, INPUT_LIMIT)
    out = tmp_path / "out"
    before = _snapshot(tmp_path)
    proc, seconds = _cli([str(tmp_path / "spec.yaml"), str(out)], tmp_path)
    assert proc.returncode == 65, proc.stderr
    assert seconds < BOUND_S
    assert f"The input file {str(tmp_path / 'studyset.json')!r} is {SAYS[kind]}" in proc.stderr
    after = {k: v for k, v in _snapshot(tmp_path).items() if not k.startswith("out")}
    assert after == before | {"tmpdir": "d"}
    assert not out.exists() or not list(out.glob("*.nii.gz"))


def test_a_run_does_not_wait_on_a_pipe_in_place_of_its_folders_records(tmp_path):
    """dataset_description.json a pipe in OUTPUT_DIR: not ale-app's folder (exit 73), at once."""
    from nimare.utils import get_resource_path

    shutil.copyfile(Path(get_resource_path()) / "nidm_pain_studyset.json", tmp_path / "studyset.json")
    (tmp_path / "spec.yaml").write_text(_spec_text("studyset.json"))
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / O.DATASET_DESCRIPTION)
    before = _snapshot(tmp_path)
    proc, seconds = _cli([str(tmp_path / "spec.yaml"), str(out), "--overwrite"], tmp_path)
    assert proc.returncode == ExitCode.OUTPUT_NOT_WRITABLE == 73, proc.stderr
    assert seconds < BOUND_S
    _check_nothing_changed(tmp_path, before | {"tmpdir": "d"}, proc)


# --------------------------------------------------------------------------- early stopping


def _decimal_comma_sleuth(path: Path, n_experiments: int = 200, foci_each: int = 100) -> int:
    lines = ["// Reference=MNI"]
    for e in range(n_experiments):
        lines += [f"// Study{e} 2010: faces", "// Subjects=12"]
        lines += [f"{f},5\t-{e},5\t3,25" for f in range(foci_each)]
    path.write_text("\n".join(lines) + "\n")
    return n_experiments * foci_each


def test_twenty_thousand_decimal_comma_foci_are_refused_within_seconds(tmp_path):
    assert _decimal_comma_sleuth(tmp_path / "foci.txt") == 20_000
    (tmp_path / "spec.yaml").write_text("spec_version: 1\ninput:\n  path: foci.txt\n")
    before = _snapshot(tmp_path)
    proc, seconds = _cli([str(tmp_path / "spec.yaml"), str(tmp_path / "out"), "--validate-only"], tmp_path)
    assert proc.returncode == 65, proc.stderr
    assert seconds < BOUND_S, seconds
    assert "line 4: '0,5' is not a number" in proc.stderr
    assert "... and 150 more, not listed" in proc.stderr
    assert "Reading stopped at line 206 of 20402 after 200 problems" in proc.stderr
    assert "decimal separator" in proc.stderr
    _check_nothing_changed(tmp_path, before | {"tmpdir": "d"}, proc)


@pytest.mark.parametrize("first", ["study_id\tx\ty\tz\tspace\tsample_size\n",
                                   "// Reference=MNI\n// Kim 2010: faces\n// Subjects=10\n",
                                   "// Reference=MNI\n"], ids=["table", "sleuth-experiment", "sleuth"])
def test_a_hundred_megabytes_of_random_text_after_a_valid_first_line_are_refused_within_seconds(tmp_path, first):
    alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \t,.;:-"
    table = bytes(alphabet[i % len(alphabet)] for i in range(256))
    name = "random.tsv" if first.startswith("study_id") else "random.txt"
    with open(tmp_path / name, "wb") as fh:
        fh.write(first.encode())
        for _ in range(100):
            block = bytearray(os.urandom(1 << 20).translate(table))
            block[63::64] = b"\n" * len(block[63::64])
            fh.write(block)
    (tmp_path / "spec.yaml").write_text(f"spec_version: 1\ninput:\n  path: {name}\n")
    proc, seconds = _cli([str(tmp_path / "spec.yaml"), str(tmp_path / "out"), "--validate-only"], tmp_path)
    assert proc.returncode == 65, proc.stderr
    assert seconds < BOUND_S, seconds
    assert "Reading stopped at line" in proc.stderr, proc.stderr[-2000:]
    if first == "// Reference=MNI\n":  # the foci no name line names: one problem, then the stop
        assert "before any experiment name line (and 99999 more foci, up to line 100001)" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_problem_collection_is_linear_in_the_number_of_problems(monkeypatch):
    """Adding n distinct problems compares no problem with the earlier ones (the old list
    lookup compared each with every earlier one: n(n-1)/2 comparisons); duplicates still
    collapse to one."""
    from ale_app.inputs import checks as C
    from ale_app.inputs.readers.base import Problem

    compared = []
    real_eq = Problem.__eq__
    monkeypatch.setattr(Problem, "__eq__", lambda self, other: compared.append(1) or real_eq(self, other))
    counts = {}
    for n in (1_000, 2_000):
        compared.clear()
        problems = C.Problems("'x.txt'")
        for i in range(n):
            problems.add(f"'{i},5' is not a number.", "Use a point.", f"line {i + 2}")
            problems.add(f"'{i},5' is not a number.", "Use a point.", f"line {i + 2}")  # the same again
        assert len(problems) == n
        counts[n] = len(compared)
    # Linear: twice the problems, at most twice the comparisons (the quadratic lookup: four times).
    assert counts[2_000] <= 2 * counts[1_000] + 10, counts
    assert counts[1_000] <= 1_000, counts


def test_a_reader_stops_after_enough_problems(tmp_path):
    from ale_app.inputs.readers.base import STOP_AFTER_PROBLEMS
    from ale_app.inputs.readers.sleuth import read_sleuth

    _decimal_comma_sleuth(tmp_path / "foci.txt", n_experiments=50, foci_each=100)
    read = read_sleuth(tmp_path / "foci.txt")
    assert len(read.problems) == STOP_AFTER_PROBLEMS
    assert read.stopped == f"line {STOP_AFTER_PROBLEMS + 6} of {1 + 50 * 102 + 1}"
    assert read.structural  # nothing is checked on the part that was read
