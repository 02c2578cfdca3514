"""Bounded resources: --n-jobs capped at the CPUs and at the work there is, workers that die
with a killed run, Monte Carlo draws in chunks with the same numbers as NiMARE, a run that
cannot fit refused before computing, and out of memory reported as such (exit 71).
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ale_app.errors import ExitCode
from ale_app.process.executor import Executor
from ale_app.stats import montecarlo as I
from ale_app.stats import montecarlo_draws

from conftest import ale_app_command, offline
from helpers.oracles import assert_montecarlo_equals_nimare, nimare_montecarlo
from helpers.studysets import pain_studyset

GIB = 1024**3


# --------------------------------------------------------------------------- processes


def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (not gone and not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class ProcessWatch:
    """Samples a process's descendants every 50 ms while it runs."""

    def __init__(self, pid: int):
        self.pid, self.seen, self.most, self.at_most, self.workers = pid, {}, 0, [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            now = descendants(self.pid)
            for pid in now:
                self.seen.setdefault(pid, cmdline(pid)[:80])
            self.workers = max(self.workers, sum("loky.backend.popen" in self.seen[p] for p in now))
            if len(now) > self.most:
                self.most, self.at_most = len(now), [self.seen[p] for p in now]
            time.sleep(0.05)

    def stop(self):
        self._stop.set()
        self._thread.join()


def _env():
    return {**os.environ, "PYTHONWARNINGS": "ignore",
            "PYTHONPATH": os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[1]),
                                                      os.environ.get("PYTHONPATH")) if p)}


def test_n_jobs_capped_at_cpus_with_one_warning():
    from ale_app.process.cpus import cap_n_jobs

    n, warning = cap_n_jobs(10000, "loky", cpus=2)
    assert n == 2 and "--n-jobs 10000 is more than the 2 CPUs" in warning
    assert cap_n_jobs(10000, "threading", cpus=3)[0] == 3
    assert cap_n_jobs(2, "loky", cpus=2) == (2, None)
    assert cap_n_jobs(None, "loky", cpus=5) == (5, None)
    assert cap_n_jobs(64, "dask", cpus=2) == (64, None)  # the cluster's workers run them


def test_executor_capped_at_the_tasks():
    assert Executor("processes", 10000).for_tasks(8) == Executor("processes", 8)
    assert Executor("threads", 4).for_tasks(1) == Executor("serial", 1)
    assert Executor("dask", 9, "tcp://127.0.0.1:1").for_tasks(1) == Executor("dask", 1, "tcp://127.0.0.1:1")
    assert Executor("threads", 2).for_tasks(5) == Executor("threads", 2)
    # map with n_tasks starts no more workers than tasks: one task runs in this thread
    ran_in = []
    list(Executor("threads", 50).map(lambda: ran_in.append(threading.get_ident()), [()], n_tasks=1))
    assert ran_in == [threading.get_ident()]


@pytest.mark.slow
def test_n_jobs_10000_finishes_with_one_warning_and_few_processes(tmp_path, small_spec, small_reference):
    """The small refit run with --n-jobs 10000: one warning, no more worker processes than the
    CPUs (plus loky's resource tracker), and the same files as one job."""
    from ale_app.process.cpus import available_cpus

    out = tmp_path / "out"
    cmd, env = offline([*ale_app_command(), str(small_spec), str(out), "--n-jobs", "10000"], _env())
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    watch = ProcessWatch(proc.pid)
    try:
        _, stderr = proc.communicate(timeout=300)
    finally:
        watch.stop()
    took = time.monotonic() - start
    assert proc.returncode == 0, stderr
    assert stderr.count("--n-jobs 10000 is more than the") == 1, stderr
    # loky's workers, at most one per CPU; besides them only loky's resource tracker and
    # short-lived helpers (figures are forked after the workers are gone)
    assert 1 <= watch.workers <= available_cpus(), watch.at_most
    assert watch.most <= available_cpus() + 2, (watch.most, watch.at_most)
    for name in ("sub-group_desc-jackknife_contributions.tsv",):
        if (small_reference / name).exists():
            assert (out / name).read_bytes() == (small_reference / name).read_bytes()
    print(f"--n-jobs 10000: {took:.1f} s, at most {watch.workers} loky workers and {watch.most} child processes")


def _is_worker(pid: int, parent_cmdline: str) -> str | None:
    line = cmdline(pid)
    if "loky" in line or "joblib" in line:
        return "loky"
    if line and line == parent_cmdline:
        return "forked"
    return None


