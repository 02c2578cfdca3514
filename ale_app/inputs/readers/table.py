"""A coordinate table, one focus per row: TSV (``.tsv``), CSV (``.csv``) or an Excel sheet
(:mod:`ale_app.inputs.readers.excel` turns a sheet into the same rows).

Columns: ``study_id, analysis_id, x, y, z, space, sample_size``, or the file's own headers for
them, named in the spec's ``columns`` (``{study: publication, sample_size: n}``). Headers
match whatever their case and surrounding spaces. ``analysis_id`` is optional (each study is
then one analysis, ``analysis_1``); ``space`` is ``MNI`` or ``TAL`` (also ``Talairach``,
``MNI152``) on every row, and rows may differ: TAL rows are converted to MNI focus by focus
and the conversion recorded, as for NIMADS; ``sample_size`` may be left empty where it is
unknown, and must be the same on every row of one analysis. A row that repeats the header
(tables pasted together) is skipped. Rows of one analysis need not be adjacent; analyses
keep the order of their first row.

Other columns (title, doi, notes, a group or task column) are not read as coordinates: each
gives every analysis its value, as text, when it is the same on every row of the analysis,
so that ``select.where`` can select by it (a column that differs within an analysis cannot);
so do the study, analysis, space and sample size columns, named by their headers;
:func:`ale_app.inputs.evidence.load_evidence` notes the columns that nothing uses. Every
problem of the header (a missing column, a mapped header the file does not have, a header
written twice, one column read for two roles) is reported at once, with the headers found.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ale_app.errors import InputDataError
from ale_app.inputs.readers.analysis_columns import AnalysisColumns
from ale_app.inputs.readers.base import STOP_AFTER_PROBLEMS, Problem, ReadResult, normalize_space, plural
from ale_app.inputs.readers.experiments import Experiment, result_from_experiments
from ale_app.inputs.readers.input_file import first_text_line, read_text, refuse_workbook
from ale_app.inputs.readers.numbers import NUMBER_HINT, read_number

#: Role -> the header it has without a mapping (as ``ColumnsSpec``; no spec import here).
ROLES = {"study": "study_id", "analysis": "analysis_id", "x": "x", "y": "y", "z": "z", "space": "space",
         "sample_size": "sample_size", "group": None}
REQUIRED_ROLES = ("study", "x", "y", "z", "space")
#: Roles whose column describes analyses, so that ``select.where`` can name it by its header
#: (``contrast`` when ``columns: {analysis: contrast}``); the coordinates describe foci.
DESCRIBING_ROLES = ("study", "analysis", "space", "sample_size")
REQUIRED = tuple(ROLES[r] for r in REQUIRED_ROLES)
OPTIONAL = ("analysis_id", "sample_size")
DEFAULT_ANALYSIS = "analysis_1"

#: Headers that often hold a role in published tables (JALE, papers' supplements); only
#: ever suggested in a message, never read without a mapping.
LIKELY = {
    "study": ("publication", "publications", "article", "articles", "paper", "study", "studies", "author",
              "authors", "reference", "experiment_name"),
    "analysis": ("contrast", "contrasts", "experiment", "analysis", "condition", "comparison"),
    "space": ("coordinatespace", "coordinate space", "coordinate_space", "reference", "template",
              "coordinates space"),
    "sample_size": ("n", "subjects", "n_subjects", "nsubjects", "sample size", "samplesize", "participants",
                    "n subjects", "number of subjects", "sample"),
    "group": ("group", "groups", "tag", "tags", "task", "diagnosis"),
}
ROLE_WORDS = {"study": "the study", "analysis": "the analysis (contrast)", "x": "x", "y": "y", "z": "z",
              "space": "the space (MNI or TAL)", "sample_size": "the number of subjects", "group": "the group"}


@dataclass
class TableSource:
    """Where a table's rows come from, for messages.

    Attributes
    ----------
    path : Path
        The file.
    fmt : str
        ``tsv`` or ``xlsx`` (what :class:`ReadResult` records).
    unit : str
        What a row is called in messages: ``line`` (text) or ``row`` (a spreadsheet).
    layout : str
        How the rows were read, for the header message (``read as comma-separated``,
        ``sheet 'Foci'``).
    column_name : callable
        Column index (0-based) -> its name in messages (``3``, or ``C`` in a spreadsheet).
    field : str
        The spec field of this input (``input``, ``groups.<name>``).
    """

    path: Path
    fmt: str
    unit: str
    layout: str
    column_name: Callable[[int], str]
    field: str = "input"

    @property
    def label(self) -> str:
        return repr(str(self.path))


def _delimiter(path: Path, header: str) -> str:
    if path.suffix.lower() == ".csv":
        return ","
    if path.suffix.lower() == ".tsv":
        return "\t"
    return "\t" if "\t" in header else ","


def _text_rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """The CSV/TSV rows, each with the line it starts on (read as they are asked for)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field longer than the csv module's limit (an unclosed quote)
            raise InputDataError(f"Line {start} of the table cannot be read as a table row: {exc}.",
                                 hint="Check for an unclosed quote (\"), and that input.path names a coordinate "
                                 "table.") from None
        yield start, row
        start = reader.line_num + 1


