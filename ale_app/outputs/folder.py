"""The output folder: atomic, deterministic writes, and the names ale-app keeps to itself in it.

This module knows paths and bytes, never output names: :mod:`ale_app.outputs.registry` owns those
and hands the folder the few it needs (:class:`OwnedNames`).

Each file is written to a temporary name in its folder and renamed into place, so it
appears complete or not at all. NIfTI files are float32 (labels int16), gzipped with no
timestamp or file name in the header; figures carry no date or software stamp.

One run at a time writes a folder: :func:`ale_app.outputs.lock.lock_output_dir` holds an
exclusive ``flock`` on ``OUTPUT_DIR/.ale-app.lock`` for the whole run.
:func:`ale_app.outputs.folder_state.inspect_output_dir` decides whether a folder may be
written, and ale-app only ever replaces or removes files it wrote itself; the output path is
checked before a run by :mod:`ale_app.outputs.output_dir`, and no link is followed
(:mod:`ale_app.outputs.links`).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ale_app.digests import sha256_bytes
from ale_app.errors import OutputError
from ale_app.outputs.links import open_output_subdir, refuse_link_at, split_output_name

if TYPE_CHECKING:  # pandas is imported by the steps that make tables, not at start-up
    import pandas as pd

LOCK = ".ale-app.lock"
#: An ``--overwrite`` of a finished run writes the new run here, then swaps it in
#: (:mod:`ale_app.outputs.swap`); the earlier run's files wait in ``PREVIOUS`` during the
#: swap, which ``JOURNAL`` describes. None of them is left once a run ends.
STAGING = ".ale-app-staging"
PREVIOUS = ".ale-app-previous"
JOURNAL = ".ale-app-swap.json"
#: A run keeps each finished analysis here until it is complete, for a resumed run
#: (:mod:`ale_app.run.resume`).
WORK = ".ale-app-work"
INTERNAL_NAMES = (STAGING, PREVIOUS, JOURNAL, JOURNAL + ".tmp", WORK)
#: The hint of an error that ends an ``--overwrite`` before its swap.
KEPT_HINT = "The earlier run in the output folder is unchanged; re-run the same command to replace it."

_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]+\.tmp$")


@dataclass(frozen=True)
class OwnedNames:
    """What the folder is told of the names of the files ale-app owns in it.

    Attributes
    ----------
    known : frozenset of str
        Every file name a run can write (relative, ``/``-separated).
    marker : str
        The file whose ``GeneratedBy`` says the folder holds an ale-app run.
    completion : str
        The file written last: its presence means the run finished.
    """

    known: frozenset
    marker: str
    completion: str


def is_temp_name(name: str, known) -> bool:
    """Whether ``name`` is a temporary file an ale-app write of one of ``known`` leaves if killed."""
    folder, _, base = name.rpartition("/")
    match = _TEMP_RE.match(base)
    return match is not None and f"{folder}/{match['name']}".lstrip("/") in known


def sidecar_name(name: str) -> str:
    """The JSON sidecar name of data file ``name``."""
    for ext in (".nii.gz", ".tsv", ".txt"):
        if name.endswith(ext):
            return name[: -len(ext)] + ".json"
    raise ValueError(name)


class OutputFolder:
    """An output folder that records the digest of every file it writes.

    Parameters
    ----------
    root : Path
        The derivatives folder; it must exist.
    completion : str, optional
        The file a run writes last: a signal that arrives while it is renamed into place lets
        the run complete instead of interrupting it.
    events : callable, optional
        Called as ``events(n_write, phase)`` with phase ``"before-rename"`` (the N-th file's
        temporary copy is complete) and ``"after-rename"``: where a run can be interrupted
        at exact points (the tests do). The swap of an ``--overwrite`` adds its own phases
        (:func:`ale_app.outputs.swap.swap_in`).
    staging : str, optional
        A folder inside ``root`` the files are written to instead (:data:`STAGING`, for an
        ``--overwrite`` of a finished run); it is opened like every folder below ``root``,
        following no link.

    Attributes
    ----------
    destination : Path
        The output folder the run is for (``root``): provenance records it.
    root : Path
        Where the files are now (``root``, or the staging folder in it).
    """

    def __init__(self, root: Path, completion: str | None = None, events=None, staging: str | None = None):
        self.destination = Path(root)
        self.staging = staging
        self.root = self.destination / staging if staging else self.destination
        self.completion = completion
        self.events = events
        self.digests: dict[str, str] = {}
        self.n_writes = 0
        self._prefix = [staging] if staging else []

    def write_bytes(self, name: str, data: bytes) -> str:
        """Write ``data`` to ``name`` atomically; return its SHA-256.

        The bytes go to a temporary file in the same folder, are flushed to disk and renamed
        into place; if anything fails or the run is interrupted, the temporary file is removed.
        No symbolic link is followed: every folder below the root is opened with
        ``O_NOFOLLOW`` and the file is created and renamed relative to that folder, so a link
        planted at the file or at any folder on its path is refused (exit 73), never written
        through. A signal that arrived earlier (even one whose exception a library swallowed)
        stops the write before it starts.
        """
        from ale_app.process import runtime

        runtime.raise_if_interrupted()
        target = self.root / name
        self.n_writes += 1
        n_write = self.n_writes
        *folders, base = split_output_name(name)
        try:
            dir_fd = open_output_subdir(self.destination, self._prefix + folders, create=True)
            try:
                refuse_link_at(dir_fd, base, target)
                temp = f".{base}.{secrets.token_hex(6)}.tmp"
                tmp: str | None = temp  # what to remove on failure: None once it is not ours
                try:
                    # Inside the try: a signal that arrives while the file is being created is
                    # raised where os.open returns, after the file exists, and must remove it.
                    try:
                        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                                     0o644, dir_fd=dir_fd)
                    except FileExistsError:  # not ours (48 random bits): leave it
                        tmp = None
                        raise
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(data)
                        fh.flush()
                        os.fsync(fh.fileno())
                        os.fchmod(fh.fileno(), 0o644)
                    self._event(n_write, "before-rename")
                    with runtime.deferred_signals(completes_run=name == self.completion):
                        refuse_link_at(dir_fd, base, target)
                        os.replace(temp, base, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                except BaseException:
                    if tmp is not None:
                        try:
                            os.unlink(tmp, dir_fd=dir_fd)
                        except FileNotFoundError:
                            pass
                    raise
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise OutputError(
                f"Cannot write {target}: {exc.strerror or exc}.",
                hint=("Check that the output folder is writable and the disk is not full. " + KEPT_HINT
                      if self.staging else
                      "Check that the output folder is writable and the disk is not full; finished "
                      "files are complete, and re-running the same command completes the folder."),
            ) from None
        digest = sha256_bytes(data)
        self.digests[name] = digest
        self._event(n_write, "after-rename")
        return digest

    def _event(self, n_write: int, phase: str) -> None:
        if self.events is not None:
            self.events(n_write, phase)

    def remove(self, name: str) -> None:
        """Remove ``name``, a file an earlier ale-app run wrote, if it is there.

        Like :meth:`write_bytes`, it follows no link: a link at ``name`` or at a folder on its
        path is refused (exit 73).
        """
        from ale_app.process import runtime

        runtime.raise_if_interrupted()
        *folders, base = split_output_name(name)
        try:
            try:
                dir_fd = open_output_subdir(self.destination, self._prefix + folders, create=False)
            except FileNotFoundError:
                return
            try:
                try:
                    refuse_link_at(dir_fd, base, self.root / name)
                    os.unlink(base, dir_fd=dir_fd)
                except FileNotFoundError:
                    pass
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise OutputError(f"Cannot remove {self.root / name}: {exc.strerror or exc}.",
                              hint="Check that the output folder is writable.") from None

    def write_json(self, name: str, obj: Any) -> str:
        """Write ``obj`` as indented UTF-8 JSON."""
        text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        return self.write_bytes(name, text.encode("utf-8"))

    def write_text(self, name: str, text: str) -> str:
        """Write UTF-8 text."""
        return self.write_bytes(name, text.encode("utf-8"))

    def write_tsv(self, name: str, table: pd.DataFrame) -> str:
        """Write a table as TSV, ``n/a`` for missing values, full float precision."""
        buf = io.StringIO()
        table.to_csv(buf, sep="\t", index=False, na_rep="n/a", lineterminator="\n", float_format="%.9g")
        return self.write_text(name, buf.getvalue())

    def write_nifti(self, name: str, img) -> str:
        """Write a NIfTI image, gzipped deterministically (no mtime, no file name)."""
        raw = img.to_bytes()
        data = gzip.compress(raw, compresslevel=6, mtime=0)
        return self.write_bytes(name, data)
