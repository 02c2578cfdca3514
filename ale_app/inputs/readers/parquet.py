"""NiMARE parquet studyset folders (e.g. NiMARE's ``nback_vs_flanker_studyset_2026-07``)."""

from __future__ import annotations

import warnings
from pathlib import Path

from ale_app.errors import InputDataError
from ale_app.inputs.readers import ReadResult

REQUIRED_TABLES = ("studies.parquet", "analyses.parquet", "coordinates.parquet")


def read_parquet_folder(path: Path) -> ReadResult:
    """Read a parquet studyset folder with NiMARE's ``Studyset``; ids in the folder's order."""
    from nimare.studyset import Studyset

    if not path.is_dir():
        raise InputDataError(
            f"The input path {str(path)!r} is a file, but input.format is 'parquet' (a folder "
            "of parquet tables).",
            hint="Point input.path at the studyset folder, or set input.format to the file's format.",
        )
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
                      where={i: f"analysis {i!r}" for i in ids})
