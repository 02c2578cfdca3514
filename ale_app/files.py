"""The one way ale-app opens a file it reads: regular files only, of bounded size, read in
blocks so that SIGINT and SIGTERM are answered while reading or hashing.

A pipe (FIFO), a device (``/dev/zero``, ``/dev/urandom``), a socket or a link to one is
refused before it is read (a pipe is opened without waiting for a writer); so is a file
larger than its limit, and a file that grows past it while it is read. Callers turn
:class:`RefusedFile` into their message and exit code (it is an ``OSError``, so code that
already reports unreadable files reports it too). Imports nothing of ale-app.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

MiB = 1 << 20
GiB = 1 << 30

#: An input file (a studyset, a table, a workbook, one file of a parquet folder).
INPUT_LIMIT = 1 * GiB
#: A spec (YAML or JSON), and the records of a run that ``--verify`` and a re-run read:
#: ``provenance.json``, ``spec.json``, ``dataset_description.json``.
RECORD_LIMIT = 64 * MiB
#: A derivative that ``--verify`` re-hashes.
OUTPUT_LIMIT = 1 * GiB

#: Read and hashed in blocks of this size (a signal is answered between two blocks).
BLOCK = 1 * MiB


class RefusedFile(OSError):
    """``path`` is not a regular file, or is larger than the limit.

    Attributes
    ----------
    reason : str
        In words: ``"not a regular file (a pipe)"``, ``"larger than the 1 GiB limit (...)"``.
    too_large : bool
        The file is regular but too large (else it is not a regular file).
    """

    def __init__(self, path: Path, reason: str, too_large: bool = False):
        super().__init__(reason)
        self.path = Path(path)
        self.reason = reason
        self.too_large = too_large
        self.strerror = reason

    def __str__(self) -> str:
        return self.reason


def size_text(n: int) -> str:
    """``"1 GiB"``, ``"64 MiB"``, ``"12,345 bytes"``."""
    for unit, name in ((GiB, "GiB"), (MiB, "MiB")):
        if n >= unit and n % unit == 0:
            return f"{n // unit} {name}"
    return f"{n:,} bytes"


def kind_of(mode: int) -> str:
    """What a file that is not regular is, in words."""
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _refuse_mode(path: Path, st: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        target = f"{kind_of(st.st_mode)}" + (f", through the link to {os.path.realpath(path)}"
                                              if os.path.islink(path) else "")
        raise RefusedFile(path, f"not a regular file ({target})")
    if st.st_size > limit:
        raise RefusedFile(path, f"larger than the {size_text(limit)} limit ({st.st_size:,} bytes)", too_large=True)


def check_regular(path: Path, limit: int) -> int:
    """Raise :class:`RefusedFile` unless ``path`` is a regular file of at most ``limit``
    bytes (links followed); return its size. ``FileNotFoundError`` and other ``OSError``
    pass through."""
    st = os.stat(path)
    _refuse_mode(Path(path), st, limit)
    return st.st_size


def open_regular(path: Path, limit: int):
    """Open ``path`` for reading in binary, after :func:`check_regular`; the open never waits
    (``O_NONBLOCK``: a pipe swapped in after the check is refused, not waited on)."""
    check_regular(path, limit)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        _refuse_mode(Path(path), os.fstat(fd), limit)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _blocks(path: Path, limit: int):
    with open_regular(path, limit) as fh:
        total = 0
        while True:
            block = fh.read(BLOCK)
            if not block:
                return
            total += len(block)
            if total > limit:
                raise RefusedFile(path, f"larger than the {size_text(limit)} limit (it grew while it was read)",
                                  too_large=True)
            yield block


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, read in blocks."""
    return b"".join(_blocks(path, limit))


def read_regular_text(path: Path, limit: int, encoding: str = "utf-8") -> str:
    """:func:`read_regular`, decoded (``UnicodeDecodeError`` passes through)."""
    return read_regular(path, limit).decode(encoding)


def sha256_regular(path: Path, limit: int) -> str:
    """Hex SHA-256 of a regular file of at most ``limit`` bytes, hashed in blocks."""
    digest = hashlib.sha256()
    for block in _blocks(path, limit):
        digest.update(block)
    return digest.hexdigest()
