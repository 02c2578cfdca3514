"""What every reader shares: the formats and space names, the reader's result
(:class:`ReadResult`: a NIMADS dictionary, or the folder NiMARE's ``Studyset`` reads, the
analysis ids in file order, and where each analysis is in the file, so that the shared checks
in :mod:`ale_app.inputs.evidence` can name it), experiments and problems as the readers
collect them, and the bounded, checked reading of an input file. The readers
(:mod:`ale_app.inputs.readers.table`, ``excel``, ``sleuth``, ``studyset_json``, ``parquet``)
import this module; :func:`ale_app.inputs.readers.read_input` picks one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ale_app.errors import InputDataError, MissingInputError
from ale_app.files import INPUT_LIMIT, RefusedFile

FORMATS = ("nimads", "nimare-json", "sleuth", "tsv", "xlsx", "parquet")
#: Formats that are tables (``input.columns`` applies to them).
TABLE_FORMATS = ("tsv", "xlsx")

#: Space labels NiMARE converts to MNI (``TAL``) or keeps (``MNI``), after normalising.
SPACE_ALIASES = {
    "mni": "MNI", "mni152": "MNI", "icbm": "MNI", "icbm152": "MNI", "mni152_2mm": "MNI",
    "ale_2mm": "MNI", "tal": "TAL", "talairach": "TAL",
}


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``"1 focus"``, ``"11 foci"``: the count and the word in the right number."""
    return f"{n} {singular if n == 1 else (plural_form or singular + 's')}"


def normalize_space(label: str) -> str | None:
    """Return ``MNI`` or ``TAL`` for a space label GingerALE or NiMARE accepts, else None."""
    key = "".join(str(label).split()).lower()
    return SPACE_ALIASES.get(key)


#: A number as a file should write it: ASCII digits, an optional sign, point and exponent
#: (``nan`` and ``inf`` read as numbers here and are refused as not finite by the readers).
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                           r"|[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_PLAIN_WHOLE = re.compile(r"[+-]?[0-9]+")
NUMBER_HINT = ("Write numbers with the digits 0-9, a point for decimals and nothing between the digits, "
               "e.g. '-42 18 6' or '-41.5'.")


def read_number(text: str, whole: bool = False) -> float | int:
    """``text`` as a number (``whole``: an integer), as a person reads it.

    Python's ``float`` and ``int`` read more than that: ``4_2`` as 42, and full-width
    (``４２``) or Arabic-Indic (``٤٢``) digits as their values. Those raise a ValueError whose
    message says what is in the way; text that is no number at all raises one with an empty
    message.
    """
    text = text.strip()
    pattern = _PLAIN_WHOLE if whole else _PLAIN_NUMBER
    if pattern.fullmatch(text):
        return int(text) if whole else float(text)
    try:
        int(text) if whole else float(text)
    except (ValueError, OverflowError):
        raise ValueError("") from None
    raise ValueError(f"it is not written with the digits 0-9 only ({_odd_characters(text)})")


def _odd_characters(text: str) -> str:
    odd = [c for c in dict.fromkeys(text) if not (c.isascii() and (c.isdigit() or c in "+-.eE"))]
    return ", ".join(("an underscore" if c == "_" else
                      f"{unicodedata.name(c, 'character').lower()} U+{ord(c):04X}") for c in odd[:3])


#: A text reader stops reading after this many problems: a file of any size is known not to
#: be what its format says within seconds (at most ``checks.MAX_PROBLEMS`` are listed anyway).
STOP_AFTER_PROBLEMS = 200


@dataclass
class Problem:
    """One problem found in the input: where it is (``"line 9"``), what, and a hint."""

    where: str
    text: str
    hint: str