@pytest.mark.parametrize("kind", ["loky", pytest.param("forked", marks=pytest.mark.slow)])
def test_sigkill_leaves_no_worker(tmp_path, refit_spec, kind):
    """SIGKILL of a run while its loky refit workers (or its forked figure workers) run: none
    of its processes is alive 5 s later."""
    out = tmp_path / "out"
    cmd, env = offline([*ale_app_command(), str(refit_spec), str(out), "--n-jobs", "2", "-q"], _env())
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            # Read each time: proc.pid is `unshare` (see offline) until it execs ale-app, and
            # a loaded machine may poll first in between.
            parent = cmdline(proc.pid)
            now = descendants(proc.pid)
            seen |= now
            # Two loky workers (the refits start together); one forked figure worker is enough
            # (they start one by one as figures are handed out, and a loaded machine may show one).
            if sum(_is_worker(p, parent) == kind for p in now) >= (2 if kind == "loky" else 1):
                break
            time.sleep(0.02)
        else:
            pytest.fail(f"no {kind} workers seen before the run ended (exit {proc.returncode})")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        seen |= descendants(proc.pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(5)
    survivors = {p: cmdline(p) for p in seen if alive(p)}
    assert not survivors, survivors


# --------------------------------------------------------------------------- Monte Carlo in chunks


@pytest.mark.parametrize("chunk", [1, 10, 64, 210, 211])
def test_chunked_draws_equal_nimare_single_call(chunk):
    """The draws in chunks of ``chunk`` iterations are NiMARE's one
    ``rng.choice(n_null, size=(n_foci, n_iterations))``, column for column."""
    from nimare.meta.cbma.ale import ALE

    estimator = ALE(random_state=7)
    whole = estimator._get_rng(montecarlo_draws.RNG_STREAM).choice(228483, size=(57, 211))
    draws = montecarlo_draws.NullDraws(estimator, 57, 228483, 211, max_bytes=4 * 57 * chunk)
    assert draws.chunk == chunk
    parts = list(draws)
    assert [s for s, _ in parts] == list(range(0, 211, chunk))
    assert all(p.dtype == np.int32 for _, p in parts)
    assert np.array_equal(np.concatenate([p for _, p in parts], axis=1), whole)


@pytest.mark.slow
def test_chunked_montecarlo_equals_nimare_and_unchunked():
    """The pain example's Monte Carlo FWE with the draws in chunks of 7 iterations: the null
    and every map equal NiMARE's FWECorrector (run here, same seed), and the unchunked run's
    null bit for bit, on one thread and on two."""
    studyset = pain_studyset()
    n_iterations = 30
    ours = I.montecarlo_fwe(studyset, n_iterations=n_iterations, seed=3)
    small = 4 * 7 * ours.n_foci
    chunked = I.montecarlo_fwe(studyset, n_iterations=n_iterations, seed=3, draw_bytes=small)
    threads = I.montecarlo_fwe(studyset, n_iterations=n_iterations, seed=3, draw_bytes=small,
                               executor=Executor("threads", 2))
    assert chunked.null.equals(ours.null) and threads.null.equals(ours.null)
    assert np.array_equal(chunked.logp_cluster_size_fwe_values, ours.logp_cluster_size_fwe_values)
    assert_montecarlo_equals_nimare(chunked, nimare_montecarlo(studyset, n_iterations, 3))


# --------------------------------------------------------------------------- memory


def test_footprint_grows_with_experiments_and_iterations_not_with_draws():
    from ale_app.stats.footprint import estimate_peak

    small = estimate_peak([(20, 200)], mode="inferential", n_iterations=10_000)
    many = estimate_peak([(1000, 10_000)], mode="inferential", n_iterations=10_000)
    long = estimate_peak([(1000, 10_000)], mode="inferential", n_iterations=1_000_000)
    assert small.resident < many.resident < long.resident
    # The draws are chunked: 10,000 foci x 1,000,000 iterations (37 GiB at once) hold at most a chunk.
    assert long.parts["Monte Carlo null"] < 1 * GIB
    assert long.virtual > long.resident


def test_check_fits_refuses_with_the_estimate_and_the_fix():
    from ale_app.errors import OutOfMemory
    from ale_app.process.memory import Headroom, check_fits
    from ale_app.stats.footprint import estimate_peak

    footprint = estimate_peak([(1000, 10_000)], mode="inferential", n_iterations=1_000_000)
    room = Headroom(1 * GIB, "the cgroup's memory limit (container or job)", None, "no limit")
    with pytest.raises(OutOfMemory) as info:
        check_fits(footprint, room)
    message = str(info.value)
    assert "needs an estimated" in message and "1.0 GiB" in message and "cgroup" in message
    assert "n_iterations" in info.value.hint and "--n-jobs" in info.value.hint and "dask" in info.value.hint
    assert info.value.exit_code == ExitCode.OUT_OF_MEMORY == 71
    check_fits(footprint, Headroom(64 * GIB, "x", None, "no limit"))  # fits: no error


def test_cgroup_memory_headroom(tmp_path):
    from ale_app.process.memory import cgroup_memory_headroom

    (tmp_path / "cg").write_text("0::/job/step\n")
    job, step = tmp_path / "root" / "job", tmp_path / "root" / "job" / "step"
    step.mkdir(parents=True)
    (job / "memory.max").write_text(f"{4 * GIB}\n")
    (job / "memory.current").write_text(f"{1 * GIB}\n")
    (step / "memory.max").write_text("max\n")
    assert cgroup_memory_headroom(tmp_path / "root", tmp_path / "cg") == 3 * GIB
    (job / "memory.max").write_text("max\n")
    assert cgroup_memory_headroom(tmp_path / "root", tmp_path / "cg") is None


def test_out_of_memory_recognised():
    from ale_app.process.memory import is_out_of_memory

    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(OSError(errno.ENOMEM, "Cannot allocate memory"))
    assert is_out_of_memory(ImportError("/x/_image.so: failed to map segment from shared object"))
    wrapped = RuntimeError("step failed")
    wrapped.__cause__ = MemoryError("Unable to allocate 37.3 GiB")
    assert is_out_of_memory(wrapped)
    assert not is_out_of_memory(ValueError("bad"))
    assert not is_out_of_memory(OSError(errno.ENOENT, "No such file"))


def _generated_spec(folder: Path, n_experiments: int, n_iterations: int) -> Path:
    """An inferential spec on ``n_experiments`` one-focus experiments (a TSV beside it)."""
    rng = np.random.default_rng(0)
    rows = ["study_id\tanalysis_id\tx\ty\tz\tspace\tsample_size"]
    for e in range(n_experiments):
        x, y, z = np.array([40.0, -20.0, 50.0]) + rng.normal(0, 4, 3)
        rows.append(f"s{e}\ta{e}\t{x:.1f}\t{y:.1f}\t{z:.1f}\tMNI\t20")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "foci.tsv").write_text("\n".join(rows) + "\n")
    spec = folder / "spec.yaml"
    spec.write_text(f"spec_version: 1\nmode: inferential\ninput:\n  path: foci.tsv\n"
                    f"inference:\n  min_experiments: 2\n  n_iterations: {n_iterations}\n"
                    "figures:\n  formats: [png]\n  dpi: 50\n")
    return spec


