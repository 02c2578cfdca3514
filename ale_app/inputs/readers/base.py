"""What every reader shares: the formats and space names, and the reader's result
(:class:`ReadResult`: a NIMADS dictionary, or the folder NiMARE's ``Studyset`` reads, the
analysis ids in file order, and where each analysis is in the file, so that the shared checks
in :mod:`ale_app.inputs.evidence` can name it) with the problems the readers collect. The rest
the readers share has a module each: the bounded, checked reading of an input file
(:mod:`~ale_app.inputs.readers.input_file`), numbers as a person writes them
(:mod:`~ale_app.inputs.readers.numbers`), the columns that describe analyses
(:mod:`~ale_app.inputs.readers.analysis_columns`) and the experiments of a text reader
(:mod:`~ale_app.inputs.readers.experiments`). The readers
(:mod:`ale_app.inputs.readers.table`, ``excel``, ``sleuth``, ``studyset_json``, ``parquet``)
import these modules; :func:`ale_app.inputs.readers.read_input` picks one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ale_app.inputs.readers.analysis_columns import AnalysisColumns

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
        Analysis id -> the file line of each focus, in the order of its points (for files
        read together, each as text naming the file too).
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
    tags : dict or None
        For JALE's experiment workbook (format ``jale``): analysis id -> its tags (lower
        case), for ``select.tags``; None for formats without tags.
    tag_columns : list of str or None
        For JALE's experiment workbook: the headers of its tag columns.
    reading_notes : list of str
        What the reading did that is worth saying but no warning (JALE's second layout filled
        down, experiments pooled as asked): logged and listed as notes.
    shared_subjects : dict
        Study -> its experiments, for studies read as several experiments that share subjects
        (one JALE article with two tag sets, a table's study with two group values).
    """

    source: Any
    ids: list[str]
    format: str
    where: dict[str, str] = field(default_factory=dict)
    entries: list[tuple[str, str | None, str | None, str]] = field(default_factory=list)
    contents: list[tuple | None] = field(default_factory=list)
    focus_lines: dict[str, list[int] | list[str]] = field(default_factory=dict)
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
    tags: dict[str, frozenset[str]] | None = None
    tag_columns: list[str] | None = None
    shared_subjects: dict[str, list[str]] = field(default_factory=dict)
    reading_notes: list[str] = field(default_factory=list)

    @property
    def attributes(self) -> dict[str, dict[str, str]]:
        """Analysis id -> {column: value as text}: every descriptive column of every analysis
        (analyses without a value in a column leave it out). Builds the whole table; to
        select by one column, :meth:`AnalysisColumns.column` reads only that column."""
        return {} if self.columns is None else self.columns.attributes