def read_table(path: Path, columns: dict[str, str | None] | None = None, field: str = "input",
               pool_experiments: bool = False) -> ReadResult:
    """Read a TSV/CSV coordinate table into a NIMADS studyset.

    ``columns`` maps roles (``study``, ``analysis``, ``x``, ``y``, ``z``, ``space``,
    ``sample_size``, ``group``) to the file's headers; roles it leaves out (or None) use
    their usual header. Header problems stop at once, all in one message; a row that cannot
    be read is reported (with its line) and the reading goes on, so that every bad row is
    named in one message.
    """
    refuse_workbook(path, "tsv", field)
    text, _, encoding = read_text(path, "TSV/CSV", split=False)  # the csv module reads the rows
    header_line = first_text_line(text)
    delimiter = _delimiter(path, header_line)
    if header_line.lstrip().startswith("//"):
        raise InputDataError(
            f"{str(path)!r}, line 1: this is not a TSV/CSV table; it looks like a Sleuth file "
            "(its first line starts with '//').",
            hint="Set input.format to 'sleuth' (or 'auto'), or check input.path.",
        )
    sep = "tab" if delimiter == "\t" else "comma"
    source = TableSource(path, "tsv", "line", f"read as {sep}-separated", lambda i: str(i + 1), field)
    return read_rows(_text_rows(text, delimiter), source, columns, encoding, strict_width=True,
                     pool_experiments=pool_experiments)


