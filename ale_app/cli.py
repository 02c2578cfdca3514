"""The ``ale-app`` command line: parse arguments, run, and map errors to exit codes.

This is the only module that ends the process. ``build_parser`` is pure; ``main`` hands one
validated spec to :mod:`ale_app.run.workflow`.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from ale_app import __version__
from ale_app.errors import AleAppError, ExitCode, InterruptedRun, StdoutError, UsageError, exit_code_summary
from ale_app.process import runtime
from ale_app.process.executor import connect_dask
from ale_app.process.memory import is_out_of_memory, out_of_memory_error

LGR = logging.getLogger("ale_app")

#: Seconds ``--dask-wait`` waits by default (:data:`ale_app.process.dask_cluster.DEFAULT_WAIT`).
DEFAULT_DASK_WAIT = 120.0


def default_n_jobs() -> int:
    """The CPUs this process may use (its affinity set, capped by any cgroup CPU quota)."""
    from ale_app.process.cpus import available_cpus

    return available_cpus()


def _n_jobs(args: argparse.Namespace) -> int:
    """``--n-jobs``, capped at the CPUs this process may use on this machine (one warning)."""
    from ale_app.process.cpus import cap_n_jobs

    n_jobs, warning = cap_n_jobs(args.n_jobs, args.parallel_backend)
    if warning:
        LGR.warning("%s", warning)
    return n_jobs


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become :class:`UsageError` (exit 64)."""

    def error(self, message):  # noqa: D102
        raise UsageError(f"{message}.", hint=f"See '{self.prog} --help'.")

    def _print_message(self, message, file=None):
        # argparse swallows write errors; --help and --version into /dev/full are exit 74.
        if message and (file is None or file is sys.stdout):
            _print(message, end="")
        else:
            super()._print_message(message, file)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (pure: no side effects)."""
    parser = _Parser(
        prog="ale-app",
        description=(
            "ALE meta-analysis. mode: descriptive (the default) plots every coordinate, fits ALE, "
            "shows the raw ALE map with a display-only threshold and runs a leave-one-out jackknife; "
            "mode: inferential adds cluster-level FWE inference from a Monte Carlo null (z, p and "
            "FWE maps, the clusters that pass), refused below inference.min_experiments. Writes "
            "BIDS-derivatives-style outputs to OUTPUT_DIR."
        ),
        epilog=exit_code_summary(),
    )
    parser.add_argument("spec", nargs="?", metavar="SPEC",
                        help="YAML or JSON analysis spec, or example:NAME for a bundled one.")
    parser.add_argument("output_dir", nargs="?", metavar="OUTPUT_DIR",
                        help="Derivatives folder; created if absent.")
    parser.add_argument("analysis_level", nargs="?", choices=["group"], metavar="group",
                        help="Analysis level, accepted for BIDS-App compatibility (the only level).")
    parser.add_argument("--n-jobs", type=int, default=None, metavar="N",
                        help="Workers for the refit jackknife, the inferential Monte Carlo iterations "
                        "and the figures (drawn at the same time in forked processes, on Linux) "
                        "(default: the CPUs this process may use). Results never depend on it.")
    parser.add_argument("--parallel-backend", choices=["loky", "threading", "dask"], default="loky",
                        help="Where the leave-one-out refits of 'jackknife.method: refit' run (default: "
                        "loky; the Monte Carlo iterations of the inferential mode run on threads for "
                        "loky and threading); 'dask' uses an existing dask.distributed scheduler (pip "
                        "install 'ale-app[dask]') for both. Results never depend on it.")
    parser.add_argument("--dask-scheduler", metavar="ADDRESS", default=None,
                        help="Address of the dask.distributed scheduler for --parallel-backend dask: "
                        "tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786), tls://HOST:PORT, HOST:PORT or "
                        "tcp://[IPv6]:PORT; checked before anything runs (exit 64), and the scheduler must "
                        "answer as one within 5 s (exit 69; the dashboard's port, 8787, is not it).")
    parser.add_argument("--dask-wait", type=int, default=None, metavar="SECONDS",
                        help="With --parallel-backend dask: how long to wait for a worker to join the "
                        "scheduler, at the start and when every worker is lost during the run, logging "
                        "progress; then stop with exit 69 (default: 120).")
    parser.add_argument("--overwrite", action="store_true",
                        help="Replace the outputs of an earlier ale-app run in OUTPUT_DIR, all or nothing: "
                        "the earlier run is kept until the new one is complete.")
    parser.add_argument("--validate-only", action="store_true",
                        help="Check the spec and the input data, print a summary, write nothing.")
    parser.add_argument("--print-schema", action="store_true", help="Print the spec's JSON Schema.")
    parser.add_argument("--print-descriptor", action="store_true",
                        help="Print the Boutiques descriptor of this command line (boutiques/ale-app.json).")
    parser.add_argument("--verify", metavar="OUTPUT_DIR", default=None,
                        help="Re-run the analysis archived in OUTPUT_DIR (from its spec.json and "
                        "provenance.json) in a scratch folder and report, file by file, whether every "
                        "derivative is identical; exit 0 only if all are. Takes no SPEC.")
    parser.add_argument("--list-examples", action="store_true", help="List the bundled example specs.")
    parser.add_argument("--precompile", action="store_true",
                        help="Compile the numba kernels of the inferential mode and the contrast once and "
                        "store them with the install (in $ALE_APP_KERNEL_CACHE, default "
                        "<prefix>/share/ale-app/numba-cache), where read-only installs and the images "
                        "take them from; the images run it when they are built. Takes no SPEC.")
    parser.add_argument("--version", action="version", version=f"ale-app {__version__}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true",
                           help="Debug logging, and a traceback on unexpected errors.")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="Only warnings and errors.")
    return parser


class _StderrHandler(logging.StreamHandler):
    """Logs to stderr; a stderr that cannot be written (``2>/dev/full``, a closed pipe) loses
    the log quietly instead of printing logging's "--- Logging error ---" for every record."""

    def handleError(self, record):  # noqa: D102, N802 - logging's name
        if isinstance(sys.exc_info()[1], (OSError, ValueError)):
            return
        super().handleError(record)