@dataclass
class ReadResult:
    """What a reader found.

    Attributes
    ----------
    source : dict or Path
        A NIMADS studyset dictionary, or a parquet studyset folder.
    ids : list of str
        Analysis ids ``<study id>-<analysis id>`` in file order, each once.
    format : str
        The format that was read.
    where : dict
        Analysis id -> where it is in the file (e.g. ``"line 12"``), for messages.
    entries : list of tuple
        Every experiment as found, duplicates included: ``(id, study, analysis, where)``.
    contents : list
        Parallel to ``entries``: each experiment's ``(sample size, sorted foci)``, to tell an
        experiment entered twice from two experiments that share a name; empty when the
        reader does not know them.
    focus_lines : dict
        Analysis id -> the file line of each focus, in the order of its points.
    broken : set of str
        Analyses with a row or header that could not be read (already a problem).
    problems : list of Problem
        Problems found while reading (the reader carries on after each).
    structural : bool
        A problem makes the rest of the file unusable (no or unknown reference space).
    encoding : str or None
        The text encoding used (``utf-8``, or the fallback ``cp1252``/``latin-1``).
    notes : list of str
        Warnings about the reading itself (e.g. the fallback encoding).
    columns : AnalysisColumns or None
        The columns that describe analyses (for ``select.where``); None when the format has
        no such columns (Sleuth).
    table_columns : list of str or None
        For a table: its columns that are not read as coordinates, ids or sample sizes (the
        candidates of the note on ignored columns); None for other formats.
    table_roles : list of str or None
        For a table: the roles (``study``, ``sample_size``, ...) it has a column for.
    sheet : str or None
        For a workbook: the sheet that was read.
    sheet_note : str or None
        For a workbook: which sheet was read, and why, in words (for the log).
    stopped : str or None
        Where the reader stopped reading (``"line 412 of 1638401"``) after
        :data:`STOP_AFTER_PROBLEMS` problems (then ``structural`` is set too); None when it
        read the whole file.
    """

    source: Any
    ids: list[str]
    format: str
    where: dict[str, str] = field(default_factory=dict)
    entries: list[tuple[str, str | None, str | None, str]] = field(default_factory=list)
    contents: list[tuple | None] = field(default_factory=list)
    focus_lines: dict[str, list[int]] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    structural: bool = False
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)
    columns: AnalysisColumns | None = field(default=None, repr=False)
    table_columns: list[str] | None = None
    table_roles: list[str] | None = None
    sheet: str | None = None
    sheet_note: str | None = None
    stopped: str | None = None

    @property
    def attributes(self) -> dict[str, dict[str, str]]:
        """Analysis id -> {column: value as text}: every descriptive column of every analysis
        (analyses without a value in a column leave it out). Builds the whole table; to
        select by one column, :meth:`AnalysisColumns.column` reads only that column."""
        return {} if self.columns is None else self.columns.attributes