def read_rows(rows: Iterable[tuple[int, list[str]]], source: TableSource, columns: dict[str, str | None] | None,
              encoding: str | None, strict_width: bool, notes: list[str] | None = None,
              pool_experiments: bool = False) -> ReadResult:
    """Read a table's rows (each ``(line or row number, cells as text)``) into a :class:`ReadResult`.

    The first row with a value is the header. ``strict_width`` (text tables) refuses a row
    with another number of fields than the header; a spreadsheet's rows are padded.

    A table without an analysis column whose ``columns.group`` column differs within one
    study is read as one experiment per group value of that study (``<study>-<group value>``;
    they share subjects, which a warning says, as JALE's rule for tags), unless
    ``pool_experiments``, which keeps one experiment per study and says so in a note.
    """
    rows = iter(rows)  # read as far as needed: a reader stops after STOP_AFTER_PROBLEMS problems
    header_number, header_row = next(((n, row) for n, row in rows if any(cell.strip() for cell in row)),
                                     (None, None))
    if header_row is None or header_number is None:  # both or neither
        raise InputDataError(f"{source.label} has no rows with a value.",
                             hint="Check input.path (and input.sheet for a workbook).")
    header = [h.strip() for h in header_row]
    col, extra = _header_columns(header, header_number, source, columns)
    # What select.where can name: the columns read for a role that describes analyses, under
    # their header as the file writes it, and every other column, in header order.
    described = sorted(extra + [(col[r], header[col[r]]) for r in DESCRIBING_ROLES if r in col])
    width = len(header)
    names = {role: header[i] for role, i in col.items()}
    group = names.pop("group", None)
    group_index = col.pop("group", None)
    rows, several = _split_studies(rows, col, group_index, [h.casefold() for h in header])
    split = {} if pool_experiments else several
    study_name, size_name = names["study"], names.get("sample_size", "sample_size")
    keys = [h.casefold() for h in header]
    seen_values: dict[tuple[str, str], dict[str, tuple[str, int]]] = {}
    varying: dict[str, str] = {}
    # Keyed by (study, analysis), not by the composite id, so that colliding ids (study 'A-b'
    # analysis 'c', study 'A' analysis 'b-c') stay two experiments and are reported.
    experiments: dict[tuple[str, str], Experiment] = {}
    problems: list[Problem] = []
    unit = source.unit

    def problem(lineno: int, text: str, hint: str, key: tuple[str, str] | None = None) -> None:
        problems.append(Problem(f"{unit} {lineno}", text, hint))
        if key in experiments:
            experiments[key].broken = True

    stopped = None
    no_study: list[int] = []  # rows without a study, said in one problem after the loop
    named_before = False  # a row with a study came before them (the study given on first rows only?)
    for lineno, row in rows:
        if len(problems) >= STOP_AFTER_PROBLEMS:
            stopped = f"{unit} {lineno}"
            break
        if not any(cell.strip() for cell in row):
            continue
        if row[0].lstrip().startswith("#"):
            continue
        if [c.strip().casefold() for c in row] == keys:  # a repeated header (concatenated tables)
            continue
        if strict_width and len(row) != width:
            problem(lineno, f"{plural(len(row), 'field')}, but the header has {width}.",
                    "Every row needs one value per column; a decimal comma in a .csv file splits "
                    "a number in two (write 12.5, not 12,5).")
            continue
        row = (row + [""] * width)[:width]
        cell = {role: row[i].strip() for role, i in col.items()}
        study = cell["study"]
        if not study:
            no_study.append(lineno)
            continue
        named_before = True
        analysis = cell.get("analysis") or DEFAULT_ANALYSIS
        if study in split:  # a study whose rows differ by the group column: one experiment per value
            analysis = row[group_index].strip() or DEFAULT_ANALYSIS  # type: ignore[index]
        key = (study, analysis)
        _note_columns(row, described, lineno, unit, key, seen_values, varying)
        xyz = []
        for axis in ("x", "y", "z"):
            value = cell[axis]
            shown = axis if names[axis].casefold() == axis else f"{axis} ({names[axis]})"
            try:
                number = read_number(value)
            except ValueError as exc:
                if str(exc):
                    problem(lineno, f"{shown} = {value[:40]!r} is not a plain number: {exc} (study {study!r}).",
                            NUMBER_HINT, key)
                    break
                problem(lineno, f"{shown} = {value[:40]!r} is not a number (study {study!r}).",
                        "Use a point as the decimal separator (12.5, not 12,5)." if "," in value
                        else "Coordinates are numbers in mm.", key)
                break
            if not math.isfinite(number):
                problem(lineno, f"{shown} = {value!r} is not finite (study {study!r}).",
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
                number, why = read_number(size_text), ""
            except ValueError as exc:
                number, why = math.nan, f": {exc}" if str(exc) else ""
            if math.isfinite(number) and number == int(number):
                size = int(number)
            else:
                size, size_ok = None, False
                problem(lineno, f"{size_name} {size_text[:40]!r} is not a whole number{why} (study {study!r}).",
                        f"{size_name} is the number of subjects, or empty where unknown.", key)
        exp = experiments.get(key)
        if exp is None:
            exp = experiments[key] = Experiment(study=study, analysis=analysis, sample_size=size,
                                                space=space, line=lineno)
        elif size_ok and exp.sample_size != size and not exp.broken:
            problem(lineno, f"analysis {exp.id!r} has {size_name} {size_text or 'empty'} here but "
                    f"{exp.sample_size} on {unit} {exp.line}.",
                    f"Give every row of one analysis the same {size_name}.", key)
        if len(xyz) < 3 or space is None or not size_ok:
            exp.broken = True
            continue
        exp.add_point((xyz[0], xyz[1], xyz[2]), lineno, space)
    if no_study:
        _no_study_problem(problems, no_study, study_name, unit, named_before and bool(no_study[0] > header_number + 1))
    if not experiments and not problems:
        raise InputDataError(f"{source.label} has a header but no coordinate rows.",
                             hint="Add one row per focus.")
    result = result_from_experiments(list(experiments.values()), source.fmt, source.path.stem, problems,
                                     stopped is not None, encoding, unit=unit)
    result.stopped = stopped
    result.notes[:0] = notes or []
    attributes: dict[str, dict[str, str]] = {}
    for key, exp in experiments.items():
        if exp.id not in attributes:  # the first of colliding ids, as the studyset keeps it
            values = seen_values.get(key, {})
            attributes[exp.id] = {name: text for name, (text, _) in values.items() if text}
    extra_names = list(dict.fromkeys(name for _, name in extra))
    aliases = {"group": group} if group is not None else {}
    result.columns = AnalysisColumns(lambda: (attributes, varying),
                                     names=list(dict.fromkeys(name for _, name in described)), aliases=aliases)
    result.table_columns = extra_names
    result.table_roles = list(col) + (["group"] if group is not None else [])
    _note_group_split(result, split, several if pool_experiments else {}, group, source, "analysis" in col, varying)
    return result


def _no_study_problem(problems: list[Problem], rows: list[int], study_name: str, unit: str,
                      continued: bool) -> None:
    """One problem for every row without a study (not one per row: a workbook that gives the
    study only on each experiment's first row has hundreds), with what to do about JALE's
    layout when the rows follow rows that name one."""
    shown = ", ".join(map(str, rows[:10])) + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")
    where = f"{unit} {rows[0]}" if len(rows) == 1 else f"{unit}s {shown}"
    text = f"{study_name} is empty." if len(rows) == 1 else f"{study_name} is empty on {len(rows)} {unit}s."
    hint = "Every row names its study."
    if continued:
        hint += (" If the study (and its subjects) is written only on each experiment's first row, as in JALE's "
                 "second layout, read the workbook with format: jale, which fills it down (docs/jale.md), or fill "
                 "the column in.")
    problems.append(Problem(where, text, hint))


def _split_studies(rows: Iterable[tuple[int, list[str]]], col: dict[str, int], group_index: int | None,
                   keys: list[str]) -> tuple[Iterable[tuple[int, list[str]]], dict[str, list[str]]]:
    """``(rows, split)``: the rows (read on as given), and, for a table without an analysis
    column but with a group column, study -> its group values in file order, for the studies
    whose rows hold more than one (read ahead; empty otherwise)."""
    if group_index is None or "analysis" in col:
        return rows, {}
    body = list(rows)
    seen: dict[str, dict[str, None]] = {}
    for _, row in body:
        if len(row) <= max(group_index, col["study"]) or not any(c.strip() for c in row):
            continue
        if row[0].lstrip().startswith("#") or [c.strip().casefold() for c in row] == keys:
            continue
        study = row[col["study"]].strip()
        if study:
            seen.setdefault(study, {})[row[group_index].strip()] = None
    return body, {study: list(values) for study, values in seen.items() if len(values) > 1}


def _note_group_split(result: ReadResult, split: dict[str, list[str]], pooled: dict[str, list[str]],
                      group: str | None, source: TableSource, with_analysis: bool, varying: dict[str, str]) -> None:
    """Say what the group column did to the experiments: the studies split by it (they share
    subjects: :attr:`ReadResult.shared_subjects`), those pooled despite it, and a group value
    that differs within an analysis the analysis column names (one experiment, as declared)."""
    if split:
        result.shared_subjects = {study: [f"{study}-{v or DEFAULT_ANALYSIS}" for v in values]
                                  for study, values in split.items()}
    if group is None:
        return
    if pooled:
        result.reading_notes.append(
            f"input.pool_experiments: {plural(len(pooled), 'study', 'studies')} of {source.label} whose rows "
            f"differ by the group column {group!r} {'is' if len(pooled) == 1 else 'are'} one experiment each "
            f"(Turkeltaub et al. 2012): {', '.join(map(repr, list(pooled)[:20]))}")
    elif with_analysis and group in varying:
        result.notes.append(
            f"the group column {group!r} of {source.label} differs within one analysis ({varying[group]}); its rows "
            "are one experiment, as the analysis column says, and the group column cannot select it")



def _header_columns(header: list[str], number: int, source: TableSource,
                    mapping: dict[str, str | None] | None) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """Role -> column index, and the other named columns ``(index, header)``; every problem
    of the header in one :class:`InputDataError`."""
    mapping = {role: name for role, name in (mapping or {}).items() if name}
    keys = [h.casefold() for h in header]
    field = f"{source.field}.columns"
    named = [h for h in header if h]
    if named and all(_is_number(h) for h in named):
        raise InputDataError(
            f"{source.label}, {source.unit} {number}: the table has no header row ({source.layout}; its first "
            f"{source.unit} holds numbers, not column names).",
            hint="Add a header row naming the columns: study_id, analysis_id, x, y, z, space, sample_size (or "
            f"the table's own names, mapped with {field}).",
        )
    col: dict[str, int] = {}
    missing: list[str] = []
    problems: list[str] = []
    for role, default in ROLES.items():
        wanted = mapping.get(role, default)
        if wanted is None:
            continue
        found = [i for i, k in enumerate(keys) if k == wanted.strip().casefold()]
        if not found:
            if role in mapping:
                near = difflib.get_close_matches(wanted, named, n=2, cutoff=0.6) or [
                    h for h in named if h.casefold() in LIKELY.get(role, ())][:1]
                guess = f" (did you mean {' or '.join(map(repr, near))}?)" if near else ""
                problems.append(f"{field}.{role} is {wanted!r}, but the table has no such column{guess}")
            elif role in REQUIRED_ROLES:
                missing.append(role)
            continue
        if len(found) > 1:
            where = " and ".join(source.column_name(i) for i in found)
            problems.append(f"the column {header[found[0]]!r} ({ROLE_WORDS[role]}) is in the header "
                            f"{len(found)} times (columns {where}); ale-app cannot tell which to read")
            continue
        col[role] = found[0]
    by_index: dict[int, list[str]] = {}
    for role, i in col.items():
        by_index.setdefault(i, []).append(role)
    for i, roles in by_index.items():
        if len(roles) > 1:
            how = ", ".join(f"{r} ({'mapped' if r in mapping else 'its usual header'})" for r in roles)
            problems.append(f"the column {header[i]!r} is read for {len(roles)} roles: {how}")
            for role in roles:
                col.pop(role)
    if missing:
        suggestions = {}
        for role in missing:
            likely = [h for h in named if h.casefold() in LIKELY.get(role, ()) and keys.index(h.casefold())
                      not in col.values()]
            if likely:
                suggestions[role] = likely[0]
        text = f"the table has no column(s) {', '.join(str(ROLES[r]) for r in missing)}"
        if suggestions:
            which = " and ".join(map(repr, suggestions.values()))
            pairs = ", ".join(f"{role}: {name}" for role, name in suggestions.items())
            text += f" (if {which} {'is' if len(suggestions) == 1 else 'are'} meant, map: {field}: {{{pairs}}})"
        problems.insert(0, text)
    if problems:
        looks_like_a_table = bool(col) or bool(mapping)
        headers = f"; its columns are {', '.join(repr(h[:40]) for h in named)}" if looks_like_a_table and named \
            else ""
        where = f"{source.label}, {source.unit} {number}"
        if len(problems) == 1:
            message = f"{where}: {problems[0]} ({source.layout}{headers})."
        else:
            lines = [f"{where}: {len(problems)} problems in the table's header ({source.layout}{headers}):"]
            lines += [f"  {i}. {p}." for i, p in enumerate(problems, 1)]
            message = "\n".join(lines)
        raise InputDataError(message, hint=(
            f"Name the table's own headers with {field}, e.g. columns: {{study: publication, sample_size: n}}; "
            "without it the header needs study_id, x, y, z, space and optionally analysis_id and sample_size"
            + ("; a .tsv file is tab-separated and a .csv file comma-separated." if source.fmt == "tsv" else ".")))
    # The group column describes analyses (select.where reads it), like every other column.
    used = {i for role, i in col.items() if role != "group"}
    extra = [(i, h) for i, h in enumerate(header) if h and i not in used]
    return col, extra


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def likely_role(name: str) -> str | None:
    """The role a header often holds (``n`` -> ``sample_size``), for a note; None if none."""
    key = name.strip().casefold()
    return next((role for role, names in LIKELY.items() if key in names), None)


def _note_columns(row: list[str], extra: list[tuple[int, str]], lineno: int, unit: str, key: tuple[str, str],
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
            varying[name] = (f"analysis '{study}-{analysis}' has {first[0]!r} on {unit} {first[1]} and "
                             f"{text!r} on {unit} {lineno}")
