"""Following no link below the output folder: an output name split into its folders, each
folder opened with ``O_NOFOLLOW`` relative to its parent, and the error for a symbolic link
where ale-app would write, rename or remove (exit 73)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ale_app.errors import OutputError


def split_output_name(name: str) -> list[str]:
    """The parts of a relative output name (``a/b.json`` -> ``['a', 'b.json']``); ValueError for
    an empty, absolute or dotted name."""
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"not a relative output name: {name!r}")
    return parts


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def link_error(path: Path) -> OutputError:
    """The error for a symbolic link where ale-app would write, rename or remove."""
    return OutputError(
        f"{path} is a symbolic link; ale-app never writes, renames or removes through a link.",
        hint="Remove the link (ale-app recreates what it needs) or choose another output folder.",
    )


def open_output_subdir(root: Path, folders: list[str], create: bool) -> int:
    """Open ``root/folders...`` and return its file descriptor, following no link below
    ``root`` (``root`` itself is the folder the user named). Missing folders are created when
    ``create``, else :class:`FileNotFoundError` is raised. A link on the path is an
    :class:`OutputError` naming it."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    current = Path(root)
    try:
        for part in folders:
            current = current / part
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    refuse_link_at(fd, part, current)
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def refuse_link_at(dir_fd: int, name: str, shown: Path) -> None:
    """Raise :class:`OutputError` if ``name`` in the folder ``dir_fd`` is a symbolic link
    (``shown`` is its path for the message); a missing name is fine."""
    try:
        info = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise link_error(shown)
