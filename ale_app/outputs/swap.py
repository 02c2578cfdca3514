"""All-or-nothing ``--overwrite``: the new run is written beside the old one and swapped in
only when it is complete.

An ``--overwrite`` of a folder that holds a finished run (run A) writes the new run (B) into
``OUTPUT_DIR/.ale-app-staging/`` (hidden, on the same file system, so every move is a
``rename``). Until B's ``provenance.json`` is in the staging folder, run A is untouched:
a failure, a full disk or a kill leaves A whole, and the next run removes the staging folder.

The swap then:

1. writes the journal ``OUTPUT_DIR/.ale-app-swap.json`` (A's files, B's files) atomically;
   from here on the swap is completed, never undone, by whoever finds the journal;
2. moves each of A's files into ``OUTPUT_DIR/.ale-app-previous/`` (``provenance.json`` first,
   so the folder never looks complete while it holds parts of two runs);
3. moves each of B's files from the staging folder into place (``provenance.json`` last);
4. removes the journal, then the two hidden folders.

Every step is idempotent: a file is moved only if it is still where the step takes it from.
A run killed anywhere in 1-4 is completed by the next ale-app invocation on the folder (a
run, refused or not, or ``--verify``) before it looks at anything else
(:func:`recover_output_dir`); an error inside the swap (a disk that fails a rename) moves
everything back and leaves run A. Files that are not ale-app's are never moved: the swap
moves only the names of the two runs, one file at a time, following no link (every folder
is opened with ``O_NOFOLLOW`` relative to OUTPUT_DIR, as :class:`~ale_app.outputs.folder.OutputFolder`
does).

Knows paths and bytes, never output names (:class:`~ale_app.outputs.folder.OwnedNames`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
from pathlib import Path

from ale_app.errors import OutputError
from ale_app.files import RECORD_LIMIT, read_regular_text
from ale_app.outputs import folder as D
from ale_app.outputs.folder_state import inspect_output_dir
from ale_app.outputs.links import link_error, open_output_subdir, refuse_link_at, split_output_name

LGR = logging.getLogger("ale_app")

#: The new run, written beside the old one.
STAGING = D.STAGING
#: The old run's files, moved aside during the swap.
PREVIOUS = D.PREVIOUS
#: The swap's journal: present from the moment the swap must be completed until it is.
JOURNAL = D.JOURNAL
_JOURNAL_TMP = JOURNAL + ".tmp"

KEPT_HINT = D.KEPT_HINT


# --------------------------------------------------------------------------- staging


def start_staging(root: Path) -> None:
    """Create the empty staging folder in ``root`` (any leftover was removed by
    :func:`recover_output_dir` under the lock)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        refuse_link_at(fd, STAGING, Path(root) / STAGING)
        os.mkdir(STAGING, 0o755, dir_fd=fd)
    except OSError as exc:
        raise OutputError(f"Cannot create {Path(root) / STAGING}: {exc.strerror or exc}.",
                          hint="Check that the output folder is writable and the disk is not full.") from None
    finally:
        os.close(fd)


def discard_new_run(root: Path) -> None:
    """Remove the staging folder of a run that did not complete, and what a swap moved back
    left (empty folders); a later run removes them if this fails."""
    for folder in (STAGING, PREVIOUS):
        try:
            _remove_tree(Path(root), folder)
        except (OSError, OutputError) as exc:
            LGR.warning("Could not remove %s (%s); the next ale-app run on this folder removes it.",
                        Path(root) / folder, exc)


# --------------------------------------------------------------------------- the swap


