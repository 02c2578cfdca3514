"""Several input files read as one evidence base (``input.path`` given as a list).

Each file is read by its own reader, in its own format and space (one Sleuth file in MNI and
one in Talairach, a table and a NIMADS file); :func:`read_files` joins what they found into
one :class:`~ale_app.inputs.readers.ReadResult`, in the order of the list, with every place
named by its file (``line 7 of 'tal.txt'``), so that the shared checks report an experiment
found in two files (refused as a duplicate within one file is) naming both files. Parquet
studyset folders are read alone: NiMARE reads them as a folder, not as a dictionary.
"""

from __future__ import annotations

from pathlib import Path

from ale_app.errors import InputDataError
from ale_app.inputs.readers import detect_format, read_input
from ale_app.inputs.readers.analysis_columns import AnalysisColumns
from ale_app.inputs.readers.base import TABLE_FORMATS, Problem, ReadResult

#: The format of joined files that are not all of one format (in messages and records each
#: file keeps its own).
MIXED = "mixed"


def read_files(paths: list[Path], names: list[str], fmt: str, columns: dict[str, str | None] | None = None,
               sheet: str | None = None, field: str = "input") -> tuple[ReadResult, list[ReadResult]]:
    """Read every file of a ``path`` list; return their join and each file's own result.

    ``names`` are the paths as the spec gives them (for messages). ``fmt`` is the format of
    every file (``auto``: each file's own); ``columns`` and ``sheet`` apply to the files that
    are tables (refused when none is).
    """
    formats = [fmt if fmt != "auto" else detect_format(path) for path in paths]
    if "jale" in formats:
        raise InputDataError(
            f"{field}.path lists files read as JALE's experiment table (format 'jale'); JALE's workbook is read "
            "alone.", hint=f"Give the one experiment_info workbook as {field}.path.")
    if "parquet" in formats:
        name = names[formats.index("parquet")]
        raise InputDataError(
            f"{field}.path lists {name!r}, a parquet studyset folder, with other files; a parquet studyset "
            "is read alone.",
            hint=f"Give the parquet folder alone as {field}.path, or convert the other files into it.")
    tables = [f in TABLE_FORMATS for f in formats]
    given = [key for key, value in (("columns", columns), ("sheet", sheet)) if value]
    if given and not any(tables):
        raise InputDataError(
            f"{field}.{given[0]} is given, but none of the files of {field}.path is a table.",
            hint=f"{field}.columns and {field}.sheet go with a table (TSV, CSV, Excel); remove "
            f"{' and '.join(f'{field}.{g}' for g in given)}.")
    reads = [read_input(path, f, columns=columns if table else None,
                        sheet=sheet if f == "xlsx" else None, field=field)
             for path, f, table in zip(paths, formats, tables)]
    return join_reads(reads, names), reads


def _in(place: str, name: str) -> str:
    """``line 7`` of file ``tal.txt`` as ``line 7 of 'tal.txt'``."""
    return f"{place} of {name!r}" if place else repr(name)


def join_reads(reads: list[ReadResult], names: list[str]) -> ReadResult:
    """One :class:`ReadResult` of several files' results, in the order given.

    The studysets are joined study by study (a study id in two files is one study with the
    analyses of both); an experiment id in two files enters once, from the first file, and
    is left to the id checks, which find it twice in ``entries`` and name both places.
    """
    studies: dict[str, dict] = {}
    for read in reads:
        for study in read.source["studies"]:
            joined = studies.get(str(study["id"]))
            if joined is None:
                studies[str(study["id"])] = {**study, "analyses": list(study.get("analyses") or [])}
                continue
            known = {str(a.get("id")) for a in joined["analyses"]}
            joined["analyses"] += [a for a in study.get("analyses") or [] if str(a.get("id")) not in known]
    source = {"id": "ale-app-input", "name": " + ".join(names), "studies": list(studies.values())}

    combined = ReadResult(source=source, ids=[], format=_format(reads))
    for read, name in zip(reads, names):
        combined.ids += [i for i in read.ids if i not in combined.where]
        for aid, place in read.where.items():
            combined.where.setdefault(aid, _in(place, name))
        combined.entries += [(aid, study, analysis, _in(place, name)) for aid, study, analysis, place in read.entries]
        combined.contents += list(read.contents) + [None] * (len(read.entries) - len(read.contents))
        for aid, lines in read.focus_lines.items():
            combined.focus_lines.setdefault(aid, [_in(str(n), name) for n in lines])
        combined.broken |= read.broken
        combined.problems += [Problem(_in(p.where, name), p.text, p.hint) for p in read.problems]
        combined.structural |= read.structural
        combined.notes += [f"{name}: {note}" for note in read.notes]
        if read.stopped and combined.stopped is None:
            combined.stopped = _in(read.stopped, name)
        if read.sheet_note:
            combined.sheet_note = "; ".join(filter(None, (combined.sheet_note, f"{read.sheet_note} of {name!r}")))
    combined.ids = list(dict.fromkeys(combined.ids))
    combined.columns = _join_columns([r.columns for r in reads])
    tables = [r.table_columns for r in reads if r.table_columns is not None]
    combined.table_columns = list(dict.fromkeys(c for t in tables for c in t)) if tables else None
    roles = [r.table_roles for r in reads if r.table_roles is not None]
    combined.table_roles = list(dict.fromkeys(c for t in roles for c in t)) if roles else None
    return combined


def _format(reads: list[ReadResult]) -> str:
    formats = {r.format for r in reads}
    return formats.pop() if len(formats) == 1 else MIXED


def _join_columns(columns: list[AnalysisColumns | None]) -> AnalysisColumns | None:
    """The descriptive columns of every file (an analysis has the values its own file gives)."""
    present = [c for c in columns if c is not None]
    if not present:
        return None

    def load():
        attributes: dict[str, dict[str, str]] = {}
        varying: dict[str, str] = {}
        for c in present:
            for aid, row in c.attributes.items():
                attributes.setdefault(aid, row)
            for name in c.names:
                if name not in varying and c.varying(name):
                    varying[name] = c.varying(name)
        return attributes, varying

    aliases: dict[str, str] = {}
    for c in present:
        for alias, name in c.aliases.items():
            aliases.setdefault(alias, name)
    names = list(dict.fromkeys(n for c in present for n in c.names))
    return AnalysisColumns(load, names=names, aliases=aliases)