#: Loggers of the dask.distributed stack, shown only with --verbose.
DASK_LOGGERS = ("distributed", "tornado", "asyncio")


def _no_dask_chatter(record: logging.LogRecord) -> bool:
    return record.name.split(".", 1)[0] not in DASK_LOGGERS


@contextmanager
def _logging_to_stderr(verbose: bool, quiet: bool):
    """Log to stderr at the level of ``-v``/``-q`` while the block runs; then put the root
    handlers and the levels back as they were (``main`` called from Python leaves logging
    as it found it)."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = _StderrHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s ale-app %(levelname)s: %(message)s", "%H:%M:%S"))
    if not verbose:
        # dask.distributed's own loggers (distributed.client and others set their own levels
        # in dask's config) and the event loop under it log connection chatter with tracebacks
        # when a scheduler or worker goes away; ale-app says what that means. With -v: all.
        handler.addFilter(_no_dask_chatter)
    root = logging.getLogger()
    # dask.distributed's logger is set once it is imported (see _run); its level is put back here.
    loggers = [LGR, logging.getLogger("nimare"), logging.getLogger(runtime.LIBRARY_WARNINGS),
               logging.getLogger("distributed")]
    before = (root.handlers[:], root.level, [lg.level for lg in loggers])
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    LGR.setLevel(level)
    # NiMARE configures its own logger at import; keep its chatter below ours.
    loggers[1].setLevel(logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING)
    # Library warnings (warnings.warn, routed by runtime.warnings_to_logging): -q hides them.
    loggers[2].setLevel(logging.ERROR if quiet else logging.WARNING)
    try:
        yield
    finally:
        handler.flush()
        root.handlers[:], _, levels = before
        root.setLevel(before[1])
        for logger, lvl in zip(loggers, levels):
            logger.setLevel(lvl)


def _print_error(exc: AleAppError) -> None:
    """The error's message and hint on stderr; a stderr that cannot be written (``2>/dev/full``)
    loses them, and the exit code still says what happened."""
    try:
        print(f"ale-app: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass


STDOUT_HINT = "Send standard output where it can be written (e.g. '> summary.txt' on a disk with free space)."


def _stdout_error(exc: OSError) -> StdoutError:
    return StdoutError(f"Cannot write to standard output: {exc.strerror or exc}; what was printed is incomplete.",
                       hint=STDOUT_HINT)


def _print(text: str = "", end: str = "\n") -> None:
    """Print on standard output: a write that fails is exit 74; a reader that stopped reading
    (``ale-app ... | head``) ends the printing quietly, with the exit code unchanged."""
    if runtime.stream_closed("stdout"):
        raise _stdout_error(OSError(errno.EBADF, "it was closed"))
    try:
        sys.stdout.write(text + end)
    except BrokenPipeError:
        runtime.discard_stdout()
    except OSError as exc:
        raise _stdout_error(exc) from None


def _flush_stdout(code: int) -> int:
    """Flush standard output before the exit code is decided: a write that only fails here
    (buffered, or swallowed by argparse for --help and --version) is exit 74 too, unless the
    command already failed for another reason."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        runtime.discard_stdout()
    except (OSError, ValueError) as exc:
        if code == 0:
            error = _stdout_error(exc if isinstance(exc, OSError) else OSError(str(exc)))
            _print_error(error)
            return int(error.exit_code)
    return code


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    from ale_app.spec import load as SL

    if args.print_schema:
        from ale_app.spec.schema import schema_text

        _print(schema_text(), end="")
        return 0
    if args.print_descriptor:
        from ale_app.outputs.descriptor import descriptor_text

        _print(descriptor_text(build_parser()), end="")
        return 0
    if args.list_examples:
        for name in SL.list_examples():
            _print(f"example:{name}")
        return 0
    if args.precompile:
        return _precompile(args)
    # Kernels precompiled with the install (an image's): into numba's cache before any compiles.
    from ale_app.process import numba_cache

    numba_cache.seed_from_bundle()
    if args.verify is not None:
        return _verify(args, argv)
    if args.spec is None:
        raise UsageError("SPEC is required.", hint="Try 'ale-app example:pain-qualitative out/'.")
    if args.n_jobs is not None and args.n_jobs < 1:
        raise UsageError("--n-jobs must be at least 1.", hint="Leave it out to use every CPU this process may use.")

    if args.parallel_backend == "dask" and args.dask_scheduler is not None:
        from ale_app.process.dask_cluster import check_address

        check_address(args.dask_scheduler)  # a malformed address costs no spec reading
    spec, spec_dir, text = SL.load_spec(args.spec)

    from ale_app.run import pipeline, workflow
    from ale_app.spec.project import to_project

    project = to_project(spec)
    if args.validate_only:
        from ale_app.inputs.evidence_summary import summary_lines
        from ale_app.run.validate import header_lines

        groups = pipeline.validate(project, spec_dir)
        for line in header_lines(args.spec, project, groups):
            _print(line)
        if project.shape == "single":
            for line in summary_lines(*groups.values()):
                _print(line)
        else:
            for name, evidence in groups.items():
                _print(f"group {name}:")
                for line in summary_lines(evidence, field=f"groups.{name}"):
                    _print(f"  {line}")
        n_jobs = _n_jobs(args)
        footprint, expected = pipeline.estimate_cost(
            project, groups, n_jobs, workflow.RunOptions(n_jobs=n_jobs, backend=args.parallel_backend).executor().kind)
        _print(f"estimate: {workflow.cost_line(footprint, expected)}")
        _print("nothing written (--validate-only)")
        return 0
    if args.output_dir is None:
        raise UsageError("OUTPUT_DIR is required.", hint="Give the folder to write the derivatives to.")
    _check_not_nested(args, project, spec_dir)

    n_jobs = _n_jobs(args)
    if args.parallel_backend != "dask":
        for given, option in ((args.dask_scheduler, "--dask-scheduler"), (args.dask_wait, "--dask-wait")):
            if given is not None:
                raise UsageError(f"{option} goes with --parallel-backend dask.",
                                 hint=f"Add '--parallel-backend dask', or drop {option}.")
    dask_wait = DEFAULT_DASK_WAIT if args.dask_wait is None else args.dask_wait
    if dask_wait < 0:
        raise UsageError("--dask-wait must be 0 seconds or more.", hint="Leave it out to wait 120 s.")
    if args.parallel_backend == "dask":
        # Fail early, before any output is written: the address, the scheduler, a worker.
        connect_dask(args.dask_scheduler, dask_wait).close()
        # dask.distributed set its logger to INFO on import: its connection chatter (with
        # tracebacks) only with --verbose; ale-app reports what a lost worker or scheduler means.
        logging.getLogger("distributed").setLevel(logging.INFO if args.verbose else logging.CRITICAL)
    from ale_app.run.scratch import remove_stale_scratch

    remove_stale_scratch()  # those of a --verify killed (SIGKILL) before it could remove its own
    # Figures are files: no display, the same pixels everywhere. Set before matplotlib is
    # imported (by the figure step), so that a refused folder or bad input never imports it.
    os.environ["MPLBACKEND"] = "Agg"
    with runtime.frozen_gc() as freeze:
        options = workflow.RunOptions(n_jobs=n_jobs, backend=args.parallel_backend,
                                      dask_scheduler=args.dask_scheduler, dask_wait=dask_wait,
                                      overwrite=args.overwrite,
                                      argv=["ale-app", *argv], on_step=freeze)
        pipeline.run(project, spec_dir, text, Path(args.output_dir), options)
    return 0


