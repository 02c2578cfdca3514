"""Read an input studyset into one :class:`Evidence` object and check it.

One entry point, :func:`load_evidence`, reads every supported format into a NIMADS
studyset in the target space, applies ``input.select`` in file order, and checks that the
result can be analysed. New formats join by adding a reader to ``_READERS`` that returns a
NIMADS dictionary and the analysis ids in file order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ale_app.errors import InputDataError, MissingInputError
from ale_app.spec import ALESpec, InputSpec

LGR = logging.getLogger(__name__)

NIMARE_PREFIX = "nimare:"


@dataclass
class Evidence:
    """The analyses that enter the meta-analysis, in the target space.

    Attributes
    ----------
    studyset : nimare.studyset.Studyset
        The selected analyses, as NiMARE fits them.
    ids : list of str
        Selected analysis ids (``<study id>-<analysis id>``), in file order.
    coordinates : pandas.DataFrame
        One row per focus: ``analysis_id, study_id, x, y, z, space`` (target space, mm).
    sample_sizes : dict
        Analysis id -> sample size from the data (None where the data has none).
    source : dict
        ``path`` as the spec gave it, ``resolved`` absolute path, ``sha256``, ``format``.
    """

    studyset: Any
    ids: list[str]
    coordinates: pd.DataFrame
    sample_sizes: dict[str, float | None]
    source: dict[str, str]
    warnings: list[str] = field(default_factory=list)

    @property
    def study_ids(self) -> list[str]:
        """Study ids in file order of their first analysis."""
        return list(dict.fromkeys(self.coordinates["study_id"]))


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_input_path(path: str, spec_dir: Path) -> Path:
    """Resolve ``input.path``: ``nimare:NAME`` from NiMARE's resources, else spec-relative."""
    if path.startswith(NIMARE_PREFIX):
        from nimare.utils import get_resource_path

        resolved = Path(get_resource_path()) / path[len(NIMARE_PREFIX) :]
    else:
        resolved = Path(path)
        if not resolved.is_absolute():
            resolved = spec_dir / resolved
    if not resolved.exists():
        raise MissingInputError(
            f"The input file {path!r} does not exist (looked for {resolved}).",
            hint="input.path is relative to the spec's folder; 'nimare:NAME' names a file "
            "bundled with NiMARE.",
        )
    return resolved


