"""JALE's ``experiment_info`` workbook (``.xlsx``, or the ``.csv`` it would be saved as),
read by JALE 0.2.10's rules (``jale/core/utils/input.py``).

Columns: the first six are the article, its subjects, x, y, z and the space (MNI or TAL),
whatever their headers say (JALE renames them by position); every column after them is a
tag column, and a row's tags are its non-empty tag cells in lower case, without surrounding
spaces.

Two layouts, told apart as JALE tells them:

- the article on every row: rows of one article with the same tags are one experiment, and
  rows of one article with other tags another experiment (JALE's rule: one article with two
  tag sets is two experiments, which share subjects);
- the article (with its subjects, space and tags) only on each experiment's first row, as
  soon as one row has no article: the rows below take them from the experiment's first row
  (filled down; said in a note, logged).

With ``pool_experiments`` an article's rows are one experiment whatever their tags (JALE's
``pool_experiments``, Turkeltaub et al. 2012); its tags are those of its first row, as JALE
keeps them. An article that holds several experiments is named either way: in a note when
pooled, else in :attr:`ReadResult.shared_subjects` (the selection's warning names those
whose experiments it keeps, :func:`shared_subjects_warning`).

The rows then go through the table reader (:func:`ale_app.inputs.readers.table.read_rows`),
with the same checks and messages as any table; the experiment's tags are a ``tags`` column
(``a;b``) that ``select.where`` can name, and :attr:`ReadResult.tags` for ``select.tags``.
Experiment ids are ``<article>-<tags joined by _>`` (``study_49-inhibition_low``), or
``<article>-pooled`` for a pooled article of several tag sets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ale_app.errors import InputDataError
from ale_app.inputs.readers.base import ReadResult, plural
from ale_app.inputs.readers.table import TableSource, read_rows

__all__ = ["read_jale_workbook", "shared_subjects_warning", "TAG_SEPARATOR"]

#: JALE's six positional columns, as the table reader's usual headers.
POSITIONAL = ("study_id", "sample_size", "x", "y", "z", "space")
#: The tags of an experiment in its ``tags`` column.
TAG_SEPARATOR = ";"
#: At most this many articles are named in a note.
MAX_NAMED = 20


def _rows(path: Path, sheet: str | None, field: str) -> tuple[list[tuple[int, list[str]]], TableSource, Any]:
    """The file's rows as text, its :class:`TableSource` and (a workbook) its sheet record."""
    from ale_app.inputs.readers.input_file import workbook_kind

    if workbook_kind(path) == "xlsx":
        from ale_app.inputs.readers.excel import read_sheet_rows

        sheet_rows = read_sheet_rows(path, sheet, field, fmt="jale")
        return sheet_rows.rows, sheet_rows.source, sheet_rows
    if sheet is not None:
        raise InputDataError(f"{field}.sheet is given, but {str(path)!r} is not an Excel workbook.",
                             hint=f"Remove {field}.sheet, or give the .xlsx workbook.")
    from ale_app.inputs.readers.input_file import read_text
    from ale_app.inputs.readers.table import _delimiter, _text_rows

    text, _, _ = read_text(path, "JALE experiment table", split=False)
    first = next((line for line in text.splitlines() if line.strip()), "")
    rows = list(_text_rows(text, _delimiter(path, first)))
    return rows, TableSource(path, "jale", "line", "read as JALE's experiment table", lambda i: str(i + 1), field), None


