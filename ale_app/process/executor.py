"""The one executor: where a parallel step runs its items (serial, threads, processes on
this machine, or the workers of a dask.distributed scheduler), and the forked workers that
draw figures.

The command line builds one :class:`Executor` from ``--n-jobs``, ``--parallel-backend`` and
``--dask-scheduler`` and the workflow hands it to every parallel step: the refit jackknife,
the Monte Carlo iterations and the figures. No step chooses its own backend, and none
changes a number: each item's result depends on the item alone.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from ale_app.process.runtime import HANDLED_SIGNALS, deferred_signals

LGR = logging.getLogger("ale_app")

#: The executor kinds, and the ``--parallel-backend`` each comes from.
KINDS = ("serial", "threads", "processes", "dask")
_FROM_BACKEND = {"loky": "processes", "threading": "threads", "dask": "dask"}


@dataclass(frozen=True)
class Executor:
    """Where a parallel step runs its items.

    Attributes
    ----------
    kind : {"serial", "threads", "processes", "dask"}
        ``serial`` runs in this thread; ``threads`` on a pool of threads (for code that
        releases the GIL); ``processes`` on joblib's loky worker processes; ``dask`` on the
        workers of the dask.distributed scheduler at ``scheduler``.
    n_jobs : int
        How many items run at once.
    scheduler : str or None
        The dask.distributed scheduler's address (``dask`` only).
    wait : float
        Seconds to wait for a dask worker, at the start and when every worker is lost
        (``--dask-wait``; ``dask`` only).
    """

    kind: str = "serial"
    n_jobs: int = 1
    scheduler: str | None = None
    wait: float = 120.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown executor kind {self.kind!r}; expected one of {KINDS}")
        if self.n_jobs < 1:
            raise ValueError("n_jobs must be at least 1")

    @classmethod
    def from_options(cls, n_jobs: int = 1, backend: str = "loky", scheduler: str | None = None,
                     wait: float = 120.0) -> Executor:
        """The executor of ``--n-jobs``, ``--parallel-backend`` (loky, threading, dask),
        ``--dask-scheduler`` and ``--dask-wait``; one job on this machine is ``serial``."""
        if backend not in _FROM_BACKEND:
            raise ValueError(f"unknown backend {backend!r}")
        kind = _FROM_BACKEND[backend]
        if kind != "dask" and n_jobs == 1:
            kind = "serial"
        if kind != "dask":
            return cls(kind, int(n_jobs))
        return cls(kind, int(n_jobs), scheduler, float(wait))

    def describe(self) -> str:
        """The executor in words, for the log."""
        if self.kind == "serial":
            return "1 job"
        if self.kind == "dask":
            return f"{self.n_jobs} jobs on the dask scheduler at {self.scheduler}"
        return f"{self.n_jobs} {'threads' if self.kind == 'threads' else 'worker processes'}"

    def for_gil_free_code(self) -> Executor:
        """The executor for compiled code that releases the GIL (the Monte Carlo loop):
        threads in place of worker processes, which would each start, import and receive a
        copy of the data to do what a thread does in this process at the same speed."""
        return Executor("threads", self.n_jobs) if self.kind == "processes" else self

    def for_tasks(self, n_tasks: int) -> Executor:
        """This executor with no more jobs than ``n_tasks`` (the work there is): a step of 8
        refits never starts more than 8 workers; one task runs in this thread."""
        n_jobs = max(1, min(self.n_jobs, int(n_tasks)))
        if n_jobs == self.n_jobs:
            return self
        return Executor("serial" if n_jobs == 1 and self.kind != "dask" else self.kind, n_jobs, self.scheduler, self.wait)

    def map(self, func: Callable, args: Iterable[tuple], n_tasks: int | None = None) -> Iterator:
        """``func(*a)`` for each ``a`` of ``args``, yielded in order as they finish in order;
        ``n_tasks`` (how many ``args`` there are, when known) caps the workers started."""
        if n_tasks is not None and n_tasks < self.n_jobs:
            yield from self.for_tasks(n_tasks).map(func, args)
            return
        if self.kind == "serial":
            for a in args:
                yield func(*a)
            return
        from joblib import Parallel, delayed, parallel_config

        if self.kind == "dask":
            from ale_app.process.dask_cluster import map_on_dask

            assert self.scheduler is not None  # from_options gives the dask kind its scheduler
            yield from map_on_dask(self.scheduler, self.wait, self.n_jobs, func, args)
            return
        jobs = (delayed(func)(*a) for a in args)
        if self.kind == "threads":
            yield from Parallel(n_jobs=self.n_jobs, backend="threading", return_as="generator")(jobs)
            return
        # Worker processes that die with this one: a run killed with SIGKILL leaves none behind.
        with parallel_config(backend="loky", initializer=die_with_parent, initargs=(os.getpid(),)):
            yield from Parallel(n_jobs=self.n_jobs, return_as="generator")(jobs)

    def release(self) -> None:
        """Stop the threads that wait in this process for more work, so that it runs one
        thread again: the worker processes :meth:`map` leaves for reuse (and loky's manager
        thread), and tqdm's progress-bar monitor (NiMARE's loops start it; tqdm starts it
        again when a bar needs it)."""
        if self.kind == "processes":
            from joblib.externals.loky import reusable_executor

            executor = getattr(reusable_executor, "_executor", None)
            if executor is not None:
                executor.shutdown(wait=True)
        monitor_module = sys.modules.get("tqdm._monitor")
        if monitor_module is not None:
            for thread in threading.enumerate():
                if isinstance(thread, monitor_module.TMonitor):
                    thread.exit()  # and the bar class it watches for starts a new one when needed
                    if getattr(thread.tqdm_cls, "monitor", None) is thread:
                        thread.tqdm_cls.monitor = None

    def map_forked(self, func: Callable, items: list) -> dict:
        """``{item: func(item)}`` on up to ``n_jobs`` processes forked from this one, the
        first items first; ``{}`` when forking is not available or not safe here (one job,
        not Linux, or other threads running: a fork copies their locks in whatever state
        they are). Items missing from the answer, or mapped to :data:`FAILED`, are for the
        caller to do in this process."""
        n_workers = min(self.n_jobs, len(items))
        if n_workers < 2 or not can_fork():
            return {}
        self.release()
        others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
        if others:
            LGR.debug("not forking figure workers while other threads run: %s", ", ".join(others))
            return {}
        return map_forked(func, items, n_workers)


# --------------------------------------------------------------------------- forked workers

#: What :func:`map_forked` gives for an item whose worker failed (or was killed).
FAILED = object()
#: The pid a forked worker was forked from (set just before the fork).
_PARENT_PID = [0]


def can_fork() -> bool:
    """Whether :func:`map_forked` can use forked workers here (Linux; elsewhere ``fork`` of a
    process that has loaded system frameworks is not safe)."""
    return hasattr(os, "fork") and sys.platform.startswith("linux")


def map_forked(func, items: list, n_workers: int) -> dict:
    """``{item: func(item)}``, each item in a process forked from this one, at most
    ``n_workers`` at a time, started in the order given (put the slowest first).

    A forked worker starts with everything this process has imported and computed, so it
    pays no import (a spawned worker would import NiMARE, nilearn and matplotlib again and
    unpickle the data: seconds each). ``func``'s result comes back pickled through a pipe.
    An item whose worker fails or dies maps to :data:`FAILED`; the caller redoes it in this
    process, where the error (if it is one) is raised with its own traceback. Workers leave
    SIGINT and SIGTERM to their defaults and this process kills any still running when it
    is interrupted or fails, so none outlives the run.
    """
    import pickle
    import selectors

    results: dict = {}
    queue = list(items)
    running: dict[int, tuple[int, Any, list[bytes]]] = {}  # read fd -> (pid, item, chunks)
    selector = selectors.DefaultSelector()
    try:
        while queue or running:
            while queue and len(running) < max(1, n_workers):
                item = queue.pop(0)
                read_fd, write_fd = os.pipe()
                with deferred_signals():  # a worker is recorded (to be killed) before any interrupt
                    _PARENT_PID[0] = os.getpid()
                    pid = os.fork()
                    if pid == 0:  # the worker: never returns
                        _forked_worker(func, item, write_fd, [read_fd, *running])
                    os.close(write_fd)
                    running[read_fd] = (pid, item, [])
                selector.register(read_fd, selectors.EVENT_READ)
            for key, _ in selector.select():
                fd = key.fd
                chunk = os.read(fd, 1 << 20)
                if chunk:
                    running[fd][2].append(chunk)
                    continue
                selector.unregister(fd)
                os.close(fd)
                pid, item, chunks = running.pop(fd)
                _, status = os.waitpid(pid, 0)
                try:
                    ok = os.waitstatus_to_exitcode(status) == 0
                    results[item] = pickle.loads(b"".join(chunks)) if ok else FAILED
                except Exception:  # noqa: BLE001 - a truncated payload: redo it here
                    results[item] = FAILED
    finally:
        for fd, (pid, _item, _chunks) in running.items():
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            os.close(fd)
        selector.close()
    return results


def die_with_parent(parent_pid: int) -> None:
    """Make this worker process receive SIGKILL when ``parent_pid`` (the run) dies, however
    it dies (Linux's ``PR_SET_PDEATHSIG``; elsewhere nothing): a worker busy with a refit
    would otherwise finish it, and loky keeps idle workers for minutes. A worker whose parent
    is already gone exits at once."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # pragma: no cover - no prctl: nothing more to do
        return
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)


def _forked_worker(func, item, write_fd: int, inherited: list[int]) -> None:
    """Body of a forked worker: compute ``func(item)``, send it pickled, exit (never returns)."""
    import pickle

    code = 1
    try:
        die_with_parent(_PARENT_PID[0])
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        for fd in inherited:  # the other workers' pipes: their ends belong to the parent
            os.close(fd)
        payload = pickle.dumps(func(item), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_fd, "wb") as fh:
            fh.write(payload)
        code = 0
    except BaseException:  # noqa: BLE001 - the parent redoes the item and reports any error
        pass
    finally:
        os._exit(code)


# --------------------------------------------------------------------------- dask


def connect_dask(scheduler: str | None, wait: float | None = None):
    """A client of the dask.distributed scheduler at ``scheduler`` with at least one worker
    (:func:`ale_app.process.dask_cluster.connect_dask`)."""
    from ale_app.process import dask_cluster

    return dask_cluster.connect_dask(scheduler, dask_cluster.DEFAULT_WAIT if wait is None else wait)
