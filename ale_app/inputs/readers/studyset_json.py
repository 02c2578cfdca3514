"""NIMADS studyset JSON and NiMARE dataset JSON.

The descriptive columns (for ``select.where``) are the scalar keys of each analysis's
``metadata`` (a NiMARE JSON contrast's) and of its study's ``metadata``; an analysis's own
key wins over its study's.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from ale_app.errors import InputDataError
from ale_app.inputs.readers.analysis_columns import AnalysisColumns, value_text
from ale_app.inputs.readers.base import ReadResult
from ale_app.inputs.readers.input_file import read_bytes, refuse_binary


def load_json(path: Path) -> Any:
    """Parse a JSON file; a file that is not JSON is exit 65 with its line."""
    data = read_bytes(path)
    refuse_binary(path, data, "JSON", "Check input.path and input.format.")
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        where = f", line {line}" if line else ""
        raise InputDataError(
            f"The input file {str(path)!r} is not valid JSON{where}: {exc}.",
            hint="Check input.format, and that the file is a NIMADS or NiMARE JSON studyset.",
        ) from None


def detect_json_format(data: Any) -> str | None:
    """``nimads``, ``nimare-json`` or None, from the parsed JSON's shape."""
    if isinstance(data, dict) and isinstance(data.get("studies"), list):
        return "nimads"
    if isinstance(data, dict) and data and all(
        isinstance(v, dict) and isinstance(v.get("contrasts"), dict) for v in data.values()
    ):
        return "nimare-json"
    return None


def read_json_studyset(path: Path, fmt: str) -> ReadResult:
    """Read a NIMADS (``fmt="nimads"``) or NiMARE JSON (``"nimare-json"``) file."""
    data = load_json(path)
    found = detect_json_format(data)
    if found != fmt:
        what = {"nimads": "a NIMADS studyset (no top-level 'studies' list)",
                "nimare-json": "a NiMARE JSON dataset (its top level must map study ids to "
                "objects with 'contrasts')"}[fmt]
        raise InputDataError(
            f"The input file {str(path)!r} is not {what}"
            + (f"; it looks like {found}." if found else "."),
            hint="Set input.format to the file's format, or to 'auto'.",
        )
    if fmt == "nimads":
        return _read_nimads(path, data)
    return _read_nimare_json(path, data)


def _read_nimads(path: Path, data: dict) -> ReadResult:
    ids: list[str] = []
    where: dict[str, str] = {}
    entries: list[tuple[str, str | None, str | None, str]] = []
    for i_study, study in enumerate(data["studies"]):
        if not isinstance(study, dict) or "id" not in study:
            raise InputDataError(
                f"Study number {i_study + 1} in {str(path)!r} has no 'id'.",
                hint="Every NIMADS study needs an 'id'.",
            )
        for i_analysis, analysis in enumerate(study.get("analyses") or []):
            if not isinstance(analysis, dict) or analysis.get("id") is None:
                raise InputDataError(
                    f"Analysis number {i_analysis + 1} of study {study['id']!r} in {str(path)!r} "
                    "has no 'id'.",
                    hint="Every NIMADS analysis needs an 'id'.",
                )
            aid = f"{study['id']}-{analysis['id']}"
            place = f"study {study['id']!r}, analysis number {i_analysis + 1}"
            entries.append((aid, str(study["id"]), str(analysis["id"]), place))
            if aid not in where:
                ids.append(aid)
                where[aid] = f"study {study['id']!r}"
    def load():
        pairs = [(f"{study['id']}-{analysis['id']}", study, analysis)
                 for study in data["studies"] for analysis in study.get("analyses") or []]
        return _metadata_columns(pairs), {}

    return ReadResult(source=data, ids=ids, format="nimads", where=where, entries=entries,
                      encoding="utf-8", columns=AnalysisColumns(load))


def _read_nimare_json(path: Path, data: dict) -> ReadResult:
    from nimare.dataset import Dataset
    from nimare.io import convert_dataset_to_nimads_dict

    ids = list(dict.fromkeys(f"{sid}-{cid}" for sid, study in data.items() for cid in study["contrasts"]))
    where = {f"{sid}-{cid}": f"study {sid!r}" for sid, study in data.items() for cid in study["contrasts"]}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # target=None keeps each focus in its recorded space; the Studyset converts.
            dataset = Dataset(data, target=None)
            nimads = convert_dataset_to_nimads_dict(dataset)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputDataError(
            f"NiMARE could not read {str(path)!r} as a NiMARE JSON dataset: {exc}",
            hint="Every contrast needs 'coords' with 'space', 'x', 'y' and 'z' lists.",
        ) from None
    entries: list[tuple[str, str | None, str | None, str]] = [(f"{sid}-{cid}", str(sid), str(cid), f"study {sid!r}")
               for sid, study in data.items() for cid in study["contrasts"]]
    def load():
        pairs = [(f"{sid}-{cid}", study, contrast) for sid, study in data.items()
                 for cid, contrast in study["contrasts"].items()]
        return _metadata_columns(pairs), {}

    return ReadResult(source=nimads, ids=ids, format="nimare-json", where=where, entries=entries,
                      encoding="utf-8", columns=AnalysisColumns(load))


def _metadata_columns(pairs: list[tuple[str, Any, Any]]) -> dict[str, dict[str, str]]:
    """Analysis id -> {metadata key: value as text} for the scalar metadata of each analysis
    and its study (the first analysis of a repeated id, as the studyset keeps it)."""
    attributes: dict[str, dict[str, str]] = {}
    for aid, study, analysis in pairs:
        if aid in attributes:
            continue
        row: dict[str, str] = {}
        for owner in (study, analysis):
            metadata = owner.get("metadata") if isinstance(owner, dict) else None
            if isinstance(metadata, dict):
                for key, value in metadata.items():
                    text = value_text(value)
                    if text is not None:
                        row[str(key)] = text
        attributes[aid] = row
    return attributes