# --------------------------------------------------------------------------- readers


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8-sig") as fh:
            return json.load(fh)
    except OSError as exc:
        raise MissingInputError(
            f"The input file {str(path)!r} cannot be read: {exc.strerror}.",
            hint="Check the file's permissions.",
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        where = f", line {line}" if line else ""
        raise InputDataError(
            f"The input file {str(path)!r} is not valid JSON{where}: {exc}.",
            hint="Check input.format, and that the file is a NIMADS or NiMARE JSON studyset.",
        ) from None


def _detect_json_format(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("studies"), list):
        return "nimads"
    if isinstance(data, dict) and data and all(
        isinstance(v, dict) and isinstance(v.get("contrasts"), dict) for v in data.values()
    ):
        return "nimare-json"
    return None


def _read_nimads(path: Path, data: Any) -> tuple[dict, list[str]]:
    if _detect_json_format(data) != "nimads":
        raise InputDataError(
            f"The input file {str(path)!r} is not a NIMADS studyset: it has no 'studies' list.",
            hint="Set input.format to the file's format, or to 'auto'.",
        )
    ids = []
    for i_study, study in enumerate(data["studies"]):
        if not isinstance(study, dict) or "id" not in study:
            raise InputDataError(
                f"Study number {i_study + 1} in {str(path)!r} has no 'id'.",
                hint="Every NIMADS study needs an 'id'.",
            )
        for analysis in study.get("analyses") or []:
            ids.append(f"{study['id']}-{analysis.get('id')}")
    return data, ids


def _read_nimare_json(path: Path, data: Any) -> tuple[dict, list[str]]:
    if _detect_json_format(data) != "nimare-json":
        raise InputDataError(
            f"The input file {str(path)!r} is not a NiMARE JSON dataset: its top level must "
            "map study ids to objects with 'contrasts'.",
            hint="Set input.format to the file's format, or to 'auto'.",
        )
    from nimare.dataset import Dataset
    from nimare.io import convert_dataset_to_nimads_dict

    ids = [f"{sid}-{cid}" for sid, study in data.items() for cid in study["contrasts"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = Dataset(data, target="mni152_2mm")
        nimads = convert_dataset_to_nimads_dict(dataset)
    return nimads, ids


_READERS: dict[str, Callable[[Path, Any], tuple[dict, list[str]]]] = {
    "nimads": _read_nimads,
    "nimare-json": _read_nimare_json,
}


def _read_any(path: Path, fmt: str) -> tuple[dict, list[str], str]:
    if path.is_dir():
        raise InputDataError(
            f"The input path {str(path)!r} is a folder; ale-app reads NIMADS or NiMARE JSON files.",
            hint="Point input.path at a .json studyset file.",
        )
    data = _read_json(path)
    if fmt == "auto":
        fmt = _detect_json_format(data)
        if fmt is None:
            raise InputDataError(
                f"The input file {str(path)!r} is JSON but neither a NIMADS studyset "
                "(top-level 'studies' list) nor a NiMARE JSON dataset (study ids mapping to "
                "'contrasts').",
                hint="Check that input.path names the studyset file.",
            )
    nimads, ids = _READERS[fmt](path, data)
    return nimads, ids, fmt


# --------------------------------------------------------------------------- selection


def _select_ids(all_ids: list[str], input_spec: InputSpec) -> list[str]:
    select = input_spec.select
    if select is None:
        return list(all_ids)
    if select.first is not None:
        if select.first > len(all_ids):
            raise InputDataError(
                f"input.select.first is {select.first}, but the input has only "
                f"{len(all_ids)} analyses.",
                hint=f"Use a number from 2 to {len(all_ids)}, or remove input.select.",
            )
        return list(all_ids[: select.first])
    known = set(all_ids)
    unknown = [i for i in select.ids if i not in known]
    if unknown:
        shown = ", ".join(all_ids[:5]) + (", ..." if len(all_ids) > 5 else "")
        raise InputDataError(
            "input.select.ids names analyses that are not in the input: "
            + ", ".join(repr(i) for i in unknown)
            + ".",
            hint=f"Ids are '<study id>-<analysis id>' as in the input, e.g. {shown}.",
        )
    wanted = set(select.ids)
    return [i for i in all_ids if i in wanted]


def load_evidence(input_spec: InputSpec, spec_dir: Path, ale_spec: ALESpec) -> Evidence:
    """Read, select and check the input studyset.

    Parameters
    ----------
    input_spec : InputSpec
        The spec's ``input`` section.
    spec_dir : Path
        Folder that a relative ``input.path`` is resolved against.
    ale_spec : ALESpec
        The spec's ``ale`` section (to know whether sample sizes are needed).

    Returns
    -------
    Evidence
    """
    from nimare.studyset import Studyset

    path = resolve_input_path(input_spec.path, spec_dir)
    nimads, all_ids, fmt = _read_any(path, input_spec.format)
    LGR.info("Read %s as %s: %d analyses", input_spec.path, fmt, len(all_ids))

    duplicates = sorted({i for i in all_ids if all_ids.count(i) > 1})
    if duplicates:
        raise InputDataError(
            f"The input {input_spec.path!r} has duplicate analysis ids: {', '.join(duplicates)}.",
            hint="Give every analysis of a study its own id.",
        )
    ids = _select_ids(all_ids, input_spec)
    if len(ids) < 2:
        raise InputDataError(
            f"The selection from {input_spec.path!r} has {len(ids)} analysis; ALE needs at least 2.",
            hint="Select more analyses with input.select.",
        )

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            studyset = Studyset(nimads, target=ale_spec.template).slice(ids)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputDataError(
            f"NiMARE could not read {input_spec.path!r} as a {fmt} studyset: {exc}",
            hint="Check the file against the NIMADS or NiMARE JSON format.",
        ) from None

    coords = studyset.coordinates.rename(columns={"id": "analysis_id"})
    coords = coords[["analysis_id", "study_id", "x", "y", "z", "space"]].astype(
        {"analysis_id": object, "study_id": object, "space": object}
    )
    # File order of analyses, then the order NiMARE keeps foci in within one analysis.
    order = {aid: i for i, aid in enumerate(ids)}
    coords = coords.assign(_o=coords["analysis_id"].map(order)).sort_values("_o", kind="stable")
    coords = coords.drop(columns="_o").reset_index(drop=True)

    no_foci = [i for i in ids if i not in set(coords["analysis_id"])]
    if no_foci:
        raise InputDataError(
            f"These analyses in {input_spec.path!r} have no coordinates: {', '.join(no_foci)}.",
            hint="Remove them from the input or from input.select.",
        )
    bad = ~np.isfinite(coords[["x", "y", "z"]].to_numpy(dtype=float)).all(axis=1)
    if bad.any():
        names = sorted(set(coords.loc[bad, "analysis_id"]))
        raise InputDataError(
            f"Non-finite coordinates in analyses {', '.join(names)} of {input_spec.path!r}.",
            hint="Every focus needs numeric x, y and z in mm.",
        )

    sizes = pd.Series(studyset.sample_sizes(), index=list(studyset.ids), dtype=float)
    sample_sizes = {i: (None if np.isnan(sizes[i]) else float(sizes[i])) for i in ids}
    if ale_spec.sample_size is None and ale_spec.kernel_fwhm is None:
        missing = [i for i, n in sample_sizes.items() if n is None]
        if missing:
            raise InputDataError(
                f"These analyses have no sample size: {', '.join(missing)}.",
                hint="Add sample sizes to the input, or set ale.sample_size or ale.kernel_fwhm.",
            )
        nonpositive = [i for i, n in sample_sizes.items() if n is not None and n <= 0]
        if nonpositive:
            raise InputDataError(
                f"These analyses have a sample size that is not positive: {', '.join(nonpositive)}.",
                hint="Correct the sample sizes in the input.",
            )

    source = {
        "path": input_spec.path,
        "resolved": str(path.resolve()),
        "sha256": sha256_file(path),
        "format": fmt,
    }
    return Evidence(
        studyset=studyset,
        ids=ids,
        coordinates=coords,
        sample_sizes=sample_sizes,
        source=source,
    )
