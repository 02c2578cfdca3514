"""One exception family for everything ale-app reports to its users.

Each error carries the exit code of the BIDS-App execution spec and a hint that says
what the user can change. :mod:`ale_app.cli` turns them into one message at the edge.
"""

from __future__ import annotations


class AleAppError(Exception):
    """Base of every error ale-app reports to a user.

    Parameters
    ----------
    message : str
        What is wrong, naming the thing the user can fix (spec field, file, line, id).
    hint : str, optional
        What to do about it.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(AleAppError):
    """The command line is wrong (exit 64)."""

    exit_code = 64


class SpecError(AleAppError):
    """The analysis spec is not valid (exit 65)."""

    exit_code = 65


class InputDataError(AleAppError):
    """The input data cannot be used as it is (exit 65)."""

    exit_code = 65


class MissingInputError(AleAppError):
    """A file the analysis needs does not exist or cannot be read (exit 66)."""

    exit_code = 66


class OutputError(AleAppError):
    """The output folder cannot be created or written (exit 73)."""

    exit_code = 73


class InterruptedRun(AleAppError):
    """The run was stopped by SIGTERM or SIGINT (exit 75); a re-run is safe."""

    exit_code = 75


class VerificationFailed(AleAppError):
    """``--verify`` found a changed input or a derivative that is not identical (exit 1)."""

    exit_code = 1
