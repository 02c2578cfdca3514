"""NiMARE parquet studyset folders (e.g. NiMARE's ``nback_vs_flanker_studyset_2026-07``).

The columns of ``annotations.parquet`` and ``metadata.parquet`` describe the analyses (one
row each, joined on ``id``, the analysis id NiMARE's ``Studyset`` gives); ``select.where``
selects by them. They are read only when a column is asked for, and then only that column.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from ale_app.errors import InputDataError
from ale_app.inputs.readers.analysis_columns import AnalysisColumns, value_text
from ale_app.inputs.readers.base import ReadResult
from ale_app.inputs.readers.input_file import check_input_file

REQUIRED_TABLES = ("studies.parquet", "analyses.parquet", "coordinates.parquet")
#: The tables whose columns describe analyses, in the order a column is looked up.
COLUMN_TABLES = ("annotations.parquet", "metadata.parquet")
#: Key columns of those tables (not descriptive).
KEY_COLUMNS = ("id", "study_id", "contrast_id")


def read_parquet_folder(path: Path) -> ReadResult:
    """Read a parquet studyset folder with NiMARE's ``Studyset``; ids in the folder's order."""
    from nimare.studyset import Studyset

    if not path.is_dir():
        raise InputDataError(
            f"The input path {str(path)!r} is a file, but input.format is 'parquet' (a folder "
            "of parquet tables).",
            hint="Point input.path at the studyset folder, or set input.format to the file's format.",
        )
    for table in (*REQUIRED_TABLES, *COLUMN_TABLES):
        if os.path.lexists(path / table):
            check_input_file(path / table)
    missing = [t for t in REQUIRED_TABLES if not (path / t).is_file()]
    if missing:
        raise InputDataError(
            f"The folder {str(path)!r} is not a parquet studyset: it has no {', '.join(missing)}.",
            hint="A parquet studyset folder holds studies.parquet, analyses.parquet and "
            "coordinates.parquet, as NiMARE writes them.",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            studyset = Studyset(str(path), target=None)
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input data
        raise InputDataError(
            f"NiMARE could not read the parquet studyset {str(path)!r}: {type(exc).__name__}: {exc}",
            hint="Check that the folder was written by NiMARE's studyset parquet writer.",
        ) from None
    ids = [str(i) for i in studyset.ids]
    return ReadResult(source=studyset, ids=ids, format="parquet",
                      where={i: f"analysis {i!r}" for i in ids}, columns=ParquetColumns(path))


class ParquetColumns(AnalysisColumns):
    """The annotation and metadata columns of a parquet studyset folder, read one at a time.

    A column in both tables takes its value from ``annotations.parquet`` and, where that
    has none, from ``metadata.parquet``.
    """

    def __init__(self, folder: Path):
        super().__init__(self._load_all)
        self.folder = folder
        self._schemas: dict[str, list[str]] | None = None
        self._columns: dict[str, dict[str, str]] = {}

    def _tables(self) -> dict[str, list[str]]:
        """Table file -> its descriptive column names (from the parquet schema only)."""
        if self._schemas is None:
            import pyarrow.parquet as pq

            self._schemas = {}
            for table in COLUMN_TABLES:
                file = self.folder / table
                if not file.is_file():
                    continue
                try:
                    names = pq.read_schema(file).names
                except Exception:  # noqa: BLE001 - an unreadable table has no columns to offer
                    continue
                if "id" in names:
                    self._schemas[table] = [n for n in names if n not in KEY_COLUMNS]
        return self._schemas

    @property
    def names(self) -> list[str]:
        found: dict[str, None] = {}
        for names in self._tables().values():
            found.update(dict.fromkeys(names))
        return list(found)

    def varying(self, name: str) -> str | None:
        return None  # one row per analysis

    def column(self, name: str) -> dict[str, str]:
        if name not in self._columns:
            import pyarrow.parquet as pq

            values: dict[str, str] = {}
            for table, names in self._tables().items():
                if name not in names:
                    continue
                read = pq.read_table(self.folder / table, columns=["id", name])
                for aid, value in zip(read.column("id").to_pylist(), read.column(name).to_pylist()):
                    text = value_text(value)
                    if text is not None and aid is not None:
                        values.setdefault(str(aid), text)
            self._columns[name] = values
        return dict(self._columns[name])

    def _load_all(self) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
        import pyarrow.parquet as pq

        attributes: dict[str, dict[str, str]] = {}
        for table, names in self._tables().items():
            read = pq.read_table(self.folder / table, columns=["id", *names])
            ids = read.column("id").to_pylist()
            for name in names:
                for aid, value in zip(ids, read.column(name).to_pylist()):
                    text = value_text(value)
                    if text is not None and aid is not None:
                        attributes.setdefault(str(aid), {}).setdefault(name, text)
        return attributes, {}
