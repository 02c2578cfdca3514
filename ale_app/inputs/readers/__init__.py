"""Readers that turn each input format into one NIMADS studyset.

Every reader returns a :class:`~ale_app.inputs.readers.base.ReadResult`: a NIMADS dictionary
(or, for parquet folders, the folder NiMARE's ``Studyset`` reads), the analysis ids in file
order, and where each analysis is in the file, so that the shared checks in
:mod:`ale_app.inputs.evidence` can name it. :func:`read_input` picks the reader (``format:
auto`` decides by extension and content); what the readers share is in
:mod:`ale_app.inputs.readers.base` and the modules it names.
"""

from __future__ import annotations

from pathlib import Path

from ale_app.errors import InputDataError
from ale_app.inputs.readers.base import TABLE_FORMATS, ReadResult
from ale_app.inputs.readers.input_file import (check_input_file, first_text_line, read_text, refuse_workbook,
                                               workbook_kind)

__all__ = ["detect_format", "read_input"]


def detect_format(path: Path) -> str:
    """Pick a format from the path's extension and, for JSON, its content."""
    if path.is_dir():
        return "parquet"
    kind = workbook_kind(path)
    if kind == "xlsx":
        return "xlsx"
    if kind is not None:
        refuse_workbook(path, "auto")
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".csv"):
        return "tsv"
    if suffix in (".xlsx", ".xlsm"):
        raise InputDataError(
            f"The input file {str(path)!r} is named like an Excel workbook but is not one (.xlsx files are "
            "zip archives).",
            hint="Open it in Excel or LibreOffice and save it again as .xlsx or CSV, or set input.format.")
    if suffix == ".json":
        from ale_app.inputs.readers.studyset_json import detect_json_format, load_json

        fmt = detect_json_format(load_json(path))
        if fmt is None:
            raise InputDataError(
                f"The input file {str(path)!r} is JSON but neither a NIMADS studyset "
                "(top-level 'studies' list) nor a NiMARE JSON dataset (study ids mapping to "
                "'contrasts').",
                hint="Check that input.path names the studyset file.",
            )
        return fmt
    text, _, _ = read_text(path, "studyset", split=False)  # the first line with text is enough here
    first = first_text_line(text).strip()
    if first.startswith("//"):
        return "sleuth"
    if first.startswith(("{", "[")):
        from ale_app.inputs.readers.studyset_json import detect_json_format, load_json

        fmt = detect_json_format(load_json(path))
        if fmt is not None:
            return fmt
    if "study_id" in first:
        return "tsv"
    raise InputDataError(
        f"Cannot tell the format of {str(path)!r}: it is not a Sleuth file (its first line "
        "does not start with '//'), a table with a 'study_id' column, or JSON.",
        hint="Set input.format (nimads, nimare-json, sleuth, tsv, parquet), or check input.path.",
    )


def read_input(path: Path, fmt: str, columns: dict[str, str | None] | None = None, sheet: str | None = None,
               field: str = "input", pool_experiments: bool = False) -> ReadResult:
    """Read ``path`` as ``fmt`` (``auto`` detects it) into a :class:`ReadResult`.

    For a table (TSV, CSV, Excel), ``columns`` maps roles (``study``, ``x``, ...) to its
    headers (the spec's ``columns``), and ``sheet`` names the workbook's sheet to read (the
    first when None); other formats refuse them. ``field`` is the spec field of the input,
    for messages. ``pool_experiments`` is ``input.pool_experiments`` (JALE's workbook, and a
    table's group column).
    """
    if not path.is_dir():
        check_input_file(path)  # a pipe, a device or a file above the limit: exit 65 before anything else
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "jale":
        if columns:
            raise InputDataError(
                f"{field}.columns is given, but {str(path)!r} is read as JALE's experiment table (format 'jale'), "
                "whose first six columns are the article, subjects, x, y, z and space by position.",
                hint=f"Remove {field}.columns, or read the file as a table (format 'xlsx' or 'tsv').")
        if path.is_dir():
            raise InputDataError(f"The input path {str(path)!r} is a folder, but input.format is 'jale'.",
                                 hint="Point input.path at JALE's experiment_info workbook.")
        from ale_app.inputs.readers.jale_workbook import read_jale_workbook

        return read_jale_workbook(path, sheet=sheet, pool_experiments=pool_experiments, field=field)
    if fmt not in TABLE_FORMATS:
        given = [name for name, value in (("columns", columns), ("sheet", sheet)) if value]
        if given:
            raise InputDataError(
                f"{field}.{given[0]} is given, but {str(path)!r} is read as {fmt}, not a table.",
                hint=f"{field}.columns and {field}.sheet go with a table (TSV, CSV, Excel); remove "
                f"{' and '.join(f'{field}.{g}' for g in given)}.")
    if fmt == "parquet":
        from ale_app.inputs.readers.parquet import read_parquet_folder

        return read_parquet_folder(path)
    if path.is_dir():
        raise InputDataError(
            f"The input path {str(path)!r} is a folder, but input.format is {fmt!r}.",
            hint="Point input.path at a file, or set input.format to 'parquet' (or 'auto') for "
            "a parquet studyset folder.",
        )
    if fmt == "sleuth":
        from ale_app.inputs.readers.sleuth import read_sleuth

        return read_sleuth(path)
    if fmt == "tsv":
        if sheet:
            if workbook_kind(path) == "xlsx":
                raise InputDataError(
                    f"The input file {str(path)!r} is an Excel workbook, but {field}.format is 'tsv' (a text "
                    f"table), which has no sheets for {field}.sheet to name.",
                    hint=f"Set {field}.format to 'xlsx' (or 'auto'); {field}.sheet then names the sheet to read.")
            refuse_workbook(path, fmt, field)  # an .xls, .ods or zip archive: what it is and what to do
            raise InputDataError(f"{field}.sheet is given, but {str(path)!r} is read as a text table (format "
                                 "'tsv'), which has no sheets.",
                                 hint=f"Remove {field}.sheet, or give an Excel workbook (.xlsx).")
        from ale_app.inputs.readers.table import read_table

        return read_table(path, columns=columns, field=field, pool_experiments=pool_experiments)
    if fmt == "xlsx":
        from ale_app.inputs.readers.excel import read_workbook

        return read_workbook(path, columns=columns, sheet=sheet, field=field, pool_experiments=pool_experiments)
    from ale_app.inputs.readers.studyset_json import read_json_studyset

    return read_json_studyset(path, fmt)