def _check_not_nested(args: argparse.Namespace, project, spec_dir: Path) -> None:
    """Refuse OUTPUT_DIR inside an input folder, or an input (or the spec) inside OUTPUT_DIR."""
    from ale_app.outputs.output_dir import check_not_nested, check_output_path
    from ale_app.inputs.paths import input_paths, resolve_input_path
    from ale_app.spec.load import EXAMPLE_PREFIX

    check_output_path(Path(args.output_dir))

    paths = [p for group in project.groups.values() for p in input_paths(group.input.path)]
    inputs = [resolve_input_path(p, spec_dir) for p in paths]
    if not args.spec.startswith(EXAMPLE_PREFIX):
        inputs.append(Path(args.spec))
    check_not_nested(Path(args.output_dir), inputs)


def _precompile(args: argparse.Namespace) -> int:
    from ale_app.run.precompile import precompile

    if args.spec is not None or args.output_dir is not None:
        raise UsageError("--precompile takes no SPEC or OUTPUT_DIR.", hint="Run 'ale-app --precompile' alone.")
    from ale_app.errors import OutputError
    from ale_app.process.numba_cache import BUNDLE_ENV, bundle_dir

    try:
        bundle, seconds = precompile()
    except OSError as exc:
        raise OutputError(f"Cannot store the precompiled kernels in {bundle_dir()}: {exc.strerror or exc}.",
                          hint=f"Run it as the install's owner, or set {BUNDLE_ENV} to a writable folder.") from exc
    _print(f"compiled the numba kernels in {seconds:.1f} s; stored in {bundle}")
    return 0


