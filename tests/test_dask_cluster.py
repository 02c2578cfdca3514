"""The distributed path (``--parallel-backend dask --dask-scheduler ADDRESS``) through the
command line, against real dask.distributed schedulers and workers that this module starts.

Everything (schedulers, workers, the impostor listeners and ale-app itself) runs on
127.0.0.1 inside one private network namespace (``unshare -rn``, entered with
``nsenter -n``): the runs stay offline, as every command-line test does, and reach only
what the test started there. Every process is killed by the fixture that started it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import OFFLINE_SITE, offline, require, skip_or_fail, write_small_spec

ROOT = Path(__file__).resolve().parents[1]

#: Seconds a CLI run may take beyond the time it is asked to wait: starting Python and
#: reading the spec on a busy 2-core machine.
MARGIN = 25.0

WHY = "the dask backend; pip install 'ale-app[dask]'"


class Namespace:
    """A private network namespace with only a loopback interface (held by a ``sleep``),
    and the processes started in it; :meth:`close` kills them all."""

    def __init__(self, folder: Path):
        for tool in ("unshare", "nsenter", "ip"):
            if shutil.which(tool) is None:
                skip_or_fail(f"{tool} is not installed (the dask tests run in a private network namespace)",
                             "install util-linux and iproute2")
        self.folder = folder
        self.procs: list[subprocess.Popen] = []
        self.holder = subprocess.Popen(["unshare", "-rn", "sh", "-c", "ip link set lo up && exec sleep 3600"],
                                       stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.holder.poll() is not None:
                skip_or_fail(f"cannot make a network namespace: {self.holder.stderr.read().decode().strip()}",
                             "run it where 'unshare -rn' works")
            if Path(f"/proc/{self.holder.pid}/cmdline").read_bytes().startswith(b"sleep"):
                break
            time.sleep(0.05)
        path = [str(ROOT), os.environ.get("PYTHONPATH")]
        # ale-app also loads tests/offline (sockets to other hosts raise); the dask processes
        # bind the wildcard address, which that refuses, and have no network anyway.
        self.env = {**os.environ, "PYTHONWARNINGS": "ignore",
                    "PYTHONPATH": os.pathsep.join(p for p in (str(OFFLINE_SITE), *path) if p)}
        self.service_env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}

    def command(self, cmd: list[str]) -> list[str]:
        return ["nsenter", "-t", str(self.holder.pid), "-U", "-n", "--preserve-credentials", "--", *cmd]

    def start(self, cmd: list[str], name: str) -> tuple[subprocess.Popen, Path]:
        """Start ``cmd`` in the namespace, its output in ``name``.log; killed by :meth:`close`."""
        log = self.folder / f"{name}.log"
        with open(log, "wb") as fh:
            proc = subprocess.Popen(self.command(cmd), stdout=fh, stderr=subprocess.STDOUT,
                                    env=self.env if "ale_app" in cmd else self.service_env)
        self.procs.append(proc)
        return proc, log

    def run_cli(self, args: list[str], timeout: float = 600) -> tuple[subprocess.CompletedProcess, float]:
        start = time.monotonic()
        proc = subprocess.run(self.command([sys.executable, "-m", "ale_app", *args]), capture_output=True,
                              text=True, env=self.env, timeout=timeout)
        return proc, time.monotonic() - start

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.kill()
        proc.wait()

    def close(self) -> None:
        for proc in self.procs:
            self.kill(proc)
        self.kill(self.holder)


def wait_for_line(log: Path, pattern: str, proc: subprocess.Popen, timeout: float = 60) -> re.Match:
    """The first match of ``pattern`` in ``log`` (written by ``proc``), waiting for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log.read_text(errors="replace"))
        if match:
            return match
        assert proc.poll() is None, f"{proc.args} ended (code {proc.returncode}):\n{log.read_text()}"
        time.sleep(0.1)
    raise AssertionError(f"no {pattern!r} in {log} after {timeout} s:\n{log.read_text()}")


def dask_exe() -> str:
    exe = Path(sys.executable).parent / "dask"
    if not exe.exists():
        skip_or_fail(f"the dask command is not installed next to {sys.executable}", "install requirements-test.lock")
    return str(exe)


