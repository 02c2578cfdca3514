"""Where the input files are: ``input.path`` resolved (``nimare:NAME`` inside NiMARE's
resources, else relative to the spec's folder), named in messages, and digested through the
bounded opener. No heavy library: a missing input is reported before NiMARE is imported.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from ale_app.errors import MissingInputError, SpecError
from ale_app.files import INPUT_LIMIT, RefusedFile, sha256_regular

NIMARE_PREFIX = "nimare:"


def nimare_resource_dir() -> Path:
    """NiMARE's resource folder, as ``nimare.utils.get_resource_path()`` gives it, found
    without importing NiMARE (its import takes seconds, and a missing input or a refused
    output folder should be reported before that)."""
    found = importlib.util.find_spec("nimare")
    if found is None or found.origin is None:
        raise MissingInputError("NiMARE is not installed, so 'nimare:' inputs cannot be found.",
                                hint="Install ale-app with its dependencies (pip install ale-app).")
    return Path(found.origin).parent / "resources"


def resolve_input_path(path: str, spec_dir: Path) -> Path:
    """Resolve ``input.path``: ``nimare:NAME`` from NiMARE's resources, else spec-relative.

    ``nimare:NAME`` stays inside NiMARE's resource folder: a name that leads out of it (``..``,
    an absolute path, a link to elsewhere) is refused (exit 65).
    """
    if path.startswith(NIMARE_PREFIX):
        name = path[len(NIMARE_PREFIX) :]
        folder = nimare_resource_dir()
        resolved = folder / name
        inside = (not Path(name).is_absolute() and ".." not in Path(name).parts and name.strip()
                  and resolved.resolve().is_relative_to(folder.resolve()))
        if not inside:
            raise SpecError(
                f"The input path {path[:200]!r} leads outside NiMARE's bundled resources ({folder}).",
                hint="'nimare:NAME' names a file or folder of NiMARE's resources, e.g. "
                "'nimare:nidm_pain_studyset.json'; give any other file as a path relative to the spec's folder.",
            )
    else:
        resolved = Path(path)
        if not resolved.is_absolute():
            resolved = spec_dir / resolved
    try:
        resolved.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise MissingInputError(
            f"The input file {path!r} does not exist (looked for {resolved}).",
            hint="input.path is relative to the spec's folder; 'nimare:NAME' names a file "
            "bundled with NiMARE.",
        ) from None
    except OSError as exc:  # a folder on the way this user cannot enter, a name too long, a link loop
        raise MissingInputError(
            f"The input file {path[:300]!r} cannot be reached ({str(resolved)[:300]}): {exc.strerror}.",
            hint="Check that every folder on its path can be entered by this user ('ls -ld' each one; "
            "'chmod a+x' a folder to let others through it) and that each name is at most 255 bytes.",
        ) from None
    return resolved


def input_paths(path: str | list[str]) -> list[str]:
    """The files of ``input.path`` (one, or the list), as the spec names them."""
    return [path] if isinstance(path, str) else list(path)


def path_label(path: str | list[str]) -> str:
    """``input.path`` in messages: ``'faces.txt'``, or ``'mni.txt' + 'tal.txt'`` for a list."""
    return " + ".join(repr(p) for p in input_paths(path))


def sha256_path(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files (sorted names and their digests), hashed
    through the bounded opener: :class:`ale_app.files.RefusedFile` for a pipe, a device or a
    file above the input limit (a folder's other entries than regular files are skipped)."""
    if not path.is_dir():
        return sha256_regular(path, INPUT_LIMIT)
    digest = hashlib.sha256()
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{child.relative_to(path).as_posix()}\0{sha256_regular(child, INPUT_LIMIT)}\n".encode())
    return digest.hexdigest()


def input_digest(path: Path) -> str:
    """SHA-256 of an input (:func:`sha256_path`); an input the bounded opener now refuses (replaced by
    a pipe or a device since it was read) is exit 65."""
    from ale_app.inputs.readers.input_file import refused_input

    try:
        return sha256_path(path)
    except RefusedFile as exc:  # replaced by a pipe or a device since it was read
        raise refused_input(path, exc) from None