def _limited(limit_bytes: int):
    def preexec():
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    return preexec


def test_run_that_cannot_fit_is_refused_before_computing(tmp_path):
    """2,000 experiments and 1,000,000 iterations under ulimit -v 2 GiB: refused with exit 71
    after reading the input, naming the estimate and the limit, before any step runs, and
    nothing is left in OUTPUT_DIR."""
    spec = _generated_spec(tmp_path / "in", 2000, 1_000_000)
    out = tmp_path / "out"
    cmd, env = offline([*ale_app_command(), str(spec), str(out)], _env())
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300,
                          preexec_fn=_limited(2 * GIB))
    took = time.monotonic() - start
    assert proc.returncode == ExitCode.OUT_OF_MEMORY, proc.stderr
    assert "This run needs an estimated" in proc.stderr and "ulimit -v 2097152" in proc.stderr, proc.stderr
    assert "nothing was computed" in proc.stderr and "hint:" in proc.stderr
    assert "Fitting ALE" not in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists() or not [p for p in out.iterdir() if not p.name.startswith(".")], list(out.iterdir())
    print(f"refused in {took:.1f} s: {proc.stderr.strip().splitlines()[-2]}")


def test_out_of_memory_is_reported_as_such(tmp_path, small_spec):
    """Under ulimit -v 600 MB the run cannot even load its libraries: exit 71 with the
    out-of-memory message, not 'unexpected error'."""
    out = tmp_path / "out"
    cmd, env = offline([*ale_app_command(), str(small_spec), str(out)], _env())
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300,
                          preexec_fn=_limited(600 * 1024**2))
    assert proc.returncode == ExitCode.OUT_OF_MEMORY, proc.stderr
    assert "ale-app ran out of memory under the address-space limit" in proc.stderr, proc.stderr
    assert "unexpected error" not in proc.stderr and "Traceback" not in proc.stderr
