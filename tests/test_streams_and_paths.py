"""Standard streams and paths a careless or hostile shell hands ale-app (issue #26, the
smaller ones), through the real command line.

- a closed stdout or stderr (``>&-``, ``2>&-``) or a full stderr: the run completes, exit 0,
  the folder whole;
- stdout into /dev/full or closed, for every mode that prints: exit 74 and one message on
  stderr; a reader that stops early (``| head``) is not an error;
- a spec path that is a FIFO, a device or a folder says what it is (65, 65, 66), at once;
- an OUTPUT_DIR with a name longer than the file system allows: 73, nothing created;
- an input or a spec under a folder the user cannot enter: 66, nothing written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ale_app.cli import main
from ale_app.errors import ExitCode
from conftest import ale_app_command, offline, skip_or_fail, write_small_spec

LONG = "a" * 300
STDOUT_MESSAGE = "ale-app: error: Cannot write to standard output"

#: Closed-form jackknife on 3 experiments, one figure format: the quickest complete run.
QUICK_SPEC = """\
spec_version: 1
title: Quick
input:
  path: studyset.json
  select:
    first: 3
ale:
  kernel_fwhm: 10
jackknife:
  method: {method}
  cluster_threshold_mm3: 200
figures:
  formats: [png]
  dpi: 50
"""


def quick_spec(folder: Path, method: str = "closed-form") -> Path:
    spec = write_small_spec(folder)
    spec.write_text(QUICK_SPEC.format(method=method))
    return spec


def run_cli(args: list[str], timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """ale-app as a subprocess (offline); ``kwargs`` go to ``subprocess.run``."""
    cmd, env = offline([*ale_app_command(), *args], {**os.environ, "PYTHONWARNINGS": "ignore"})
    return subprocess.run(cmd, env=env, timeout=timeout, **kwargs)


def close_fd(fd: int):
    """A ``preexec_fn`` that closes ``fd`` in the child, as the shell's ``>&-`` does."""
    return lambda: os.close(fd)


def assert_complete(out: Path) -> None:
    """Every output provenance.json lists is there with the digest it recorded, and nothing else."""
    record = json.loads((out / "provenance.json").read_text())
    for name, digest in record["Outputs"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert on_disk - set(record["Outputs"]) <= {"provenance.json", ".ale-app.lock"}, on_disk


# --------------------------------------------------------------------------- closed streams


@pytest.mark.slow
@pytest.mark.parametrize("stream", ["stdout closed", "stderr closed", "stderr full"])
def test_run_completes_with_a_closed_or_full_stream(tmp_path, stream):
    """The refit jackknife (worker processes that inherit the streams) and every file: exit 0
    and the folder whole, whatever became of stdout or stderr."""
    spec = quick_spec(tmp_path / "in", method="refit")
    out = tmp_path / "out"
    kwargs = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    if stream == "stdout closed":
        kwargs["preexec_fn"] = close_fd(1)
        del kwargs["stdout"]
    elif stream == "stderr closed":
        kwargs["preexec_fn"] = close_fd(2)
        del kwargs["stderr"]
    else:
        kwargs["stderr"] = open(os.devnull if not Path("/dev/full").exists() else "/dev/full", "wb")  # noqa: SIM115
    try:
        proc = run_cli([str(spec), str(out), "--n-jobs", "2"], **kwargs)
    finally:
        if stream == "stderr full":
            kwargs["stderr"].close()
    assert proc.returncode == 0, (proc.stderr or b"").decode(errors="replace")[-3000:]
    assert_complete(out)
    if stream == "stderr closed":
        assert proc.stdout == b""


@pytest.mark.parametrize("args", [["--print-schema"], ["--print-descriptor"], ["--version"], ["--help"],
                                  ["--list-examples"], ["--validate-only", "example:pain-qualitative"]])
def test_stdout_full_or_closed_is_exit_74(tmp_path, args):
    """What a mode prints cannot be written: exit 74, one message on stderr, no traceback."""
    if not Path("/dev/full").exists():
        skip_or_fail("/dev/full does not exist here")
    with open("/dev/full", "wb") as full:
        to_full = run_cli(args, stdout=full, stderr=subprocess.PIPE, timeout=300)
    closed = run_cli(args, stderr=subprocess.PIPE, preexec_fn=close_fd(1), timeout=300)
    for proc, why in ((to_full, "No space left on device"), (closed, "it was closed")):
        err = proc.stderr.decode()
        assert proc.returncode == ExitCode.STDOUT_NOT_WRITABLE == 74, err
        assert err.count("ale-app: error:") == 1 and STDOUT_MESSAGE in err and why in err, err
        assert "hint:" in err and "Traceback" not in err, err


@pytest.mark.parametrize("args", [["--print-schema"], ["--help"]])
def test_reader_that_stops_early_is_not_an_error(args):
    """``ale-app --print-schema | head -c 10``: exit 0, nothing on stderr."""
    cmd, env = offline([*ale_app_command(), *args])
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.read(10)
    proc.stdout.close()  # the reader is gone
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert first and err == b""


def test_full_stdout_keeps_an_earlier_error_code(tmp_path):
    """A failing command whose stdout is full keeps its own exit code and message."""
    with open("/dev/full", "wb") as full:
        proc = run_cli(["--validate-only", str(tmp_path / "absent.yaml")], stdout=full, stderr=subprocess.PIPE)
    assert proc.returncode == 66 and b"does not exist" in proc.stderr and STDOUT_MESSAGE.encode() not in proc.stderr


# --------------------------------------------------------------------------- the spec path


def test_spec_path_that_is_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    start = time.monotonic()
    proc = run_cli([str(fifo), str(tmp_path / "out")], stderr=subprocess.PIPE, timeout=120)
    err = proc.stderr.decode()
    assert proc.returncode == 65, err
    assert "is not a regular file (a pipe (FIFO)" in err and "does not exist" not in err, err
    assert time.monotonic() - start < 60 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind, code, words", [("folder", 66, "is a folder, not a spec file"),
                                               ("device", 65, "is not a regular file (a character device"),
                                               ("missing", 66, "does not exist"),
                                               ("long name", 66, "cannot be reached: File name too long")])
