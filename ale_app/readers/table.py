"""A plain coordinate table: TSV (``.tsv``) or CSV (``.csv``), one focus per row.

Columns: ``study_id, analysis_id, x, y, z, space, sample_size``. ``analysis_id`` is optional
(each study is then one analysis, ``analysis_1``); ``space`` is ``MNI`` or ``TAL`` (also
``Talairach``, ``MNI152``); ``sample_size`` may be left empty where it is unknown, and must be
the same on every row of one analysis. Rows of one analysis need not be adjacent; analyses
keep the order of their first row.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from ale_app.errors import InputDataError
from ale_app.readers import Experiment, ReadResult, nimads_from_experiments, normalize_space, read_text

REQUIRED = ("study_id", "x", "y", "z", "space")
OPTIONAL = ("analysis_id", "sample_size")
DEFAULT_ANALYSIS = "analysis_1"


def _delimiter(path: Path, header: str) -> str:
    if path.suffix.lower() == ".csv":
        return ","
    if path.suffix.lower() == ".tsv":
        return "\t"
    return "\t" if "\t" in header else ","


def read_table(path: Path) -> ReadResult:
    """Read a TSV/CSV coordinate table into a NIMADS studyset."""
    text, lines = read_text(path, "TSV/CSV")
    header_line = next((ln for ln in lines if ln.strip()), "")
    delimiter = _delimiter(path, header_line)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    missing = [c for c in REQUIRED if c not in header]
    if missing and header_line.lstrip().startswith("//"):
        raise InputDataError(
            f"{str(path)!r}, line 1: this is not a TSV/CSV table; it looks like a Sleuth file "
            f"(first line {header_line.strip()[:60]!r}).",
            hint="Set input.format to 'sleuth' (or 'auto'), or check input.path.",
        )
    if missing:
        sep = "tab" if delimiter == "\t" else "comma"
        raise InputDataError(
            f"{str(path)!r}, line 1: the table has no column(s) {', '.join(missing)} "
            f"(read as {sep}-separated; found {', '.join(repr(h) for h in header) or 'nothing'}).",
            hint="The header needs study_id, x, y, z, space and optionally analysis_id and "
            "sample_size; a .tsv file is tab-separated and a .csv file comma-separated.",
        )
    unknown = [h for h in header if h and h not in REQUIRED + OPTIONAL]
    if unknown:
        raise InputDataError(
            f"{str(path)!r}, line 1: unknown column(s) {', '.join(repr(u) for u in unknown)}.",
            hint="Columns are study_id, analysis_id, x, y, z, space, sample_size.",
        )
    col = {name: header.index(name) for name in header if name}
    experiments: dict[str, Experiment] = {}
    spaces: dict[str, int] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if row[0].lstrip().startswith("#"):
            continue
        if len(row) != len(header):
            raise InputDataError(
                f"{str(path)!r}, line {lineno}: {len(row)} field(s), but the header has {len(header)}.",
                hint="Every row needs one value per column; a decimal comma in a .csv file splits "
                "a number in two (write 12.5, not 12,5).",
            )
        cell = {name: row[i].strip() for name, i in col.items()}
        study = cell["study_id"]
        if not study:
            raise InputDataError(f"{str(path)!r}, line {lineno}: study_id is empty.",
                                 hint="Every row names its study.")
        analysis = cell.get("analysis_id") or DEFAULT_ANALYSIS
        xyz = []
        for axis in ("x", "y", "z"):
            value = cell[axis]
            try:
                number = float(value)
            except ValueError:
                comma = "," in value
                raise InputDataError(
                    f"{str(path)!r}, line {lineno}: {axis} = {value!r} is not a number (study {study!r}).",
                    hint="Use a point as the decimal separator (12.5, not 12,5)." if comma
                    else "Coordinates are numbers in mm.",
                ) from None
            if not math.isfinite(number):
                raise InputDataError(
                    f"{str(path)!r}, line {lineno}: {axis} = {value!r} is not finite (study {study!r}).",
                    hint="Coordinates are finite numbers in mm.",
                )
            xyz.append(number)
        space = normalize_space(cell["space"])
        if space is None:
            raise InputDataError(
                f"{str(path)!r}, line {lineno}: unknown space {cell['space']!r} (study {study!r}).",
                hint="space is MNI or TAL (Talairach).",
            )
        spaces.setdefault(space, lineno)
        size_text = cell.get("sample_size", "")
        size = None
        if size_text:
            try:
                size = int(float(size_text))
                if size != float(size_text):
                    raise ValueError
            except ValueError:
                raise InputDataError(
                    f"{str(path)!r}, line {lineno}: sample_size {size_text!r} is not a whole number "
                    f"(study {study!r}).",
                    hint="sample_size is the number of subjects, or empty where unknown.",
                ) from None
        key = f"{study}-{analysis}"
        exp = experiments.get(key)
        if exp is None:
            exp = experiments[key] = Experiment(study=study, analysis=analysis, sample_size=size,
                                                space=space, line=lineno)
        elif exp.sample_size != size:
            raise InputDataError(
                f"{str(path)!r}, line {lineno}: analysis {key!r} has sample_size {size_text or 'empty'} "
                f"here but {exp.sample_size} on line {exp.line}.",
                hint="Give every row of one analysis the same sample_size.",
            )
        exp.points.append((xyz[0], xyz[1], xyz[2]))
    if len(spaces) > 1:
        found = ", ".join(f"{s} (first on line {n})" for s, n in spaces.items())
        raise InputDataError(
            f"{str(path)!r} mixes spaces: {found}.",
            hint="Use one space for the whole table: convert the foci, or split the table and run "
            "one analysis per space.",
        )
    if not experiments:
        raise InputDataError(f"{str(path)!r} has a header but no coordinate rows.",
                             hint="Add one row per focus.")
    ordered = list(experiments.values())
    nimads = nimads_from_experiments(ordered, path.stem)
    return ReadResult(source=nimads, ids=list(experiments), format="tsv",
                      where={e.id: f"line {e.line}" for e in ordered})
