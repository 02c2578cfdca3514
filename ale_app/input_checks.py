"""Checks on the coordinates read from an input, before any computation.

Each ``check_*`` function raises :class:`~ale_app.errors.InputDataError` (exit 65) with a
message naming the analyses and where they are in the file, or returns what it found for
the warnings and the record. No IO apart from loading the template from NiMARE.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ale_app.errors import InputDataError

#: Eickhoff et al. (2016): ALE's inference needs about 17-20 experiments.
MIN_RECOMMENDED_EXPERIMENTS = 17
MAX_NAMED = 10


def name_list(ids, where: dict[str, str] | None = None, limit: int = MAX_NAMED) -> str:
    """``'a' (line 3), 'b' (line 9)``, shortened to ``limit`` names with a count of the rest."""
    ids = list(ids)
    where = where or {}
    shown = [f"{i!r}" + (f" ({where[i]})" if i in where and not where[i].endswith(repr(i)) else "")
             for i in ids[:limit]]
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(shown) + more


def check_duplicates(ids: list[str], label: str) -> None:
    """Raise if any analysis id occurs twice."""
    seen, dups = set(), []
    for i in ids:
        if i in seen and i not in dups:
            dups.append(i)
        seen.add(i)
    if dups:
        raise InputDataError(
            f"{label} has duplicate analysis ids: {name_list(dups)}.",
            hint="Give every experiment its own name (Sleuth: '// Study 2010: contrast'); "
            "ids are '<study id>-<analysis id>'.",
        )


def check_foci_present(ids: list[str], coords: pd.DataFrame, where: dict, label: str) -> None:
    """Raise if a selected analysis has no foci."""
    present = set(coords["analysis_id"])
    empty = [i for i in ids if i not in present]
    if empty:
        raise InputDataError(
            f"These experiments in {label} have no foci: {name_list(empty, where)}.",
            hint="Add their coordinates, or remove them from the input or from input.select.",
        )


def check_finite(coords: pd.DataFrame, where: dict, label: str) -> None:
    """Raise if a focus has a missing or non-finite coordinate."""
    xyz = pd.to_numeric(coords["x"], errors="coerce"), pd.to_numeric(coords["y"], errors="coerce"), \
        pd.to_numeric(coords["z"], errors="coerce")
    bad = ~np.isfinite(np.column_stack(xyz).astype(float)).all(axis=1)
    if bad.any():
        names = list(dict.fromkeys(coords.loc[bad, "analysis_id"]))
        raise InputDataError(
            f"Missing or non-finite coordinates in {label}: {name_list(names, where)}.",
            hint="Every focus needs numeric x, y and z in mm.",
        )


def classify_spaces(raw_spaces: pd.Series) -> dict[str, int]:
    """Count the foci per recorded space label."""
    return {str(k): int(v) for k, v in raw_spaces.astype(str).value_counts(sort=False).items()}


def check_field_of_view(coords: pd.DataFrame, template, label: str,
                        keep_outside: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check foci against the template's grid and brain mask.

    Raises for foci outside the grid unless ``keep_outside``; returns the foci outside the
    grid (kept) and those inside the grid but outside the brain mask (kept).
    """
    xyz = coords[["x", "y", "z"]].to_numpy(dtype=float)
    ijk = np.rint(np.c_[xyz, np.ones(len(xyz))] @ np.linalg.inv(template.affine).T)[:, :3].astype(int)
    shape = np.array(template.shape[:3])
    inside = ((ijk >= 0) & (ijk < shape)).all(axis=1)
    columns = ["analysis_id", "study_id", "x", "y", "z"]
    if not inside.all() and not keep_outside:
        rows = coords.loc[~inside]
        shown = "; ".join(
            f"{r.analysis_id!r} ({r.x:g}, {r.y:g}, {r.z:g})" for r in rows.head(MAX_NAMED).itertuples()
        )
        more = f"; and {len(rows) - MAX_NAMED} more" if len(rows) > MAX_NAMED else ""
        lo = template.affine[:3, :3] @ np.zeros(3) + template.affine[:3, 3]
        hi = template.affine[:3, :3] @ (shape - 1) + template.affine[:3, 3]
        box = ", ".join(f"{min(a, b):g}..{max(a, b):g}" for a, b in zip(lo, hi))
        raise InputDataError(
            f"{len(rows)} focus/foci in {label} lie outside the template's field of view "
            f"(x, y, z within {box} mm): {shown}{more}.",
            hint="Check for a typing error, swapped or missing signs, or a coordinate in voxels "
            "instead of mm; Talairach foci need '// Reference=Talairach' or space TAL. To keep "
            "such foci as NiMARE does, set input.outside_field_of_view: keep.",
        )
    outside_fov = coords.loc[~inside, columns].reset_index(drop=True)
    ijk_in = np.clip(ijk, 0, shape - 1)
    in_mask = np.asarray(template.dataobj)[ijk_in[:, 0], ijk_in[:, 1], ijk_in[:, 2]] > 0
    outside_mask = coords.loc[inside & ~in_mask, columns].reset_index(drop=True)
    return outside_fov, outside_mask


