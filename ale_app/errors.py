"""One exception family for everything ale-app reports to its users.

Each error carries the exit code of the BIDS-App execution spec and a hint that says
what the user can change. :mod:`ale_app.cli` turns them into one message at the edge.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit code of ``ale-app`` (the BIDS-App execution spec's, from sysexits.h).

    The command line's ``--help``, the table in docs/cli.md and the errors below all read this
    one list (a test keeps docs/cli.md equal to it).
    """

    SUCCESS = 0
    UNEXPECTED = 1
    VERIFY_DIFFERS = 3
    USAGE = 64
    INVALID_DATA = 65
    MISSING_INPUT = 66
    UNAVAILABLE = 69
    OUT_OF_MEMORY = 71
    OUTPUT_NOT_WRITABLE = 73
    STDOUT_NOT_WRITABLE = 74
    INTERRUPTED = 75

    @property
    def meaning(self) -> str:
        """What the code means, in the words of the table in docs/cli.md."""
        return EXIT_CODE_MEANINGS[self]


EXIT_CODE_MEANINGS = {
    ExitCode.SUCCESS: "success",
    ExitCode.UNEXPECTED: "anything unexpected (a bug: re-run with --verbose and report it)",
    ExitCode.VERIFY_DIFFERS: "--verify found a changed input, a tampered record or a derivative that differs",
    ExitCode.USAGE: "usage error",
    ExitCode.INVALID_DATA: "invalid spec or input data",
    ExitCode.MISSING_INPUT: "an input file is missing or unreadable",
    ExitCode.UNAVAILABLE: "the dask scheduler (--parallel-backend dask) cannot be reached, does not answer as one, "
    "has no workers, or lost them all during the run",
    ExitCode.OUT_OF_MEMORY: "not enough memory: the run's estimated peak exceeds what this process may use "
    "(refused before computing), or it ran out of memory",
    ExitCode.OUTPUT_NOT_WRITABLE: "the output folder cannot be created or written (or holds other files, an "
    "earlier run without --overwrite, or another run is writing it)",
    ExitCode.STDOUT_NOT_WRITABLE: "standard output cannot be written (a full disk, /dev/full or a closed stream) "
    "while printing --validate-only's summary, --verify's list, --print-schema, --version or --help",
    ExitCode.INTERRUPTED: "interrupted (SIGTERM/SIGINT); safe to re-run",
}


def exit_code_summary() -> str:
    """One line naming every exit code, for ``--help``."""
    return "Exit codes: " + "; ".join(f"{int(c)} {c.meaning}" for c in ExitCode) + "."


class AleAppError(Exception):
    """Base of every error ale-app reports to a user.

    Parameters
    ----------
    message : str
        What is wrong, naming the thing the user can fix (spec field, file, line, id).
    hint : str, optional
        What to do about it.
    """

    exit_code = ExitCode.UNEXPECTED

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(AleAppError):
    """The command line is wrong (exit 64)."""

    exit_code = ExitCode.USAGE


class SpecError(AleAppError):
    """The analysis spec is not valid (exit 65)."""

    exit_code = ExitCode.INVALID_DATA


class InputDataError(AleAppError):
    """The input data cannot be used as it is (exit 65)."""

    exit_code = ExitCode.INVALID_DATA
    #: True when the message already lists every problem found (set by ale_app.inputs.checks).
    collected: bool = False


class MissingInputError(AleAppError):
    """A file the analysis needs does not exist or cannot be read (exit 66)."""

    exit_code = ExitCode.MISSING_INPUT


class ServiceUnavailable(AleAppError):
    """The dask scheduler cannot be reached, does not answer as one, has no workers or lost
    them (exit 69)."""

    exit_code = ExitCode.UNAVAILABLE


class OutOfMemory(AleAppError):
    """The run cannot fit in the memory this process may use, or ran out of it (exit 71,
    sysexits' EX_OSERR: an operating-system resource ran out)."""

    exit_code = ExitCode.OUT_OF_MEMORY


class OutputError(AleAppError):
    """The output folder cannot be created or written (exit 73)."""

    exit_code = ExitCode.OUTPUT_NOT_WRITABLE


class StdoutError(AleAppError):
    """What ale-app prints on standard output cannot be written (exit 74)."""

    exit_code = ExitCode.STDOUT_NOT_WRITABLE


class InterruptedRun(AleAppError):
    """The run was stopped by SIGTERM or SIGINT (exit 75); a re-run is safe."""

    exit_code = ExitCode.INTERRUPTED


class VerificationFailed(AleAppError):
    """``--verify`` found a changed input, a tampered record or a derivative that is not
    identical (exit 3, distinct from an unexpected error's 1)."""

    exit_code = ExitCode.VERIFY_DIFFERS
