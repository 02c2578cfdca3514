"""Reading an input's file(s) with its reader, once per run for the groups that share it:
inside :func:`shared_reads`, a file read again with the same format, columns and sheet is
parsed once (a project's groups that select from one ``input``).
"""

from __future__ import annotations

import copy
import os
from contextlib import contextmanager
from pathlib import Path

from ale_app.spec.models import InputSpec

__all__ = ["read_files_once", "shared_reads"]


#: The files read so far inside :func:`shared_reads`, by what was read and how; None outside it.
_SHARED_READS: dict | None = None


@contextmanager
def shared_reads():
    """Inside this block, a file read with the same format, columns and sheet again (the
    groups of a project that select from one shared ``input``) is parsed once: later reads
    get a copy of the first's result, with the same warnings and notes."""
    global _SHARED_READS
    outer, _SHARED_READS = _SHARED_READS, {} if _SHARED_READS is None else _SHARED_READS
    try:
        yield
    finally:
        _SHARED_READS = outer


def _read_key(input_spec: InputSpec, path: list[Path], file_field: str) -> tuple:
    """What makes two reads the same: the files (and their size, inode and change time, so a
    file replaced in between is read again), format, columns, sheet and the spec field named."""
    files = tuple((str(p), *(lambda st: (st.st_ino, st.st_size, st.st_mtime_ns))(os.stat(p))) for p in path)
    columns = None if input_spec.columns is None else tuple(sorted(input_spec.columns.model_dump().items()))
    return (files, input_spec.format, columns, input_spec.sheet, file_field, isinstance(input_spec.path, str),
            input_spec.pool_experiments)


def read_files_once(input_spec: InputSpec, path: list[Path], names: list[str], file_field: str) -> tuple:
    """``(read, reads)``: what the reader(s) found, as one result, and each file's own (one
    file, or a list read as one evidence base); inside :func:`shared_reads`, parsed once."""
    if _SHARED_READS is None:
        return _read_files_now(input_spec, path, names, file_field)
    try:
        key = _read_key(input_spec, path, file_field)
    except OSError:  # the reader says what is wrong with the file
        return _read_files_now(input_spec, path, names, file_field)
    if key not in _SHARED_READS:
        _SHARED_READS[key] = _read_files_now(input_spec, path, names, file_field)
    return copy.deepcopy(_SHARED_READS[key])


def _read_files_now(input_spec: InputSpec, path: list[Path], names: list[str], file_field: str) -> tuple:
    from ale_app.inputs.readers import read_input

    mapping = None if input_spec.columns is None else input_spec.columns.model_dump()
    if isinstance(input_spec.path, str):
        read = read_input(path[0], input_spec.format, columns=mapping, sheet=input_spec.sheet, field=file_field,
                          pool_experiments=input_spec.pool_experiments)
        return read, [read]
    from ale_app.inputs.readers.combine import read_files

    return read_files(path, names, input_spec.format, columns=mapping, sheet=input_spec.sheet, field=file_field)