def check_sample_sizes(sample_sizes: dict, needed: bool, where: dict, label: str) -> None:
    """Raise for non-positive sample sizes, and for missing ones when they are needed."""
    nonpositive = [i for i, n in sample_sizes.items() if n is not None and not n > 0]
    if nonpositive:
        raise InputDataError(
            f"These experiments in {label} have a sample size that is not positive: "
            f"{name_list(nonpositive, where)}.",
            hint="Correct the sample sizes (Sleuth: '// Subjects=N' with N at least 1).",
        )
    missing = [i for i, n in sample_sizes.items() if n is None]
    if needed and missing:
        raise InputDataError(
            f"{len(missing)} of {len(sample_sizes)} experiments in {label} have no sample size: "
            f"{name_list(missing, where)}.",
            hint="Add sample sizes to the input (Sleuth: '// Subjects=N'), or set ale.sample_size "
            "(one size for all) or ale.kernel_fwhm (one kernel for all) in the spec.",
        )


def find_warnings(ids: list[str], coords: pd.DataFrame, outside_mask: pd.DataFrame,
                  unconverted: dict[str, int], outside_fov: pd.DataFrame | None = None) -> list[str]:
    """Warnings that do not stop the analysis, in words for the log and the record."""
    found = []
    if len(ids) < MIN_RECOMMENDED_EXPERIMENTS:
        found.append(
            f"{len(ids)} experiments: fewer than {MIN_RECOMMENDED_EXPERIMENTS}, the number ALE's "
            "inference needs (about 17-20, Eickhoff et al. 2016); read the results descriptively."
        )
    groups: dict[tuple, list[str]] = {}
    for aid, foci in coords.groupby("analysis_id", sort=False):
        key = tuple(sorted(map(tuple, np.round(foci[["x", "y", "z"]].to_numpy(dtype=float), 6))))
        groups.setdefault(key, []).append(aid)
    doubles = [same for same in groups.values() if len(same) > 1]
    if doubles:
        shown = "; ".join(" = ".join(repr(i) for i in same) for same in doubles[:MAX_NAMED])
        more = f"; and {len(doubles) - MAX_NAMED} more" if len(doubles) > MAX_NAMED else ""
        found.append(
            f"{len(doubles)} group(s) of experiments have identical coordinate sets, a likely double "
            f"entry: {shown}{more}."
        )
    per_study = coords.drop_duplicates("analysis_id").groupby("study_id", sort=False)["analysis_id"].agg(list)
    several = {study: len(analyses) for study, analyses in per_study.items() if len(analyses) > 1}
    if several:
        shown = ", ".join(f"{study!r} ({n})" for study, n in list(several.items())[:MAX_NAMED])
        more = f" and {len(several) - MAX_NAMED} more" if len(several) > MAX_NAMED else ""
        found.append(
            f"{len(several)} studies contribute several contrasts: {shown}{more}; contrasts from one "
            "subject group should be pooled into one experiment (Turkeltaub et al. 2012)."
        )
    if len(outside_mask):
        found.append(
            f"{len(outside_mask)} focus/foci lie inside the template's field of view but outside its "
            f"brain mask (in {name_list(dict.fromkeys(outside_mask['analysis_id']))}); they are kept "
            "and listed in coordinates.json."
        )
    if outside_fov is not None and len(outside_fov):
        found.append(
            f"{len(outside_fov)} focus/foci lie outside the template's field of view (in "
            f"{name_list(dict.fromkeys(outside_fov['analysis_id']))}); input.outside_field_of_view "
            "is 'keep', so they are kept as NiMARE keeps them and listed in coordinates.json."
        )
    for label, count in unconverted.items():
        found.append(
            f"{count} focus/foci have space {label!r}, which NiMARE cannot convert; they are used "
            "as MNI coordinates without conversion."
        )
    return found
