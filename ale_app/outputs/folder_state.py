"""What an output folder holds before a run writes it, whether the run may write it (the
overwrite rules), and the clearing before the first write and before the last: ale-app only
ever replaces or removes files it wrote itself."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from ale_app.errors import OutputError
from ale_app.files import RECORD_LIMIT, read_regular_text
from ale_app.outputs.folder import INTERNAL_NAMES, LOCK, OutputFolder, OwnedNames, is_temp_name
from ale_app.outputs.links import link_error

LGR = logging.getLogger("ale_app")


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
    ours = is_ale_app_output(path, names.marker)
    known = names.known | set(_earlier_outputs(path, names.completion)) if ours else set()
    # A link where ale-app would write, rename or remove is refused, never followed.
    folders = {"/".join(n.split("/")[:i]) for n in names.known | known for i in range(1, n.count("/") + 1)}
    for name in links:
        if name in known or name in folders or is_temp_name(name, names.known) or name in names.known:
            raise link_error(path / name)
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


def _earlier_outputs(path: Path, completion: str) -> list[str]:
    try:
        record = json.loads(read_regular_text(path / completion, RECORD_LIMIT))
        return [str(n) for n in record.get("Outputs", {})]
    except (OSError, ValueError, AttributeError):
        return []


def is_ale_app_output(path: Path, marker: str) -> bool:
    """Whether ``path`` holds an ale-app run: its ``marker`` file says it was ``GeneratedBy`` ale-app."""
    try:
        desc = json.loads(read_regular_text(path / marker, RECORD_LIMIT))
    except (OSError, ValueError):
        return False
    generated = desc.get("GeneratedBy") or []
    return any(isinstance(g, dict) and g.get("Name") == "ale-app" for g in generated)
