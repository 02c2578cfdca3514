"""Readers that turn each input format into one NIMADS studyset.

Every reader returns a :class:`ReadResult`: a NIMADS dictionary (or, for parquet folders,
the folder NiMARE's ``Studyset`` reads), the analysis ids in file order, and where each
analysis is in the file, so that the shared checks in :mod:`ale_app.inputs` can name it.
:func:`read_input` picks the reader (``format: auto`` decides by extension and content).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ale_app.errors import InputDataError, MissingInputError

FORMATS = ("nimads", "nimare-json", "sleuth", "tsv", "parquet")

#: Space labels NiMARE converts to MNI (``TAL``) or keeps (``MNI``), after normalising.
SPACE_ALIASES = {
    "mni": "MNI", "mni152": "MNI", "icbm": "MNI", "icbm152": "MNI", "mni152_2mm": "MNI",
    "ale_2mm": "MNI", "tal": "TAL", "talairach": "TAL",
}


def normalize_space(label: str) -> str | None:
    """Return ``MNI`` or ``TAL`` for a space label GingerALE or NiMARE accepts, else None."""
    key = "".join(str(label).split()).lower()
    return SPACE_ALIASES.get(key)


@dataclass
class ReadResult:
    """What a reader found.

    Attributes
    ----------
    source : dict or Path
        A NIMADS studyset dictionary, or a parquet studyset folder.
    ids : list of str
        Analysis ids ``<study id>-<analysis id>`` in file order.
    format : str
        The format that was read.
    where : dict
        Analysis id -> where it is in the file (e.g. ``"line 12"``), for messages.
    """

    source: Any
    ids: list[str]
    format: str
    where: dict[str, str] = field(default_factory=dict)


def read_text(path: Path, what: str) -> tuple[str, list[str]]:
    """Read a text file; refuse empty and binary files; return (text, lines).

    A UTF-8 byte order mark is dropped; files that are not UTF-8 are read as Windows-1252,
    which is what GingerALE on Windows writes.
    """
    data = read_bytes(path)
    refuse_binary(path, data, f"{what} text",
                  "Export the coordinates as text (Sleuth .txt, .tsv or .csv), or check input.path.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return text, text.splitlines()


def refuse_binary(path: Path, data: bytes, what: str, hint: str) -> None:
    """Exit 65 when ``data`` looks binary (a NUL byte near the start)."""
    if b"\x00" in data[:8192]:
        raise InputDataError(f"The input file {str(path)!r} is a binary file, not {what}.", hint=hint)


def read_bytes(path: Path) -> bytes:
    """Read a file's bytes; unreadable is exit 66, empty is exit 65."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MissingInputError(
            f"The input file {str(path)!r} cannot be read: {exc.strerror}.",
            hint="Check the file's permissions, and that input.path names a file.",
        ) from None
    if not data.strip():
        raise InputDataError(
            f"The input file {str(path)!r} is empty.",
            hint="Check input.path; the file has no studies in it.",
        )
    return data


def detect_format(path: Path) -> str:
    """Pick a format from the path's extension and, for JSON, its content."""
    if path.is_dir():
        return "parquet"
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".csv"):
        return "tsv"
    if suffix == ".json":
        from ale_app.readers.studyset_json import detect_json_format, load_json

        fmt = detect_json_format(load_json(path))
        if fmt is None:
            raise InputDataError(
                f"The input file {str(path)!r} is JSON but neither a NIMADS studyset "
                "(top-level 'studies' list) nor a NiMARE JSON dataset (study ids mapping to "
                "'contrasts').",
                hint="Check that input.path names the studyset file.",
            )
        return fmt
    text, lines = read_text(path, "studyset")
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    if first.startswith("//"):
        return "sleuth"
    if first.startswith(("{", "[")):
        from ale_app.readers.studyset_json import detect_json_format, load_json

        fmt = detect_json_format(load_json(path))
        if fmt is not None:
            return fmt
    if "study_id" in first:
        return "tsv"
    raise InputDataError(
        f"Cannot tell the format of {str(path)!r}: it is not a Sleuth file (first line "
        f"{first[:40]!r} does not start with '//'), a table with a 'study_id' column, or JSON.",
        hint="Set input.format (nimads, nimare-json, sleuth, tsv, parquet), or check input.path.",
    )


def read_input(path: Path, fmt: str) -> ReadResult:
    """Read ``path`` as ``fmt`` (``auto`` detects it) into a :class:`ReadResult`."""
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "parquet":
        from ale_app.readers.parquet import read_parquet_folder

        return read_parquet_folder(path)
    if path.is_dir():
        raise InputDataError(
            f"The input path {str(path)!r} is a folder, but input.format is {fmt!r}.",
            hint="Point input.path at a file, or set input.format to 'parquet' (or 'auto') for "
            "a parquet studyset folder.",
        )
    if fmt == "sleuth":
        from ale_app.readers.sleuth import read_sleuth

        return read_sleuth(path)
    if fmt == "tsv":
        from ale_app.readers.table import read_table

        return read_table(path)
    from ale_app.readers.studyset_json import read_json_studyset

    return read_json_studyset(path, fmt)


@dataclass
class Experiment:
    """One experiment as a text reader found it (before NIMADS)."""

    study: str
    analysis: str
    sample_size: int | None
    space: str
    line: int
    points: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def id(self) -> str:
        """``<study id>-<analysis id>``, as NiMARE names analyses."""
        return f"{self.study}-{self.analysis}"


def nimads_from_experiments(experiments: list[Experiment], name: str) -> dict:
    """A NIMADS studyset dictionary; studies in order of their first experiment."""
    studies: dict[str, dict] = {}
    for exp in experiments:
        study = studies.setdefault(exp.study, {"id": exp.study, "name": exp.study, "analyses": []})
        metadata = {} if exp.sample_size is None else {"sample_sizes": [exp.sample_size]}
        study["analyses"].append({
            "id": exp.analysis,
            "name": exp.analysis,
            "points": [{"space": exp.space, "coordinates": list(p)} for p in exp.points],
            "metadata": metadata,
        })
    return {"id": name, "name": name, "studies": list(studies.values())}