def swap_in(out: D.OutputFolder, names: D.OwnedNames) -> None:
    """Replace the earlier run in ``out.destination`` by the complete run staged in ``out.root``.

    Call inside :func:`ale_app.process.runtime.deferred_signals`: once the journal is written
    the swap runs to its end. ``out.events`` (the tests') is called as ``events(0, "swap-start")``
    once the journal is in place, ``events(k, "swap")`` after the k-th move and
    ``events(0, "swap-end")`` once the journal is removed.
    """
    root = out.destination
    old = inspect_output_dir(root, True, names).own
    new = sorted(out.digests, key=lambda n: (n == names.completion, n))
    journal = {"Old": sorted(old, key=lambda n: (n != names.completion, n)), "New": new,
               "Completion": names.completion}
    events = out.events or (lambda n, phase: None)
    try:
        _write_journal(root, journal)
    except OSError as exc:
        _remove_journal(root, tmp=True, missing_ok=True)
        _remove_journal(root, missing_ok=True)  # nothing was moved yet
        raise OutputError(f"Cannot write {root / JOURNAL}: {exc.strerror or exc}.",
                          hint="Check that the output folder is writable and the disk is not full. " + KEPT_HINT) from None
    try:
        events(0, "swap-start")
        _roll_forward(root, journal, events)
    except (OSError, OutputError) as exc:
        try:
            _roll_back(root, journal)
        except (OSError, OutputError):
            raise OutputError(
                f"Cannot replace the earlier run in {root}: {_reason(exc)}; nor move it back.",
                hint="The next ale-app run on this folder (or --verify) completes the replacement "
                f"that {root / JOURNAL} describes.") from None
        raise OutputError(f"Cannot replace the earlier run in {root}: {_reason(exc)}.",
                          hint="Check that the output folder is writable. " + KEPT_HINT) from None
    _remove_journal(root)
    events(0, "swap-end")


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def finish_swap(root: Path) -> None:
    """Remove the earlier run's files and the emptied staging folder (after the swap)."""
    for folder in (PREVIOUS, STAGING):
        try:
            _remove_tree(Path(root), folder)
        except (OSError, OutputError) as exc:
            LGR.warning("Could not remove %s (%s); the next ale-app run on this folder removes it.",
                        Path(root) / folder, exc)


def swap_started(root: Path) -> bool:
    """Whether a swap's journal is in ``root``: the swap must be completed, not undone."""
    return os.path.lexists(Path(root) / JOURNAL)


def pending_swap(root: Path) -> bool:
    """Whether ``root`` holds what a killed ``--overwrite`` left (a journal, or the hidden folders)."""
    return any(os.path.lexists(Path(root) / name) for name in (JOURNAL, _JOURNAL_TMP, STAGING, PREVIOUS))


def recover_output_dir(root: Path) -> str | None:
    """Finish what a killed ``--overwrite`` left in ``root`` (call under the folder's lock,
    before anything else looks at the folder).

    With a journal, the swap it describes is completed (the new run was complete when the
    journal was written); without one, the staging folder (an unfinished new run) and the
    earlier run's moved-aside files (a swap that had finished) are removed. Returns
    ``"completed"``, ``"discarded"`` or None (nothing to do).
    """
    root = Path(root)
    if not pending_swap(root):
        return None
    for name in (JOURNAL, _JOURNAL_TMP, STAGING, PREVIOUS):
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            refuse_link_at(fd, name, root / name)
        finally:
            os.close(fd)
    outcome = "discarded"
    try:
        if os.path.lexists(root / JOURNAL):
            journal = _read_journal(root)
            LGR.warning("Completing the --overwrite that was interrupted in %s", root)
            _roll_forward(root, journal, lambda n, phase: None)
            _remove_journal(root)
            outcome = "completed"
        else:
            LGR.info("Removing what an interrupted --overwrite left in %s (the earlier run is kept)", root)
        _remove_journal(root, tmp=True, missing_ok=True)
        for folder in (STAGING, PREVIOUS):
            _remove_tree(root, folder)
    except OSError as exc:
        raise OutputError(f"Cannot complete the interrupted --overwrite in {root}: {exc.strerror or exc}.",
                          hint="Check that the output folder is writable, then run ale-app on it again.") from None
    return outcome


# --------------------------------------------------------------------------- moves