def start_scheduler(ns: Namespace, name: str) -> str:
    proc, log = ns.start([dask_exe(), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"], name)
    return wait_for_line(log, r"Scheduler at:\s+(tcp://127\.0\.0\.1:\d+)", proc).group(1)


def start_worker(ns: Namespace, scheduler: str, name: str) -> tuple[subprocess.Popen, str]:
    """A one-thread worker (no nanny: a killed worker stays dead); returns it and its address."""
    proc, log = ns.start([dask_exe(), "worker", scheduler, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                          "--host", "127.0.0.1", "--local-directory", str(ns.folder / name)], name)
    address = wait_for_line(log, r"Start worker at:\s+(tcp://127\.0\.0\.1:\d+)", proc).group(1)
    wait_for_line(log, r"Registered to:", proc)
    return proc, address


@pytest.fixture(scope="module")
def ns(tmp_path_factory):
    require("distributed", WHY)
    namespace = Namespace(tmp_path_factory.mktemp("dask-ns"))
    try:
        yield namespace
    finally:
        namespace.close()


@pytest.fixture(scope="module")
def scheduler(ns):
    """A scheduler the workers of each test join (workers are per test)."""
    return start_scheduler(ns, "scheduler")


@pytest.fixture
def two_workers(ns, scheduler, request):
    """Two fresh one-thread workers of ``scheduler``; killed after the test."""
    workers = [start_worker(ns, scheduler, f"{request.node.name}-worker{i}") for i in (1, 2)]
    try:
        yield [proc for proc, _ in workers], [address for _, address in workers]
    finally:
        for proc, _ in workers:
            ns.kill(proc)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return write_small_spec(tmp_path_factory.mktemp("dask-small"))


def _digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file of a run but provenance.json (it records the command and times)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "provenance.json"}


@pytest.fixture(scope="module")
def local_run(small, tmp_path_factory):
    """The small spec run on this machine with one job: what every dask run must equal."""
    from ale_app.cli import main

    out = tmp_path_factory.mktemp("dask-local") / "out"
    assert main([str(small), str(out), "--n-jobs", "1", "-q"]) == 0
    return out


def _no_python_internals(stderr: str) -> None:
    for word in ("Traceback", "MemoryError", "CancelledError", "from distributed import", "Client("):
        assert word not in stderr, stderr


# --------------------------------------------------------------------------- before any network


MALFORMED = ["not a url", "tcp://:::", "http://127.0.0.1:8787", "inproc://x", "ucx://127.0.0.1:8786",
             "tcp://127.0.0.1:99999", "tcp://127.0.0.1", "ftp://127.0.0.1:21", "tcp://[::1:8786"]


@pytest.mark.parametrize("address", MALFORMED)
def test_a_malformed_address_is_a_usage_error(address, tmp_path):
    """Refused before the spec is read or anything connects: exit 64, naming the forms."""
    require("distributed", WHY)
    if address.startswith("ucx://") and importlib.util.find_spec("distributed_ucxx") is not None:
        pytest.skip("UCX is installed here: ucx:// is a valid address")
    out = tmp_path / "out"
    cmd, env = offline([sys.executable, "-m", "ale_app", "example:pain-qualitative", str(out),
                        "--parallel-backend", "dask", "--dask-scheduler", address])
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**env, "PYTHONPATH": f"{env['PYTHONPATH']}{os.pathsep}{ROOT}"},
                          timeout=120)
    seconds = time.monotonic() - start
    assert proc.returncode == 64, proc.stderr
    assert f"--dask-scheduler {address!r}" in proc.stderr
    assert "tcp://HOST:PORT" in proc.stderr  # the accepted forms (or the fix) are named
    assert seconds < MARGIN
    assert not out.exists()
    _no_python_internals(proc.stderr)


# --------------------------------------------------------------------------- peers that are not a scheduler

SILENT = """
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print("port", s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept()
    if sys.argv[1] == "banner":
        c.sendall(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\\r\\n")
    held.append(c)
"""