def value_text(value: Any) -> str | None:
    """A scalar value as the text ``select.where`` compares with; None for no value (null,
    NaN) or a value that is not a scalar (a list or an object).

    Booleans are ``true``/``false`` (as JSON writes them) and whole floats lose their
    ``.0`` (a parquet column of sample sizes reads ``20.0`` for ``20``).
    """
    if value is None or isinstance(value, (list, tuple, dict, set)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    kind = type(value).__name__
    if isinstance(value, bool) or kind in ("bool_", "bool"):
        return "true" if bool(value) else "false"
    if hasattr(value, "ndim") and getattr(value, "ndim", 0) != 0:
        return None  # an array cell
    if isinstance(value, int) or kind.startswith(("int", "uint")):
        return str(int(value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number:  # NaN: no value
        return None
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


class AnalysisColumns:
    """The columns that describe analyses (a table's group column, a studyset's annotations
    and metadata, a NIMADS analysis's metadata keys), for ``select.where``.

    Parameters
    ----------
    load : callable
        Returns ``(attributes, varying)``: analysis id -> {column: value as text}, and
        column -> where it is not constant within one analysis (such a column cannot
        select analyses). Called once, when a column is first asked for.
    names : list of str or None
        The columns in the input's order; None takes them from the loaded table.
    aliases : dict or None
        Another name -> a column (a table's ``group`` -> the header ``columns.group`` maps).
    """

    def __init__(self, load: Callable[[], tuple[dict[str, dict[str, str]], dict[str, str]]],
                 names: list[str] | None = None, aliases: dict[str, str] | None = None):
        self._load = load
        self._names = names
        self.aliases = dict(aliases or {})
        self._table: tuple[dict[str, dict[str, str]], dict[str, str]] | None = None

    def resolve(self, name: str) -> str | None:
        """The column ``name`` means: itself, or the column an alias names; None if neither."""
        if name in self.names:
            return name
        return self.aliases.get(name)

    def _loaded(self) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
        if self._table is None:
            self._table = self._load()
        return self._table

    @property
    def names(self) -> list[str]:
        """Every descriptive column, in the input's order (selectable or not)."""
        if self._names is None:
            attributes, varying = self._loaded()
            seen = dict.fromkeys(varying)
            for row in attributes.values():
                seen.update(dict.fromkeys(row))
            self._names = list(seen)
        return list(self._names)

    @property
    def attributes(self) -> dict[str, dict[str, str]]:
        """Analysis id -> {column: value as text}."""
        return self._loaded()[0]

    def varying(self, name: str) -> str | None:
        """Where column ``name`` differs within one analysis (for the message), else None."""
        return self._loaded()[1].get(name)

    def column(self, name: str) -> dict[str, str]:
        """Analysis id -> the value of column ``name`` as text (analyses with none left out)."""
        return {aid: row[name] for aid, row in self.attributes.items() if name in row}


#: NiMARE's ``convert_sleuth_to_dict`` splits lines on exactly these (not on form feeds etc.).
LINE_BREAKS = re.compile("\n\r|\r\n|\n|\r")

#: Tried in order; the first that decodes the whole file is used and recorded.
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")


def read_text(path: Path, what: str, split: bool = True) -> tuple[str, list[str], str]:
    """Read a text file; refuse empty and binary files; return (text, lines, encoding).

    A UTF-8 byte order mark is dropped. A file that is not UTF-8 is read as Windows-1252
    (what GingerALE on Windows writes; its printable characters include all of Latin-1's),
    or, if it has a byte Windows-1252 leaves undefined, as Latin-1; the encoding used is
    returned so that it can be logged and recorded. Lines are split (unless ``split`` is False: then the list is empty) as NiMARE splits them
    (LF, CRLF, CR-only and LF-CR line ends).
    """
    data = read_bytes(path)
    hint = "Export the coordinates as text (Sleuth .txt, .tsv or .csv), or check input.path."
    refuse_binary(path, data, f"{what} text", hint)
    for encoding in ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if _looks_binary(text):
        raise InputDataError(f"The input file {str(path)!r} is a binary file, not {what} text.", hint=hint)
    return text, LINE_BREAKS.split(text) if split else [], "utf-8" if encoding == "utf-8-sig" else encoding


def first_text_line(text: str) -> str:
    """The first line of ``text`` that is not blank, as it is (empty if none); the lines
    after it are not split (a file of any size is told by its first line at once)."""
    start = 0
    for match in LINE_BREAKS.finditer(text):
        if text[start:match.start()].strip():
            return text[start:match.start()]
        start = match.end()
    return text[start:] if text[start:].strip() else ""


def _looks_binary(text: str) -> bool:
    """More than 1 % control characters (other than tab and line ends) in the first 8 kB."""
    head = text[:8192]
    controls = sum(1 for c in head if unicodedata.category(c) == "Cc" and c not in "\t\n\r")
    return controls > 0.01 * max(len(head), 1)


#: The first bytes of a zip archive (an .xlsx workbook is one) and of an OLE2 compound file
#: (an Excel 97-2003 .xls workbook, or a password-protected .xlsx).
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SAVE_AS_HINT = ("Open it in Excel or LibreOffice and save it as an Excel workbook (.xlsx) or as CSV "
                "(comma-separated, .csv), then point input.path at that file.")


def file_head(path: Path, size: int = 8) -> bytes:
    """The first bytes of a regular file (empty for anything else, or when it cannot be read:
    the reader says why later). A pipe or device is never opened here: opening a FIFO would
    wait for a writer."""
    try:
        if not path.is_file():
            return b""
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def workbook_kind(path: Path) -> str | None:
    """``xlsx`` (a zip with ``xl/workbook.xml``), ``ods`` (an OpenDocument spreadsheet),
    ``zip`` (another zip archive), ``ole2`` (an .xls or encrypted workbook), or None."""
    head = file_head(path)
    if head.startswith(OLE2_MAGIC):
        return "ole2"
    if not head.startswith(ZIP_MAGIC):
        return None
    import zipfile
    import zlib

    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" in names:
                return "xlsx"
            if "mimetype" in names:
                with archive.open("mimetype") as mimetype:  # its first bytes: it may expand to gigabytes
                    if b"opendocument.spreadsheet" in mimetype.read(256):
                        return "ods"
    except (zipfile.BadZipFile, OSError, KeyError, EOFError, NotImplementedError, RuntimeError, ValueError,
            zlib.error):
        pass
    return "zip"


def refuse_workbook(path: Path, fmt: str, field: str = "input") -> None:
    """Exit 65 with what to do when ``path`` is a spreadsheet or archive that a ``fmt``
    reader cannot read (``fmt`` is the format asked for: ``tsv``, ``xlsx``, ...)."""
    kind = workbook_kind(path)
    if kind == "ole2":
        raise InputDataError(
            f"The input file {str(path)!r} is an Excel 97-2003 workbook (.xls) or a password-protected "
            "workbook, which ale-app does not read.",
            hint="Remove any password, then o" + SAVE_AS_HINT[1:])
    if kind == "ods":
        raise InputDataError(f"The input file {str(path)!r} is an OpenDocument spreadsheet (.ods), which "
                             "ale-app does not read.", hint=SAVE_AS_HINT)
    if kind == "zip":
        raise InputDataError(f"The input file {str(path)!r} is a zip archive, not a coordinate table or an "
                             "Excel workbook.", hint="Unpack it and point input.path at the file inside.")
    if kind == "xlsx" and fmt != "xlsx":
        raise InputDataError(
            f"The input file {str(path)!r} is an Excel workbook, but {field}.format is {fmt!r}.",
            hint=f"Set {field}.format to 'xlsx' (or 'auto').")
    if kind is None and fmt == "xlsx":
        raise InputDataError(
            f"The input file {str(path)!r} is not an Excel workbook (.xlsx files are zip archives), but "
            f"{field}.format is 'xlsx'.",
            hint=f"Set {field}.format to 'auto' (or 'tsv' for a text table), or check input.path.")


def refuse_binary(path: Path, data: bytes, what: str, hint: str) -> None:
    """Exit 65 when ``data`` looks binary (a NUL byte near the start)."""
    if b"\x00" in data[:8192]:
        raise InputDataError(f"The input file {str(path)!r} is a binary file, not {what}.", hint=hint)


def read_bytes(path: Path) -> bytes:
    """Read an input file's bytes through the bounded opener (:mod:`ale_app.files`): a pipe,
    a device or a socket (or a link to one) and a file above the input limit are exit 65;
    unreadable is exit 66, empty is exit 65."""
    from ale_app.files import read_regular

    try:
        data = read_regular(path, INPUT_LIMIT)
    except RefusedFile as exc:
        raise refused_input(path, exc) from None
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


def refused_input(path: Path, exc: RefusedFile) -> InputDataError:
    """The exit-65 error for an input the bounded opener refused."""
    if exc.too_large:
        return InputDataError(f"The input file {str(path)!r} is {exc.reason}.",
                              hint="ale-app reads studysets up to that size; check input.path, or split the "
                              "evidence base.")
    return InputDataError(f"The input file {str(path)!r} is {exc.reason}.",
                          hint="Point input.path at the studyset file (a regular file).")


def check_input_file(path: Path) -> None:
    """Exit 65 unless ``path`` is a regular file within the input limit (for readers that
    hand the path to a library, e.g. openpyxl)."""
    from ale_app.files import check_regular

    try:
        check_regular(path, INPUT_LIMIT)
    except RefusedFile as exc:
        raise refused_input(path, exc) from None
    except OSError:
        pass  # the library says why it cannot read it


@dataclass
class Experiment:
    """One experiment as a text reader found it (before NIMADS)."""

    study: str
    analysis: str
    sample_size: int | None
    space: str | None
    line: int
    points: list[tuple[float, float, float]] = field(default_factory=list)
    point_spaces: list[str] = field(default_factory=list)
    point_lines: list[int] = field(default_factory=list)
    broken: bool = False

    @property
    def id(self) -> str:
        """``<study id>-<analysis id>``, as NiMARE names analyses."""
        return f"{self.study}-{self.analysis}"

    def add_point(self, xyz: tuple[float, float, float], line: int, space: str | None = None) -> None:
        """Add one focus, its file line and (for tables) its own space."""
        self.points.append(xyz)
        self.point_lines.append(line)
        self.point_spaces.append(space or self.space)


def nimads_from_experiments(experiments: list[Experiment], name: str) -> dict:
    """A NIMADS studyset dictionary; studies in order of their first experiment.

    Only the first experiment with a given id enters (a second one is reported by the id
    checks of :mod:`ale_app.inputs.checks`; NiMARE would keep only one of them).
    """
    studies: dict[str, dict] = {}
    seen: set[str] = set()
    for exp in experiments:
        if exp.id in seen:
            continue
        seen.add(exp.id)
        study = studies.setdefault(exp.study, {"id": exp.study, "name": exp.study, "analyses": []})
        metadata = {} if exp.sample_size is None else {"sample_sizes": [exp.sample_size]}
        study["analyses"].append({
            "id": exp.analysis,
            "name": exp.analysis,
            "points": [{"space": s, "coordinates": list(p)} for p, s in zip(exp.points, exp.point_spaces)],
            "metadata": metadata,
        })
    return {"id": name, "name": name, "studies": list(studies.values())}


def result_from_experiments(experiments: list[Experiment], fmt: str, name: str,
                            problems: list[Problem], structural: bool, encoding: str | None,
                            unit: str = "line") -> ReadResult:
    """The :class:`ReadResult` of a text reader (or a spreadsheet's, whose ``unit`` is ``row``)."""
    ids = list(dict.fromkeys(e.id for e in experiments))
    first: dict[str, Experiment] = {}
    for exp in experiments:
        first.setdefault(exp.id, exp)
    notes = []
    if encoding not in (None, "utf-8"):
        notes.append(f"The input is not UTF-8; it was read as {ENCODING_NAMES[encoding]}. Check "
                     "that names with accents read as intended (they are in coordinates.tsv).")
    return ReadResult(
        source=nimads_from_experiments(experiments, name), ids=ids, format=fmt,
        where={i: f"{unit} {e.line}" for i, e in first.items()},
        entries=[(e.id, e.study, e.analysis, f"{unit} {e.line}") for e in experiments],
        contents=[(e.sample_size, tuple(sorted(e.points))) for e in experiments],
        focus_lines={i: e.point_lines for i, e in first.items()},
        broken={e.id for e in experiments if e.broken},
        problems=problems, structural=structural, encoding=encoding, notes=notes,
    )


ENCODING_NAMES = {"cp1252": "Windows-1252 (cp1252, a superset of Latin-1's printable characters)",
                  "latin-1": "Latin-1 (ISO-8859-1)"}