def _verify(args: argparse.Namespace, argv: list[str]) -> int:
    from ale_app.errors import VerificationFailed
    from ale_app.run.verify import verify

    if args.spec is not None or args.output_dir is not None:
        raise UsageError("--verify takes the folder to check and no SPEC or OUTPUT_DIR.",
                         hint="Run 'ale-app --verify OUTPUT_DIR'; the spec is read from OUTPUT_DIR/spec.json.")
    if args.n_jobs is not None and args.n_jobs < 1:
        raise UsageError("--n-jobs must be at least 1.", hint="Leave it out to use every CPU this process may use.")
    try:
        with runtime.frozen_gc() as freeze:
            result = verify(Path(args.verify), _n_jobs(args), args.parallel_backend,
                            ["ale-app", *argv], on_step=freeze)
    except BaseException as exc:
        if isinstance(exc, InterruptedRun) or runtime.signal_received() is not None and not runtime.run_completed():
            raise _verify_interrupted(args) from None
        raise
    if runtime.signal_received() is not None and not runtime.run_completed():
        raise _verify_interrupted(args)  # the interrupt's exception was swallowed on the way
    for name, status in result.records:
        if status != "as recorded":
            _print(f"record: {name}: {status}")
    for path, status in result.inputs:
        _print(f"input {path}: {status}")
    if result.software:
        _print("software: differs from the recorded versions:")
        for name, then, now in result.software:
            _print(f"  {name}: recorded {then}, now {now}")
    else:
        _print("software: the same versions as recorded")
    for name, status in result.files:
        _print(f"{status}: {name}" if status == "identical" else f"{status}: {name} (from the {result.makers[name]})")
    if result.ok:
        _print(f"verified: all {len(result.files)} files are identical")
        return 0
    problems = []
    if result.tampered:
        problems.append(f"{len(result.tampered)} archived file(s) do not match the digests provenance.json "
                        f"recorded: {', '.join(result.tampered)}")
    if not result.rerun:
        bad = [f"{p} ({s})" for p, s in result.inputs if s != "unchanged"]
        problems.append(f"the recorded inputs are not as they were: {', '.join(bad)}; the analysis was not re-run")
    else:
        bad = [n for n, s in result.files if s != "identical"]
        if bad:
            problems.append(f"{len(bad)} of {len(result.files)} files are not identical to the re-run: "
                            f"{', '.join(bad)}")
    raise VerificationFailed(
        "; ".join(problems)[:1].upper() + "; ".join(problems)[1:] + ".",
        hint="A file edited after the run, a changed input, or different software versions (listed above) "
        "can explain a difference; restore the archive, or compare with a fresh run.")


