"""An Excel workbook (``.xlsx``) holding a coordinate table, as JALE users keep their foci.

One sheet is read: the first, unless the spec names one (``input.sheet``); the reader says
which, and warns when the first sheet it read is hidden in Excel. Its first row with a value is the header, and the rows below it are read exactly as
a CSV table's (:func:`ale_app.inputs.readers.table.read_rows`: the same columns, the same
``columns`` mapping, the same checks, every problem at once), so a workbook and the CSV it
would be saved as give the same experiments. Cells are read as their stored values
(``data_only``: a formula gives the value Excel last computed); numbers keep their full
precision; empty rows are skipped. Messages name rows as the spreadsheet numbers them.

Excel 97-2003 workbooks (``.xls``) are refused with what to do (save as .xlsx or CSV): no
light, maintained reader of them is worth a dependency.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
import zipfile
from pathlib import Path
from typing import Any

from ale_app.errors import AleAppError, InputDataError
from ale_app.inputs.readers.base import ReadResult
from ale_app.inputs.readers.input_file import check_input_file, refuse_workbook
from ale_app.inputs.readers.workbook_limits import check_workbook_limits, damaged_part
from ale_app.inputs.readers.table import TableSource, read_rows


def cell_text(value: Any) -> str:
    """A cell's value as the text a CSV export would hold, without losing precision: whole
    numbers without ``.0``, other floats as their shortest exact form (``repr``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


def read_workbook(path: Path, columns: dict[str, str | None] | None = None, sheet: str | None = None,
                  field: str = "input", pool_experiments: bool = False) -> ReadResult:
    """Read one sheet of an ``.xlsx`` workbook as a coordinate table (see the module)."""
    sheet_rows = read_sheet_rows(path, sheet, field)
    result = read_rows(sheet_rows.rows, sheet_rows.source, columns, None, strict_width=False,
                       pool_experiments=pool_experiments)
    sheet_rows.describe(result, path, sheet, field)
    return result


@dataclass
class SheetRows:
    """One sheet's rows as text (``(row number, cells)``), where they came from, and which
    sheet was read and why."""

    rows: list[tuple[int, list[str]]]
    source: TableSource
    chosen: str
    note: str
    state: str
    #: The workbook's visible sheets.
    names: list[str]

    def describe(self, result: ReadResult, path: Path, sheet: str | None, field: str) -> None:
        """Record on ``result`` the sheet read, and note a hidden first sheet."""
        result.sheet = self.chosen
        result.sheet_note = self.note
        if self.state != "visible" and sheet is None:
            others = self.names
            result.notes.append(
                f"the workbook {str(path)!r}'s first sheet, {self.chosen!r}, which was read, is "
                f"{'very hidden' if self.state == 'veryHidden' else 'hidden'} in Excel: its rows are analysed "
                f"although the workbook does not show them (visible sheets: {', '.join(map(repr, others)) or 'none'}); "
                f"name the sheet to read with {field}.sheet")


def read_sheet_rows(path: Path, sheet: str | None = None, field: str = "input", fmt: str = "xlsx") -> SheetRows:
    """The rows of one sheet of an ``.xlsx`` workbook as text, checked as the module says."""
    check_input_file(path)
    refuse_workbook(path, "xlsx", field)
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.exceptions import InvalidFileException

    label = repr(str(path))
    check_workbook_limits(path)  # what it expands to, before openpyxl parses any of it
    try:
        book = load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except AleAppError:
        raise
    except (InvalidFileException, zipfile.BadZipFile) as exc:
        raise InputDataError(f"The input file {label} cannot be read as an Excel workbook: "
                             f"{type(exc).__name__}: {str(exc)[:200]}",
                             hint="Open it in Excel or LibreOffice and save it again as .xlsx, or as CSV.") from None
    except OSError as exc:
        if exc.errno is None:  # openpyxl's own IOError ("File contains no valid workbook part")
            raise damaged_part(label, None, exc) from None
        from ale_app.errors import MissingInputError

        raise MissingInputError(f"The input file {label} cannot be read: {exc.strerror}.",
                                hint="Check the file's permissions.") from None
    except Exception as exc:  # a malformed part: XML, values, an overflow or memory error of a parser
        raise damaged_part(label, None, exc) from None
    part = None
    try:
        names = [ws.title for ws in book.worksheets]
        states = {ws.title: getattr(ws, "sheet_state", None) or "visible" for ws in book.worksheets}
        if not names:
            raise InputDataError(f"The workbook {label} has no worksheets.",
                                 hint="Put the coordinate table on a worksheet.")
        listed = ", ".join(map(repr, names))
        if sheet is None:
            chosen = names[0]
            note = (f"sheet {chosen!r}, the workbook's only sheet" if len(names) == 1 else
                    f"sheet {chosen!r}, the first of the workbook's {len(names)} sheets ({listed}); "
                    f"{field}.sheet names another")
        elif sheet in names:
            chosen = sheet
            note = f"sheet {chosen!r} ({field}.sheet)"
        else:
            near = [n for n in names if n.strip().casefold() == sheet.strip().casefold()]
            guess = f" (did you mean {near[0]!r}?)" if near else ""
            raise InputDataError(
                f"{field}.sheet is {sheet!r}, but the workbook {label} has no such sheet{guess}; its "
                f"sheet{'s are' if len(names) > 1 else ' is'} {listed}.",
                hint=f"Name one of its sheets as written (case and spaces count), or remove {field}.sheet to "
                "read the first.")
        ws = book[chosen]
        part = getattr(ws, "_worksheet_path", None)
        state = states[chosen]
        if state != "visible":
            note += f" ({'very hidden' if state == 'veryHidden' else 'hidden'} in Excel)"
        ws.reset_dimensions()  # some writers record a wrong used range; read every cell there is
        rows = [(number, [cell_text(v) for v in values])
                for number, values in enumerate(ws.iter_rows(values_only=True), start=1)]
    except AleAppError:
        raise
    except Exception as exc:  # the sheet is parsed as its rows are read
        raise damaged_part(label, part, exc) from None
    finally:
        book.close()
    layout = f"sheet {chosen!r}" if sheet is not None or len(names) == 1 else note
    source = TableSource(path, fmt, "row", layout, lambda i: get_column_letter(i + 1), field)
    if not any(any(cell.strip() for cell in row) for _, row in rows):
        raise InputDataError(f"Sheet {chosen!r} of the workbook {label} is empty.",
                             hint=f"Name the sheet that holds the coordinates with {field}.sheet."
                             if len(names) > 1 else "Check input.path.")
    return SheetRows(rows, source, chosen, note, state, [n for n in names if states[n] == "visible"])
