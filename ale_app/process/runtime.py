"""Process-level set-up that only :func:`ale_app.cli.main` performs: signal handling,
writable cache folders, and library warnings routed through logging.

Nothing here runs at import time. The signal state and the standard streams found closed
are the module's only state (both are process-wide by nature); the output folder consults
the signal state before every write so that an interrupt is never lost, even when the exception the handler raised was
swallowed by a library (a ``__del__`` or a draw callback, where Python only prints
"Exception ignored").
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

from ale_app.errors import InterruptedRun

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)
RERUN_HINT = "Finished files are complete; re-run the same command to complete the folder."


class _SignalState:
    """What the handlers have seen during this ``main``."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.active = False  # handlers installed by main
        self.received: int | None = None  # the first signal received
        self.raised = False  # InterruptedRun was raised for it
        self.deferring = 0  # inside a critical section (a rename into place)
        self.complete = False  # the run's last file is in place: finish with 0
        self.finished = False  # main has decided its exit code


_STATE = _SignalState()


def interrupted_error(signum: int | None = None) -> InterruptedRun:
    """The error that ends an interrupted run (exit 75)."""
    signum = _STATE.received if signum is None else signum
    if not signum:
        return InterruptedRun("ale-app was interrupted.", hint=RERUN_HINT)
    return InterruptedRun(f"ale-app was stopped by signal {signal.Signals(signum).name}.", hint=RERUN_HINT)


def _handle_signal(signum, frame):
    if _STATE.received is None:
        _STATE.received = signum
    if _STATE.finished or _STATE.complete or _STATE.deferring or _STATE.raised:
        return  # recorded; the run's outcome is already decided or the check comes later
    _STATE.raised = True
    raise interrupted_error(signum)


def install_signal_handlers() -> dict:
    """Turn SIGINT and SIGTERM into :class:`InterruptedRun` (exit 75); return the previous
    handlers for :func:`restore_signal_handlers`."""
    _STATE.reset()
    _STATE.active = True
    previous: dict = {"unraisablehook": sys.unraisablehook}
    sys.unraisablehook = _unraisable_hook
    for signum in HANDLED_SIGNALS:
        previous[signum] = signal.signal(signum, _handle_signal)
    return previous


def _unraisable_hook(unraisable) -> None:
    """Python cannot raise an exception from a ``__del__`` or a callback and prints it as
    "Exception ignored". The interrupt is recorded and acted on at the next write (or when
    ``main`` returns), so it is not printed; anything else is reported as before."""
    if isinstance(unraisable.exc_value, InterruptedRun):
        logging.getLogger("ale_app").debug("an interrupt arrived inside %r; acted on at the next step",
                                          unraisable.object)
        return
    sys.__unraisablehook__(unraisable)


def finish_signal_handling(previous: dict | None) -> None:
    """Main has decided its exit code: later signals are ignored (while the interpreter shuts
    down) or, when ``previous`` is given (``main`` called in-process), the previous handlers
    come back."""
    _STATE.finished = True
    if previous is None:
        # As a script: ignore them outright. Python resets its own handlers to the default
        # while it shuts down (a late SIGINT would then kill the process with -2 after the
        # run succeeded); an ignored signal stays ignored.
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
    else:
        previous = dict(previous)
        sys.unraisablehook = previous.pop("unraisablehook", sys.__unraisablehook__)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _STATE.active = False


def signal_received() -> int | None:
    """The first SIGINT/SIGTERM received since ``main`` started, if any."""
    return _STATE.received


def run_completed() -> bool:
    """Whether the run's last file (provenance) is in place."""
    return _STATE.complete


def raise_if_interrupted() -> None:
    """Raise :class:`InterruptedRun` if a signal arrived, even one whose exception was
    swallowed; called before every write into the output folder."""
    if _STATE.received is not None and not _STATE.complete:
        _STATE.raised = True
        raise interrupted_error()


@contextmanager
def deferred_signals(completes_run: bool = False):
    """A critical section (a rename into place): a signal that arrives inside it is acted
    on when it ends. With ``completes_run``, the block puts the run's last file in place, and
    a signal after that no longer stops the run."""
    raise_if_interrupted()
    _STATE.deferring += 1
    try:
        yield
        if completes_run:
            _STATE.complete = True
    finally:
        _STATE.deferring -= 1
    if not _STATE.deferring:
        raise_if_interrupted()


@contextmanager
def frozen_gc():
    """The command line's garbage-collector policy for a run: yields ``freeze``, which the
    workflow calls as each step starts; everything frozen is unfrozen when the block ends.

    nilearn runs a full ``gc.collect()`` each time it reads an image (``safe_get_data``);
    once NiMARE, nilearn and matplotlib are imported that walks about a million objects, a
    quarter of a second each time, a dozen times a run. Freezing moves every object alive
    at that moment (mostly the libraries the steps imported) out of the collector's sight.
    Frozen objects are still freed when their last reference goes; only reference cycles
    among them wait for the unfreeze. Only :mod:`ale_app.cli` uses this: a library call of
    the workflow leaves the collector as it found it.
    """
    import gc

    try:
        yield gc.freeze
    finally:
        gc.unfreeze()