def test_spec_path_says_what_it_is(tmp_path, capsys, kind, code, words):
    path = {"folder": tmp_path, "device": Path("/dev/zero"), "missing": tmp_path / "absent.yaml",
            "long name": tmp_path / f"{LONG}.yaml"}[kind]
    out = tmp_path / "out"
    assert main([str(path), str(out), "-q"]) == code
    err = capsys.readouterr().err
    assert words in err and err.count("ale-app: error:") == 1 and "hint:" in err, err
    assert not out.exists()


# --------------------------------------------------------------------------- OUTPUT_DIR


@pytest.mark.parametrize("shape", ["{long}", "{long}/x", "new/{long}/x", "existing/{long}"])
def test_output_dir_with_a_name_too_long_is_73(tmp_path, capsys, shape):
    spec = quick_spec(tmp_path / "in")
    (tmp_path / "existing").mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code = main([str(spec), shape.format(long=LONG), "-q"])
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert code == ExitCode.OUTPUT_NOT_WRITABLE == 73, err
    assert "a name in its path is 300 bytes long" in err and "at most 255 bytes" in err, err
    assert err.count("ale-app: error:") == 1 and "hint:" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing created


# --------------------------------------------------------------------------- folders the user cannot enter


def without_dac_override(probe_dir: Path) -> list[str]:
    """A command prefix under which this user cannot enter ``probe_dir`` (mode 000), as an
    ordinary user could not: none when not root; as root (CI's case), ``setpriv`` drops the
    capabilities that let root through any folder (the interpreter stays reachable, unlike
    a switch to an unprivileged user when it lives under /root). Skipped (failed in CI) when
    neither works."""
    prefix = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            skip_or_fail("setpriv (util-linux) is not installed: root cannot be kept out of a folder")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    cmd, env = offline([*prefix, "ls", str(probe_dir)])
    probe = subprocess.run(cmd, env=env, capture_output=True)
    if probe.returncode == 0:
        skip_or_fail(f"cannot keep this process out of a folder with mode 000 ({' '.join(prefix) or 'no prefix'})")
    return prefix


@pytest.mark.parametrize("mode", ["--validate-only", "run"])
def test_input_under_a_folder_the_user_cannot_enter_is_66(tmp_path, mode):
    spec = quick_spec(tmp_path / "in")
    locked = tmp_path / "in" / "locked"
    locked.mkdir()
    shutil.move(spec.parent / "studyset.json", locked / "studyset.json")
    spec.write_text(spec.read_text().replace("path: studyset.json", "path: locked/studyset.json"))
    out = tmp_path / "out"
    locked.chmod(0)
    try:
        prefix = without_dac_override(locked)
        args = [str(spec), str(out)] + (["--validate-only"] if mode == "--validate-only" else ["--n-jobs", "1"])
        cmd, env = offline([*prefix, *ale_app_command(), *args], {**os.environ, "PYTHONWARNINGS": "ignore"})
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    finally:
        locked.chmod(0o755)
    assert proc.returncode == ExitCode.MISSING_INPUT == 66, proc.stderr
    assert "The input file 'locked/studyset.json' cannot be reached" in proc.stderr, proc.stderr
    assert "Permission denied" in proc.stderr and "hint:" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == "" and not out.exists()


def test_spec_under_a_folder_the_user_cannot_enter_is_66(tmp_path):
    spec = quick_spec(tmp_path / "in")
    locked = tmp_path / "in"
    out = tmp_path / "out"
    locked.chmod(0)
    try:
        prefix = without_dac_override(locked)
        cmd, env = offline([*prefix, *ale_app_command(), str(spec), str(out)])
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    finally:
        locked.chmod(0o755)
    assert proc.returncode == 66, proc.stderr
    assert f"The spec file {str(spec)!r} cannot be reached: Permission denied" in proc.stderr, proc.stderr
    assert not out.exists()


def test_output_dir_under_a_folder_the_user_cannot_enter_is_73(tmp_path):
    spec = quick_spec(tmp_path / "in")
    locked = tmp_path / "locked"
    locked.mkdir()
    out = locked / "out"
    locked.chmod(0)
    try:
        prefix = without_dac_override(locked)
        cmd, env = offline([*prefix, *ale_app_command(), str(spec), str(out)])
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    finally:
        locked.chmod(0o755)
    assert proc.returncode == ExitCode.OUTPUT_NOT_WRITABLE, proc.stderr
    assert f"The output folder {str(out)!r} cannot be reached: Permission denied" in proc.stderr, proc.stderr
    assert "hint:" in proc.stderr and "Traceback" not in proc.stderr
    assert list(locked.iterdir()) == []