@pytest.fixture(scope="module")
def impostors(ns):
    """Listeners that are not a dask scheduler: {kind: address}."""
    found = {}
    proc, log = ns.start([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"], "http")
    found["http"] = "tcp://127.0.0.1:" + wait_for_line(log, r"port (\d+)", proc).group(1)
    for kind in ("silent", "banner"):
        proc, log = ns.start([sys.executable, "-u", "-c", SILENT, kind], kind)
        found[kind] = "127.0.0.1:" + wait_for_line(log, r"port (\d+)", proc).group(1)
    return found


@pytest.mark.parametrize("kind, says", [
    ("http", "sent nothing within 5 s"),
    ("silent", "sent nothing within 5 s"),
    ("banner", "something other than dask's protocol (first bytes 'SSH-2.0-OpenSSH_9.6p1"),
])
def test_a_peer_that_is_not_a_scheduler_is_refused_in_time(ns, impostors, kind, says, tmp_path):
    """An HTTP server (the dashboard mistake), a silent listener and a banner: exit 69 within
    the answer timeout, before OUTPUT_DIR is made, naming the dashboard port in the hint."""
    from ale_app.process.dask_cluster import ANSWER_TIMEOUT

    out = tmp_path / "out"
    proc, seconds = ns.run_cli(["example:pain-qualitative", str(out), "--parallel-backend", "dask",
                                "--dask-scheduler", impostors[kind]], timeout=ANSWER_TIMEOUT + 3 * MARGIN)
    assert proc.returncode == 69, proc.stderr
    assert says in proc.stderr
    assert "8787" in proc.stderr and "Scheduler at:" in proc.stderr
    assert seconds < ANSWER_TIMEOUT + MARGIN
    assert not out.exists()
    _no_python_internals(proc.stderr)


def test_a_worker_address_is_not_the_scheduler(ns, two_workers, tmp_path):
    _, addresses = two_workers
    proc, _ = ns.run_cli(["example:pain-qualitative", str(tmp_path / "out"), "--parallel-backend", "dask",
                          "--dask-scheduler", addresses[0]])
    assert proc.returncode == 69, proc.stderr
    assert "a dask Worker answers there, not the scheduler" in proc.stderr
    _no_python_internals(proc.stderr)


def test_nothing_listening_is_refused(ns, tmp_path):
    proc, _ = ns.run_cli(["example:pain-qualitative", str(tmp_path / "out"), "--parallel-backend", "dask",
                          "--dask-scheduler", "tcp://127.0.0.1:1"])
    assert proc.returncode == 69, proc.stderr
    assert "nothing listens on port 1 of 127.0.0.1" in proc.stderr


# --------------------------------------------------------------------------- workers


def test_a_scheduler_without_workers_is_waited_for_then_refused(ns, small, tmp_path):
    """Progress while waiting, then exit 69 telling the user how to start a worker."""
    lonely = start_scheduler(ns, "lonely-scheduler")
    out = tmp_path / "out"
    proc, seconds = ns.run_cli([str(small), str(out), "--parallel-backend", "dask", "--dask-scheduler", lonely,
                                "--dask-wait", "3"])
    assert proc.returncode == 69, proc.stderr
    assert f"Waiting for a dask worker to join the scheduler at {lonely}" in proc.stderr
    assert "it has no workers, and none joined within 3 s (--dask-wait)" in proc.stderr
    assert f"'dask worker {lonely}'" in proc.stderr
    assert 3 <= seconds < 3 + MARGIN
    assert not out.exists()
    _no_python_internals(proc.stderr)


@pytest.mark.slow
def test_dask_run_equals_the_local_run(ns, scheduler, two_workers, small, local_run, tmp_path):
    """The refit jackknife on two dask workers: every file identical to one local job."""
    out = tmp_path / "out"
    proc, _ = ns.run_cli([str(small), str(out), "--parallel-backend", "dask", "--dask-scheduler", scheduler,
                          "--n-jobs", "2"])
    assert proc.returncode == 0, proc.stderr
    assert f"leave-one-out refits on 2 jobs on the dask scheduler at {scheduler}" in proc.stderr
    assert _digests(out) == _digests(local_run)


def _start_run_and_wait_for_jackknife(ns, small, scheduler, out, extra=()):
    proc, log = ns.start([sys.executable, "-m", "ale_app", str(small), str(out), "--parallel-backend", "dask",
                          "--dask-scheduler", scheduler, "--n-jobs", "2", *extra], f"run-{out.parent.name}")
    wait_for_line(log, r"Jackknife \(refit\): 3 leave-one-out refits on", proc, timeout=300)
    return proc, log


@pytest.mark.slow
def test_a_worker_killed_mid_run_changes_nothing(ns, scheduler, two_workers, small, local_run, tmp_path):
    """kill -9 of one of two workers while the refits run: the run completes, identical."""
    workers, _ = two_workers
    out = tmp_path / "out"
    run, log = _start_run_and_wait_for_jackknife(ns, small, scheduler, out)
    time.sleep(1.0)  # the workers import NiMARE on their first task: seconds
    assert "Jackknife (refit): 3 leave-one-out refits on" in log.read_text()
    assert re.search(r"Jackknife \(refit\).* done in", log.read_text()) is None, "killed too late"
    os.kill(workers[0].pid, signal.SIGKILL)
    assert run.wait(timeout=600) == 0, log.read_text()
    assert "A dask worker left the scheduler at" in log.read_text()  # the run saw the loss
    assert workers[0].wait(timeout=10) == -signal.SIGKILL
    assert _digests(out) == _digests(local_run)


def test_every_worker_lost_names_the_step(ns, scheduler, two_workers, small, tmp_path):
    """kill -9 of both workers mid-run: after --dask-wait, exit 69 naming the jackknife step and
    how to start workers; no CancelledError."""
    workers, _ = two_workers
    out = tmp_path / "out"
    run, log = _start_run_and_wait_for_jackknife(ns, small, scheduler, out, extra=("--dask-wait", "3"))
    time.sleep(0.5)
    for worker in workers:
        os.kill(worker.pid, signal.SIGKILL)
    killed = time.monotonic()
    code = run.wait(timeout=3 + 2 * MARGIN)
    text = log.read_text()
    assert code == 69, text
    assert time.monotonic() - killed < 3 + MARGIN
    assert ("The jackknife step stopped: the dask scheduler at " + scheduler +
            ": every worker was lost during the run and none joined again within 3 s") in text
    assert f"'dask worker {scheduler}'" in text
    _no_python_internals(text)


def test_the_scheduler_killed_mid_run_names_the_step(ns, small, tmp_path):
    """kill -9 of the scheduler while the refits run: exit 69 naming the step, no traceback."""
    address = start_scheduler(ns, "doomed-scheduler")
    start_worker(ns, address, "doomed-worker")
    scheduler_proc = ns.procs[-2]
    out = tmp_path / "out"
    run, log = _start_run_and_wait_for_jackknife(ns, small, address, out, extra=("--dask-wait", "3"))
    time.sleep(0.5)
    scheduler_proc.kill()
    killed = time.monotonic()
    code = run.wait(timeout=3 + 2 * MARGIN)
    text = log.read_text()
    assert code == 69, text
    assert time.monotonic() - killed < 3 + MARGIN
    assert f"The jackknife step stopped: the dask scheduler at {address}: the connection to the scheduler was lost" in text
    _no_python_internals(text)


INFERENTIAL = """
mode: inferential
inference:
  min_experiments: 4
  n_iterations: 40
"""


@pytest.mark.slow
def test_inferential_dask_run_equals_the_local_run(ns, scheduler, two_workers, tmp_path):
    """The Monte Carlo iterations on two dask workers: every file identical to one local job."""
    from ale_app.cli import main

    spec = write_small_spec(tmp_path / "spec")
    text = spec.read_text().replace("first: 3", "first: 4").replace("method: refit", "method: closed-form")
    spec.write_text(text + INFERENTIAL)
    assert main([str(spec), str(tmp_path / "local"), "--n-jobs", "1", "-q"]) == 0
    proc, _ = ns.run_cli([str(spec), str(tmp_path / "dask"), "--parallel-backend", "dask",
                          "--dask-scheduler", scheduler, "--n-jobs", "2"])
    assert proc.returncode == 0, proc.stderr
    assert f"40 iterations, seed 0, on 2 jobs on the dask scheduler at {scheduler}" in proc.stderr
    assert _digests(tmp_path / "dask") == _digests(tmp_path / "local")


@pytest.mark.slow
def test_a_projects_groups_run_side_by_side_on_dask_and_equal_the_local_run(ns, scheduler, two_workers, tmp_path):
    """A project of three groups and two contrasts: each group's own analysis goes to the
    cluster as one task, and every file equals the project run with one local job."""
    from ale_app.cli import main
    from helpers.projects import project_spec, write_spec, write_table

    write_table(tmp_path)
    spec = write_spec(tmp_path, "project", project_spec())
    assert main([str(spec), str(tmp_path / "local"), "--n-jobs", "1", "-q"]) == 0
    proc, _ = ns.run_cli([str(spec), str(tmp_path / "dask"), "--parallel-backend", "dask",
                          "--dask-scheduler", scheduler, "--n-jobs", "2"])
    assert proc.returncode == 0, proc.stderr
    assert "Sending the 3 groups (go, stop, flank) to the dask cluster" in proc.stderr
    for task in ("go", "stop", "flank"):
        assert f"[{task}] group analysis done on the dask cluster" in proc.stderr
    _no_python_internals(proc.stderr)
    assert _digests(tmp_path / "dask") == _digests(tmp_path / "local")
