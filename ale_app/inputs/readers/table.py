"""A plain coordinate table: TSV (``.tsv``) or CSV (``.csv``), one focus per row.

Columns: ``study_id, analysis_id, x, y, z, space, sample_size``. ``analysis_id`` is optional
(each study is then one analysis, ``analysis_1``); ``space`` is ``MNI`` or ``TAL`` (also
``Talairach``, ``MNI152``) on every row, and rows may differ: TAL rows are converted to MNI
focus by focus and the conversion recorded, as for NIMADS; ``sample_size`` may be left
empty where it is unknown, and must be the same on every row of one analysis. A row that
repeats the header (tables pasted together) is skipped. Rows of one analysis need not be adjacent; analyses
keep the order of their first row.

Other columns (e.g. a group or task column of a table that holds two groups) are refused,
unless the reader is asked for descriptive columns (a version-2 group that may select by
one): each then gives every analysis its value, as text, when it is the same on every row
of the analysis; a column that differs within an analysis cannot select analyses.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from ale_app.errors import InputDataError
from ale_app.inputs.readers import (AnalysisColumns, Experiment, Problem, ReadResult, normalize_space, plural,
                                    read_text, result_from_experiments)

REQUIRED = ("study_id", "x", "y", "z", "space")
OPTIONAL = ("analysis_id", "sample_size")
DEFAULT_ANALYSIS = "analysis_1"


def _delimiter(path: Path, header: str) -> str:
    if path.suffix.lower() == ".csv":
        return ","
    if path.suffix.lower() == ".tsv":
        return "\t"
    return "\t" if "\t" in header else ","


def read_table(path: Path, columns: bool = False) -> ReadResult:
    """Read a TSV/CSV coordinate table into a NIMADS studyset.

    Header problems stop at once; a row that cannot be read is reported (with its line)
    and the reading goes on, so that every bad row is named in one message. With
    ``columns``, columns beyond the coordinate columns are kept as descriptive columns
    (:attr:`ReadResult.columns`); without it they are refused.
    """
    text, lines, encoding = read_text(path, "TSV/CSV")
    header_line = next((ln for ln in lines if ln.strip()), "")
    delimiter = _delimiter(path, header_line)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    missing = [c for c in REQUIRED if c not in header]
    if missing and header_line.lstrip().startswith("//"):
        raise InputDataError(
            f"{str(path)!r}, line 1: this is not a TSV/CSV table; it looks like a Sleuth file "
            "(its first line starts with '//').",
            hint="Set input.format to 'sleuth' (or 'auto'), or check input.path.",
        )
    if missing:
        sep = "tab" if delimiter == "\t" else "comma"
        # Name the columns found only when the header looks like a coordinate table, so that
        # an unrelated file named by mistake is not quoted.
        found = (f"; found {', '.join(repr(h[:40]) for h in header)}"
                 if len(missing) < len(REQUIRED) else "")
        raise InputDataError(
            f"{str(path)!r}, line 1: the table has no column(s) {', '.join(missing)} "
            f"(read as {sep}-separated{found}).",
            hint="The header needs study_id, x, y, z, space and optionally analysis_id and "
            "sample_size; a .tsv file is tab-separated and a .csv file comma-separated.",
        )
    unknown = [h for h in header if h and h not in REQUIRED + OPTIONAL]
    if unknown and not columns:
        raise InputDataError(
            f"{str(path)!r}, line 1: unknown column(s) {', '.join(repr(u) for u in unknown)}.",
            hint="Columns are study_id, analysis_id, x, y, z, space, sample_size.",
        )
    col = {name: header.index(name) for name in header if name in REQUIRED + OPTIONAL}
    # Descriptive columns keep their name as written (stripped); a name written twice is one
    # column whose cells must agree, like a column that differs within an analysis.
    extra = [(i, h.strip()) for i, h in enumerate(rows[0]) if h.strip() and header[i] not in REQUIRED + OPTIONAL]
    seen_values: dict[tuple[str, str], dict[str, tuple[str, int]]] = {}
    varying: dict[str, str] = {}
    # Keyed by (study, analysis), not by the composite id, so that colliding ids (study 'A-b'
    # analysis 'c', study 'A' analysis 'b-c') stay two experiments and are reported.
    experiments: dict[tuple[str, str], Experiment] = {}
    problems: list[Problem] = []

    def problem(lineno: int, text: str, hint: str, key: tuple[str, str] | None = None) -> None:
        problems.append(Problem(f"line {lineno}", text, hint))
        if key in experiments:
            experiments[key].broken = True

    for lineno, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if row[0].lstrip().startswith("#"):
            continue
        if [c.strip().lower() for c in row] == header:  # a repeated header (concatenated tables)
            continue
        if len(row) != len(header):
            problem(lineno, f"{plural(len(row), 'field')}, but the header has {len(header)}.",
                    "Every row needs one value per column; a decimal comma in a .csv file splits "
                    "a number in two (write 12.5, not 12,5).")
            continue
        cell = {name: row[i].strip() for name, i in col.items()}
        study = cell["study_id"]
        if not study:
            problem(lineno, "study_id is empty.", "Every row names its study.")
            continue
        analysis = cell.get("analysis_id") or DEFAULT_ANALYSIS
        key = (study, analysis)
        if extra:
            _note_columns(row, extra, lineno, key, seen_values, varying)
        xyz = []
        for axis in ("x", "y", "z"):
            value = cell[axis]
            try:
                number = float(value)
            except ValueError:
                problem(lineno, f"{axis} = {value[:40]!r} is not a number (study {study!r}).",
                        "Use a point as the decimal separator (12.5, not 12,5)." if "," in value
                        else "Coordinates are numbers in mm.", key)
                break
            if not math.isfinite(number):
                problem(lineno, f"{axis} = {value!r} is not finite (study {study!r}).",
                        "Coordinates are finite numbers in mm.", key)
                break
            xyz.append(number)
        space = normalize_space(cell["space"])
        if space is None:
            what = "no space" if not cell["space"] else f"unknown space {cell['space'][:40]!r}"
            problem(lineno, f"{what} (study {study!r}).",
                    "Each row's space is MNI or TAL (Talairach); rows may differ, and TAL rows "
                    "are converted to MNI.", key)
        size_text = cell.get("sample_size", "")
        size = None
        size_ok = True
        if size_text:
            try:
                size = int(float(size_text))
                if size != float(size_text):
                    raise ValueError
            except ValueError:
                size, size_ok = None, False
                problem(lineno, f"sample_size {size_text[:40]!r} is not a whole number (study {study!r}).",
                        "sample_size is the number of subjects, or empty where unknown.", key)
        exp = experiments.get(key)
        if exp is None:
            exp = experiments[key] = Experiment(study=study, analysis=analysis, sample_size=size,
                                                space=space, line=lineno)
        elif size_ok and exp.sample_size != size and not exp.broken:
            problem(lineno, f"analysis {exp.id!r} has sample_size {size_text or 'empty'} here but "
                    f"{exp.sample_size} on line {exp.line}.",
                    "Give every row of one analysis the same sample_size.", key)
        if len(xyz) < 3 or space is None or not size_ok:
            exp.broken = True
            continue
        exp.add_point((xyz[0], xyz[1], xyz[2]), lineno, space)
    if not experiments and not problems:
        raise InputDataError(f"{str(path)!r} has a header but no coordinate rows.",
                             hint="Add one row per focus.")
    result = result_from_experiments(list(experiments.values()), "tsv", path.stem, problems, False, encoding)
    if columns:
        attributes: dict[str, dict[str, str]] = {}
        for key, exp in experiments.items():
            if exp.id not in attributes:  # the first of colliding ids, as the studyset keeps it
                values = seen_values.get(key, {})
                attributes[exp.id] = {name: text for name, (text, _) in values.items() if text}
        names = list(dict.fromkeys(name for _, name in extra))
        result.columns = AnalysisColumns(lambda: (attributes, varying), names=names)
    return result


def _note_columns(row: list[str], extra: list[tuple[int, str]], lineno: int, key: tuple[str, str],
                  seen_values: dict, varying: dict[str, str]) -> None:
    """Record one row's descriptive cells; note a column that differs within its analysis."""
    values = seen_values.setdefault(key, {})
    for index, name in extra:
        text = row[index].strip()
        first = values.get(name)
        if first is None:
            values[name] = (text, lineno)
        elif first[0] != text and name not in varying:
            study, analysis = key
            varying[name] = (f"analysis '{study}-{analysis}' has {first[0]!r} on line {first[1]} and "
                             f"{text!r} on line {lineno}")
