"""The output folder: atomic, deterministic writes, the lock, and the overwrite rules.

This module knows paths and bytes, never output names: :mod:`ale_app.outputs.registry` owns those
and hands the folder the few it needs (:class:`OwnedNames`).

Each file is written to a temporary name in its folder and renamed into place, so it
appears complete or not at all. NIfTI files are float32 (labels int16), gzipped with no
timestamp or file name in the header; figures carry no date or software stamp.

One run at a time writes a folder: :func:`lock_output_dir` holds an exclusive ``flock`` on
``OUTPUT_DIR/.ale-app.lock`` for the whole run. :func:`inspect_output_dir` decides whether a
folder may be written, and ale-app only ever replaces or removes files it wrote itself.
"""

from __future__ import annotations

import errno
import fcntl
import gzip
import io
import json
import logging
import os
import re
import secrets
import stat
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any


from ale_app.digests import sha256_bytes
from ale_app.errors import OutputError
from ale_app.files import RECORD_LIMIT, read_regular_text

if TYPE_CHECKING:  # pandas is imported by the steps that make tables, not at start-up
    import pandas as pd

LGR = logging.getLogger("ale_app")

LOCK = ".ale-app.lock"
#: An ``--overwrite`` of a finished run writes the new run here, then swaps it in
#: (:mod:`ale_app.outputs.swap`); the earlier run's files wait in ``PREVIOUS`` during the
#: swap, which ``JOURNAL`` describes. None of them is left once a run ends.
STAGING = ".ale-app-staging"
PREVIOUS = ".ale-app-previous"
JOURNAL = ".ale-app-swap.json"
INTERNAL_NAMES = (STAGING, PREVIOUS, JOURNAL, JOURNAL + ".tmp")
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
    return bool(match) and f"{folder}/{match['name']}".lstrip("/") in known


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
        *folders, base = _split_output_name(name)
        try:
            dir_fd = open_output_subdir(self.destination, self._prefix + folders, create=True)
            try:
                refuse_link_at(dir_fd, base, target)
                tmp = f".{base}.{secrets.token_hex(6)}.tmp"
                try:
                    # Inside the try: a signal that arrives while the file is being created is
                    # raised where os.open returns, after the file exists, and must remove it.
                    try:
                        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
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
                        os.replace(tmp, base, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
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
        *folders, base = _split_output_name(name)
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


# --------------------------------------------------------------------------- output folder


def prepare_output_dir(path: Path) -> Path:
    """Create the output folder if needed and check that it is a writable folder."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"Cannot create the output folder {str(path)!r}: {exc.strerror or exc}.",
            hint="Choose a folder you can write to.",
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(
            f"The output folder {str(path)!r} is not writable.",
            hint="Choose a folder you can write to.",
        )
    return path


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
            raise _link_error(lock_path) from None
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
            if not existed and not _is_ale_app_output(Path(path), marker):
                try:
                    os.unlink(lock_path)  # unlink never follows a link
                except FileNotFoundError:
                    pass
            raise
    finally:
        os.close(fd)


@dataclass
class FolderState:
    """What an output folder holds before a run writes it.

    Attributes
    ----------
    own : list of str
        Files an earlier ale-app run wrote (names relative to the folder).
    temporary : list of str
        Temporary files a killed ale-app write left behind.
    others : list of str
        Everything else; ale-app never touches these.
    complete : bool
        Whether the earlier run finished (its ``provenance.json`` is there).
    """

    own: list[str] = field(default_factory=list)
    temporary: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    complete: bool = False


def inspect_output_dir(path: Path, overwrite: bool, names: OwnedNames) -> FolderState:
    """Decide whether a run may write ``path``; return what is in it.

    - An empty folder (or one with only ale-app's lock and temporary files) is used as it is.
    - A folder whose ``dataset_description.json`` was not written by ale-app but that holds
      other files is refused: ale-app never mixes its outputs into another program's folder.
    - An unfinished ale-app run (no ``provenance.json``) is completed without ``--overwrite``.
    - A finished ale-app run, or one with files ale-app did not write, needs ``overwrite``;
      then only ale-app's own files are replaced or removed and every other file is kept.
    """
    path = Path(path)
    files, links = _list_folder(path)
    files = [f for f in files if f != LOCK]
    ours = _is_ale_app_output(path, names.marker)
    known = names.known | set(_earlier_outputs(path, names.completion)) if ours else set()
    # A link where ale-app would write, rename or remove is refused, never followed.
    folders = {"/".join(n.split("/")[:i]) for n in names.known | known for i in range(1, n.count("/") + 1)}
    for name in links:
        if name in known or name in folders or is_temp_name(name, names.known) or name in names.known:
            raise _link_error(path / name)
    state = FolderState(complete=ours and (path / names.completion).is_file())
    for name in files:
        if is_temp_name(name, names.known):
            state.temporary.append(name)
        elif name in known:
            state.own.append(name)
        else:
            state.others.append(name)
    if not ours and state.others:
        raise OutputError(
            f"The output folder {str(path)!r} is not empty and does not hold an ale-app run.",
            hint="Choose an empty or new folder; ale-app never mixes its outputs with other files.",
        )
    if state.complete and not overwrite:
        raise OutputError(
            f"The output folder {str(path)!r} already holds an ale-app run.",
            hint="Pass --overwrite to replace it, or choose another folder.",
        )
    if state.others and not overwrite:
        shown = ", ".join(state.others[:5]) + (", ..." if len(state.others) > 5 else "")
        raise OutputError(
            f"The output folder {str(path)!r} holds an ale-app run and other files: {shown}.",
            hint="Pass --overwrite to replace ale-app's own files (the others are kept), or move them.",
        )
    return state


def start_writing(out: OutputFolder, state: FolderState, names: OwnedNames) -> None:
    """Make the folder look unfinished before the first write: remove the earlier run's
    completion file and any temporary files a killed run left."""
    if state.complete:
        LGR.info("Replacing the earlier ale-app run in %s (other files are kept)", out.root)
        out.remove(names.completion)
    elif state.own:
        LGR.info("Completing the unfinished ale-app run in %s", out.root)
    for name in state.temporary:
        out.remove(name)


def remove_stale_outputs(out: OutputFolder, state: FolderState, names: OwnedNames) -> list[str]:
    """Remove the earlier run's files that this run did not write again (before the completion file)."""
    stale = [n for n in state.own if n not in out.digests and n != names.completion]
    for name in stale:
        out.remove(name)
    return stale


def _split_output_name(name: str) -> list[str]:
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"not a relative output name: {name!r}")
    return parts


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def link_error(path: Path) -> OutputError:
    """The error for a symbolic link where ale-app would write, rename or remove."""
    return _link_error(path)


def _link_error(path: Path) -> OutputError:
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
        raise _link_error(shown)


def _list_folder(path: Path) -> tuple[list[str], list[str]]:
    """Every file and every symbolic link below ``path`` (links are listed, not followed),
    apart from what an ``--overwrite`` keeps in the folder while it runs (:data:`INTERNAL_NAMES`)."""
    files, links = [], []
    for folder, dirnames, filenames in os.walk(path, followlinks=False):
        rel = Path(folder).relative_to(path)
        if rel == Path("."):
            dirnames[:] = [d for d in dirnames if d not in INTERNAL_NAMES]
            filenames = [f for f in filenames if f not in INTERNAL_NAMES]
        for name in dirnames + filenames:
            full = Path(folder) / name
            entry = (rel / name).as_posix()
            if full.is_symlink():
                links.append(entry)
                files.append(entry)
            elif name in filenames:
                files.append(entry)
    return sorted(files), sorted(links)


def _name_max(path: Path) -> int:
    """The longest file name the file system holding ``path`` (or its nearest existing
    folder) allows, in bytes (255 on Linux's file systems)."""
    for folder in [path, *path.parents]:
        try:
            return os.pathconf(folder, "PC_NAME_MAX")
        except (OSError, ValueError):
            continue
    return 255


def check_output_path(output_dir: Path) -> None:
    """Refuse, before anything runs, an output folder whose path cannot exist: a name longer
    than the file system allows, or a folder on the way that cannot be reached (exit 73)."""
    path = Path(output_dir)
    limit = _name_max(path.absolute())
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > limit:
            raise OutputError(
                f"The output folder cannot be created: a name in its path is {size} bytes long "
                f"({part[:40]!r}...), and the file system allows at most {limit} bytes per name.",
                hint=f"Choose an output folder whose every name is at most {limit} bytes long.")
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return  # created later, or refused then with the reason
    except OSError as exc:
        raise OutputError(f"The output folder {str(output_dir)[:300]!r} cannot be reached: {exc.strerror}.",
                          hint="Choose a folder you can write to (every folder on its path must be one "
                          "this user can enter).") from None


def check_not_nested(output_dir: Path, input_paths: list[Path]) -> None:
    """Refuse an output folder inside (or equal to) an input folder, and an input inside
    the output folder (exit 73), before anything is written. Paths are compared after
    resolving links."""
    out = Path(os.path.realpath(output_dir))
    for given in input_paths:
        inp = Path(os.path.realpath(given))
        if inp.is_dir() and (out == inp or inp in out.parents):
            raise OutputError(
                f"The output folder {str(output_dir)!r} is inside the input folder {str(given)!r}.",
                hint="Choose an output folder outside the input data, which ale-app never changes.",
            )
        if out == inp or out in inp.parents:
            raise OutputError(
                f"The input {str(given)!r} is inside the output folder {str(output_dir)!r}.",
                hint="Choose an output folder that holds none of the inputs (the spec and its data).",
            )


def _earlier_outputs(path: Path, completion: str) -> list[str]:
    try:
        record = json.loads(read_regular_text(path / completion, RECORD_LIMIT))
        return [str(n) for n in record.get("Outputs", {})]
    except (OSError, ValueError, AttributeError):
        return []


def _is_ale_app_output(path: Path, marker: str) -> bool:
    try:
        desc = json.loads(read_regular_text(path / marker, RECORD_LIMIT))
    except (OSError, ValueError):
        return False
    generated = desc.get("GeneratedBy") or []
    return any(isinstance(g, dict) and g.get("Name") == "ale-app" for g in generated)