def exit_process(code: int) -> None:
    """End the ``ale-app`` process with ``code`` without the interpreter's teardown.

    Python's own shutdown deallocates every imported module (NiMARE brings about 3,000,
    sympy and scikit-learn among them): about a second of a run that is already complete.
    Everything that must happen at exit still happens, in the interpreter's own order: the
    threads' exit callbacks and the joins of non-daemon threads (``threading._shutdown``:
    thread pools, loky's executor), then the ``atexit`` handlers (dask's and multiprocessing's
    worker shutdown, temporary folders' finalizers, logging's flush), then the flush of the
    standard streams; then the process exits with ``os._exit``. Only the console script and
    ``python -m ale_app`` call this; ``main`` called in-process returns as usual.
    """
    import atexit
    import threading

    try:
        shutdown_threads = getattr(threading, "_shutdown", None)
        if shutdown_threads is not None:
            shutdown_threads()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):  # a closed pipe (ale-app ... | head) or a closed stream
                pass
        os._exit(code)


# --------------------------------------------------------------------------- standard streams


#: The standard streams the shell closed, as :func:`guard_standard_streams` found them.
_CLOSED_STREAMS: set[str] = set()


def guard_standard_streams() -> list[str]:
    """Put ``/dev/null`` on each of the descriptors 0, 1 and 2 that the shell closed
    (``>&-``, ``2>&-``); return the names of those streams.

    Otherwise the next file ale-app opens (an output, a lock, a worker's pipe) would take the
    closed number, and whatever a library or a worker process prints would land in it. What
    a library prints there is then discarded; the command line asks :func:`stream_closed`
    before it prints what a mode is for (exit 74: standard output was closed). A closed
    standard error discards the log and the messages. Only :func:`ale_app.cli.main`, as a
    script, calls it.
    """
    closed = []
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        os.set_inheritable(fd, True)  # worker processes get /dev/null there too
        closed.append(name)
    _CLOSED_STREAMS.clear()
    _CLOSED_STREAMS.update(closed)
    # /dev/null, for the process; typeshed calls sys.__stdout__ and the others Final, but the
    # process's own streams are what is replaced here (hence the type: ignore).
    if "stdout" in closed or sys.stdout is None:
        sys.stdout = sys.__stdout__ = open(1, "w", closefd=False)  # type: ignore[misc]  # noqa: SIM115
    if "stderr" in closed or sys.stderr is None:
        sys.stderr = sys.__stderr__ = open(2, "w", closefd=False)  # type: ignore[misc]  # noqa: SIM115
    if "stdin" in closed or sys.stdin is None:
        sys.stdin = sys.__stdin__ = open(0, closefd=False)  # type: ignore[misc]  # noqa: SIM115
    return closed


def stream_closed(name: str) -> bool:
    """Whether the shell closed the standard stream ``name`` ("stdout", "stderr", "stdin")
    before ale-app started (``>&-``)."""
    return name in _CLOSED_STREAMS


def discard_stdout() -> None:
    """Send the rest of standard output to ``/dev/null``: its reader has gone (``ale-app ...
    | head``): what is still buffered, and what comes after, goes nowhere instead of failing
    again at every write and at the interpreter's final flush."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
    finally:
        os.close(null)


# --------------------------------------------------------------------------- caches

#: Environment variables that point the libraries' caches somewhere, and the folder
#: name each gets under the fallback cache root.
CACHE_VARIABLES = {
    "NUMBA_CACHE_DIR": "numba",
    "MPLCONFIGDIR": "matplotlib",
    "JOBLIB_TEMP_FOLDER": "joblib",
    "NIMARE_DATA": "nimare",
}


def _writable_dir(path: str | None) -> bool:
    if not path:
        return False
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def _private_cache_root() -> Path:
    """``$TMPDIR/ale-app-<uid>``: a folder only this user owns (a fresh one if that name is
    taken by someone else or is a link)."""
    base = Path(tempfile.gettempdir())
    root = base / f"ale-app-{os.getuid()}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(root)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and os.access(root, os.W_OK | os.X_OK):
            return root
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="ale-app-"))


def configure_cache_dirs(environ: dict | None = None) -> dict[str, str]:
    """Point numba, matplotlib, joblib and NiMARE at a writable folder when HOME is not
    writable (a read-only image run as any user, ``HOME=/nonexistent``).

    Only variables the user has not set are changed; must run before those libraries are
    imported. Returns what was set.
    """
    env = os.environ if environ is None else environ
    home = env.get("HOME") or os.path.expanduser("~")
    if _writable_dir(home):
        return {}
    missing = [name for name in CACHE_VARIABLES if not env.get(name)]
    if not missing:
        return {}
    root = _private_cache_root()
    chosen = {}
    for name in missing:
        folder = root / CACHE_VARIABLES[name]
        folder.mkdir(mode=0o700, exist_ok=True)
        env[name] = chosen[name] = str(folder)
    return chosen


# --------------------------------------------------------------------------- warnings

LIBRARY_WARNINGS = "ale_app.library"


def _source_package(filename: str) -> str:
    parts = Path(filename or "").parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            index = parts.index(marker)
            if index + 1 < len(parts):
                return parts[index + 1].split(".")[0]
    return Path(filename).stem if filename else "python"


@contextmanager
def warnings_to_logging():
    """Send ``warnings.warn`` from libraries to the ``ale_app.library`` logger: once per
    message, in words, without the source line."""
    logger = logging.getLogger(LIBRARY_WARNINGS)
    seen: set[tuple[str, str]] = set()
    previous = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        key = (category.__name__, text)
        if key in seen:
            return
        seen.add(key)
        logger.warning("%s (%s from %s)", text, category.__name__, _source_package(filename))

    warnings.showwarning = showwarning
    try:
        yield
    finally:
        warnings.showwarning = previous