def _roll_forward(root: Path, journal: dict, events) -> None:
    """Move A's files aside, then B's into place; skip whatever an earlier attempt moved."""
    new = set(journal["New"])
    k = 0
    for name in journal["Old"]:
        # Still A's: not yet moved aside, and (if B has the name) B's file is still staged.
        if (not _exists(root, [PREVIOUS, name]) and _exists(root, [name])
                and (name not in new or _exists(root, [STAGING, name]))):
            _move(root, name, "", PREVIOUS)
            k += 1
            events(k, "swap")
    for name in journal["New"]:
        if _exists(root, [STAGING, name]):
            _move(root, name, STAGING, "")
            k += 1
            events(k, "swap")


def _roll_back(root: Path, journal: dict) -> None:
    """Undo a swap that failed in this process: B's moved files back to staging, A's back in place."""
    for name in reversed(journal["New"]):
        if not _exists(root, [STAGING, name]) and _exists(root, [name]):
            _move(root, name, "", STAGING)
    for name in journal["Old"]:
        if _exists(root, [PREVIOUS, name]):
            _move(root, name, PREVIOUS, "")
    _remove_journal(root)


def _parts(prefix: str, name: str) -> list[str]:
    return ([prefix] if prefix else []) + split_output_name(name)


def _exists(root: Path, parts: list[str]) -> bool:
    parts = [p for part in parts for p in part.split("/")]
    try:
        fd = open_output_subdir(root, parts[:-1], create=False)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        os.lstat(parts[-1], dir_fd=fd)
        return True
    except FileNotFoundError:
        return False
    finally:
        os.close(fd)


def _move(root: Path, name: str, src: str, dst: str) -> None:
    """Rename ``root/src/name`` to ``root/dst/name`` (``""`` is ``root`` itself), following no link."""
    *src_dirs, base = _parts(src, name)
    *dst_dirs, _ = _parts(dst, name)
    src_fd = open_output_subdir(root, src_dirs, create=False)
    try:
        dst_fd = open_output_subdir(root, dst_dirs, create=True)
        try:
            refuse_link_at(src_fd, base, root / "/".join(src_dirs + [base]))
            refuse_link_at(dst_fd, base, root / "/".join(dst_dirs + [base]))
            os.rename(base, base, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)


def _remove_tree(root: Path, name: str) -> None:
    """Remove the folder ``root/name`` and everything in it, following no link."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            info = os.lstat(name, dir_fd=fd)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode):
            raise link_error(root / name)
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(name, dir_fd=fd)
        else:
            os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- journal


def _write_journal(root: Path, journal: dict) -> None:
    data = (json.dumps(journal, indent=1) + "\n").encode("utf-8")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in (JOURNAL, _JOURNAL_TMP):
            refuse_link_at(fd, name, root / name)
        tmp = os.open(_JOURNAL_TMP, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                      0o644, dir_fd=fd)
        with os.fdopen(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(_JOURNAL_TMP, JOURNAL, src_dir_fd=fd, dst_dir_fd=fd)
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_journal(root: Path) -> dict:
    try:
        if os.path.islink(root / JOURNAL):
            raise OSError("it is a link")
        journal = json.loads(read_regular_text(root / JOURNAL, RECORD_LIMIT))
        for key in ("Old", "New"):
            if not isinstance(journal.get(key), list) or not all(isinstance(n, str) for n in journal[key]):
                raise ValueError(key)
            for name in journal[key]:
                split_output_name(name)
    except (OSError, ValueError) as exc:
        raise OutputError(f"Cannot read {root / JOURNAL}, the record of an interrupted --overwrite: {exc}.",
                          hint=f"ale-app writes that file; if it was edited, move {root / PREVIOUS} "
                          f"and {root / STAGING} out of the folder by hand and remove it.") from None
    return journal


def _remove_journal(root: Path, tmp: bool = False, missing_ok: bool = False) -> None:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.unlink(_JOURNAL_TMP if tmp else JOURNAL, dir_fd=fd)
        os.fsync(fd)
    except FileNotFoundError:
        if not missing_ok:
            raise
    finally:
        os.close(fd)