def read_jale_workbook(path: Path, sheet: str | None = None, pool_experiments: bool = False,
                       field: str = "input") -> ReadResult:
    """Read JALE's experiment workbook ``path`` (see the module) into a :class:`ReadResult`."""
    rows, source, sheet_rows = _rows(path, sheet, field)
    rows = [(n, [c.strip() for c in row]) for n, row in rows]
    header_at = next((i for i, (_, row) in enumerate(rows) if any(row)), None)
    if header_at is None:
        raise InputDataError(f"{source.label} has no rows with a value.", hint=f"Check {field}.path.")
    header_number, header = rows[header_at]
    if len(header) < 6:
        raise InputDataError(
            f"{source.label}, {source.unit} {header_number}: JALE's experiment table has at least six columns "
            f"(article, subjects, x, y, z, space), this one {len(header)}.",
            hint="Put the article, the number of subjects, x, y, z and the space (MNI or TAL) in the first six "
            "columns, and tags in the columns after them.")
    tag_headers = [h or f"column {source.column_name(i + 6)}" for i, h in enumerate(header[6:])]
    body = [(n, row + [""] * (len(header) - len(row))) for n, row in rows[header_at + 1:] if any(row)]
    filled = any(not row[0] for _, row in body)
    notes: list[str] = []
    if filled and body and not body[0][1][0]:
        raise InputDataError(
            f"{source.label}, {source.unit} {body[0][0]}: the first experiment row names no article "
            f"(column {source.column_name(0)} {header[0]!r}).",
            hint="Give the article on each experiment's first row (or on every row).")

    # Each experiment: (article, tags) or, pooled, (article,); in file order of its first row.
    out: list[tuple[int, list[str]]] = []
    key_of_row: list[tuple] = []
    tags_of: dict[tuple, tuple[str, ...]] = {}
    tag_sets_of: dict[str, set[tuple[str, ...]]] = {}  # article -> the tag sets of its rows
    first_row: list[str] = []
    n_filled = 0
    for number, row in body:
        if filled and row[0]:
            first_row = row
        elif filled:
            n_filled += 1
        given = first_row if filled else row
        article, subjects, space = given[0], given[1], given[5]
        tags = tuple(t.lower() for t in given[6:] if t)
        key = (article,) if pool_experiments else (article, tags)
        tags_of.setdefault(key, tags)
        tag_sets_of.setdefault(article, set()).add(tags)
        key_of_row.append(key)
        out.append((number, [article, subjects, row[2], row[3], row[4], space]))
    if filled:
        notes.append(f"{source.label}: the article is given only on each experiment's first row (JALE's second "
                     f"layout); {plural(n_filled, source.unit)} took the article, subjects, space and tags of "
                     "the experiment's first row (filled down)")
    several = {a: sets for a, sets in tag_sets_of.items() if len(sets) > 1}

    def analysis_of(key: tuple) -> str:
        if pool_experiments and key[0] in several:
            return "pooled"
        return "_".join(tags_of[key]) or "untagged"

    table = [(header_number, [*POSITIONAL, "analysis_id", "tags"])]
    table += [(number, [*cells, analysis_of(key), TAG_SEPARATOR.join(tags_of[key])])
              for (number, cells), key in zip(out, key_of_row)]
    columns: dict[str, str | None] = {"study": "study_id", "analysis": "analysis_id", "sample_size": "sample_size"}
    result = read_rows(table, source, columns, None, strict_width=False)
    result.reading_notes.extend(notes)
    if several and not pool_experiments:
        result.shared_subjects = {a: [f"{a}-{analysis_of((a, t))}" for t in _in_order(sets, key_of_row, a)]
                                  for a, sets in several.items()}
    if several and pool_experiments:
        result.reading_notes.append(
            f"pool_experiments: {plural(len(several), 'article')} with rows of several tag sets "
            f"{'is' if len(several) == 1 else 'are'} pooled into one experiment each, with the tags of its first "
            f"row (as JALE keeps them): {', '.join(list(several)[:MAX_NAMED])}")
    result.tags = {f"{key[0]}-{analysis_of(key)}": frozenset(tags_of[key]) for key in dict.fromkeys(key_of_row)}
    result.tag_columns = tag_headers
    result.table_columns = []  # every column is read: positional roles and tags
    if sheet_rows is not None:
        sheet_rows.describe(result, path, sheet, field)
    return result


def _in_order(sets: set[tuple[str, ...]], keys: list[tuple], article: str) -> list[tuple[str, ...]]:
    """The tag sets of ``article`` in file order of their first row."""
    return [k[1] for k in dict.fromkeys(keys) if k[0] == article and k[1] in sets]


def shared_subjects_warning(shared: dict[str, list[str]], ids: list[str]) -> str | None:
    """The warning naming the articles of which ``ids`` (a selection) keeps more than one
    experiment (they share subjects); None when there are none."""
    kept = set(ids)
    named = {a: [i for i in aids if i in kept] for a, aids in shared.items()}
    named = {a: aids for a, aids in named.items() if len(aids) > 1}
    if not named:
        return None
    shown = [f"{a} ({', '.join(map(repr, aids))})" for a, aids in list(named.items())[:MAX_NAMED]]
    more = f" and {len(named) - MAX_NAMED} more" if len(named) > MAX_NAMED else ""
    return (f"{plural(len(named), 'study', 'studies')} {'holds' if len(named) == 1 else 'hold'} more than one "
            "experiment, one per tag set or group value (JALE's rule: one article with two tag sets is two "
            f"experiments), and these experiments share subjects: {'; '.join(shown)}{more}. If they are not "
            "independent, set pool_experiments (JALE's config.yml, or input.pool_experiments) to pool each study "
            "into one experiment (Turkeltaub et al. 2012).")