def _verify_interrupted(args: argparse.Namespace) -> InterruptedRun:
    """An interrupted ``--verify``: it changed nothing in the folder and removed its scratch
    re-run (its ``finally``), so the thing to do is to verify again (not the run's hint)."""
    exc = runtime.interrupted_error()
    exc.hint = (f"--verify changes nothing in {args.verify} and its scratch re-run was removed; run "
                f"'ale-app --verify {args.verify}' again to verify the folder.")
    return exc


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ale-app`` command; returns (and, as a script, exits with) the code.

    SIGINT and SIGTERM end the run with 75 at any moment before its last file
    (``provenance.json``) is in place, and are ignored after it (exit 0). Library warnings
    are logged once each, in words. When HOME is not writable, the libraries' caches go to
    a private temporary folder (only variables the user has not set).
    """
    as_script = argv is None
    if as_script:
        runtime.guard_standard_streams()
    previous = runtime.install_signal_handlers()
    try:
        runtime.configure_cache_dirs()
        code = _main(list(sys.argv[1:] if argv is None else argv))
        if code == 0 and runtime.signal_received() and not runtime.run_completed():
            # The exception the handler raised was swallowed somewhere: the signal still wins.
            code = _report_interrupt()
        return code
    except InterruptedRun:  # raised outside _main's own handling (e.g. while it returned)
        return 0 if runtime.run_completed() else _report_interrupt()
    finally:
        runtime.finish_signal_handling(None if as_script else previous)


def script() -> None:
    """The console script ``ale-app`` (and ``python -m ale_app``): :func:`main`, then exit
    with its code, skipping the interpreter's module teardown (:func:`runtime.exit_process`)."""
    runtime.exit_process(main())


def _report_interrupt(raised: BaseException | None = None) -> int:
    """Print the interrupt's message; the hint of the ``InterruptedRun`` that ended the run
    when it has one (an ``--overwrite`` says that the earlier run is kept)."""
    exc = runtime.interrupted_error()
    if isinstance(raised, InterruptedRun) and raised.hint:
        exc.hint = raised.hint
    _print_error(exc)
    return exc.exit_code


def _main(argv: list[str]) -> int:
    parser = build_parser()
    flags = argv[:argv.index("--")] if "--" in argv else argv  # after '--' a '-v' is a value (an OUTPUT_DIR)
    verbose = "-v" in flags or "--verbose" in flags
    try:
        args = parser.parse_args(argv)
    except (UsageError, StdoutError) as exc:
        _print_error(exc)
        return int(exc.exit_code)
    except SystemExit as exc:  # --help and --version
        return _flush_stdout(int(exc.code or 0))
    with _logging_to_stderr(args.verbose, args.quiet):
        return _flush_stdout(_handled(args, argv, verbose))


def _handled(args: argparse.Namespace, argv: list[str], verbose: bool) -> int:
    """Run, and turn every error into one message and an exit code."""
    try:
        with runtime.warnings_to_logging():
            return _run(args, argv)
    except BaseException as exc:  # noqa: BLE001 - the edge that turns everything into one message
        if runtime.signal_received() is not None and not runtime.run_completed():
            # Whatever the interrupt became on its way up (a library may wrap or replace it).
            if verbose and not isinstance(exc, InterruptedRun):
                LGR.debug("interrupted while handling", exc_info=True)
            return _report_interrupt(exc)
        if isinstance(exc, AleAppError):
            if verbose:
                LGR.exception("details")
            _print_error(exc)
            return int(exc.exit_code)
        if isinstance(exc, KeyboardInterrupt):
            return _report_interrupt()
        if not isinstance(exc, Exception):
            raise
        if is_out_of_memory(exc):  # anywhere: numpy, NiMARE, a worker, numba's compiler loading
            if verbose:
                LGR.exception("out of memory")
            error = out_of_memory_error(exc)
            _print_error(error)
            return int(error.exit_code)
        if verbose:
            LGR.exception("unexpected error")
        print(f"ale-app: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("hint: re-run with --verbose for the traceback, and report it if it persists.", file=sys.stderr)
        return int(ExitCode.UNEXPECTED)
