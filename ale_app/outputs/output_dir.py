"""The output folder's path, checked before anything runs (a name longer than the file system
allows, a folder on the way that cannot be entered, an output inside an input or the other way
round: exit 73), and created when the run starts."""

from __future__ import annotations

import os
from pathlib import Path

from ale_app.errors import OutputError


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
