"""One run at a time writes a folder: an exclusive ``flock`` on ``OUTPUT_DIR/.ale-app.lock``
for the whole run."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
from contextlib import contextmanager
from pathlib import Path

from ale_app.errors import OutputError
from ale_app.outputs.folder import LOCK
from ale_app.outputs.folder_state import is_ale_app_output
from ale_app.outputs.links import link_error

LGR = logging.getLogger("ale_app")


@contextmanager
def lock_output_dir(path: Path, marker: str):
    """Hold an exclusive lock on ``path/.ale-app.lock`` for the duration of the block.

    A second run into the same folder is refused at once (exit 73) rather than waiting.
    The lock file stays in the folder (removing it would let two runs lock different files).
    """
    lock_path = Path(path) / LOCK
    existed = os.path.lexists(lock_path)
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP or os.path.islink(lock_path):
            raise link_error(lock_path) from None
        raise OutputError(f"Cannot create the lock file {lock_path}: {exc.strerror or exc}.",
                          hint="Choose a folder you can write to.") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OutputError(f"The lock file {lock_path} is not a regular file.",
                          hint=f"Remove {lock_path} (ale-app creates it) and run again.")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputError(
                    f"Another ale-app run is writing to {str(path)!r} (it holds {LOCK}).",
                    hint="Wait for that run to finish, or choose another output folder.",
                ) from None
            # Some cluster file systems do not support flock at all: run unlocked, and say so.
            LGR.warning("Cannot lock %s (%s); this run is not protected against a second run "
                        "into the same folder.", lock_path, exc.strerror or exc)
        try:
            yield Path(path)
        except BaseException:
            # A run that stops before writing anything (a refused folder, bad input, an
            # interruption) leaves no trace of ale-app in the folder.
            if not existed and not is_ale_app_output(Path(path), marker):
                try:
                    os.unlink(lock_path)  # unlink never follows a link
                except FileNotFoundError:
                    pass
            raise
    finally:
        os.close(fd)
