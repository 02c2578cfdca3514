"""An :class:`~ale_app.inputs.evidence.Evidence` in words and tables: the ``--validate-only``
summary, the ids read, the experiment key of the tables and figures, and the phrases the
report uses for the subjects, spaces, conversions and input files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ale_app.inputs.readers.base import plural
from ale_app.inputs.studies import RULE_WORDS

if TYPE_CHECKING:
    import pandas as pd

    from ale_app.inputs.evidence import Evidence


def _focus_lines(foci: pd.DataFrame, limit: int = 20) -> list[str]:
    lines = [f"  {r.analysis_id}: ({r.x:g}, {r.y:g}, {r.z:g})" for r in foci.head(limit).itertuples()]
    if len(foci) > limit:
        lines.append(f"  ... and {len(foci) - limit} more (all are listed in coordinates.json)")
    return lines


def _first_author(authors: str) -> str:
    """The first of ``authors`` as the input writes it (``;``-separated lists, or one name),
    followed by "et al." when there are more."""
    names = [a.strip() for a in str(authors).split(";") if a.strip()]
    if not names:
        return ""
    return names[0] + (" et al." if len(names) > 1 else "")


def experiment_key(evidence: Evidence) -> pd.DataFrame:
    """Every experiment under the one id the tables and figures name it by, with what the
    input says of it.

    Columns: ``id`` (``<study id>-<analysis id>``, as in every table and figure),
    ``study_id`` (the start of ``id``; the coordinate figure colours by it), and, only
    where the input holds more than the ids, ``authors`` (first author as written),
    ``study`` (the study's name or title), ``analysis`` (the analysis's name) and
    ``published`` (journal and year); then ``subjects`` and ``foci``. File order.
    """
    import pandas as pd

    info: dict[str, dict[str, str]] = {}
    for study in getattr(evidence.studyset, "studies", []) or []:
        published = " ".join(str(v) for v in (study.publication, study.year) if v not in (None, ""))
        for analysis in study.analyses:
            info[f"{study.id}-{analysis.id}"] = {
                "authors": _first_author(study.authors) if study.authors else "",
                "study": "" if study.name in (None, "", study.id) else str(study.name),
                "analysis": "" if analysis.name in (None, "", analysis.id) else str(analysis.name),
                "published": published,
            }
    foci = evidence.coordinates.groupby("analysis_id", sort=False).size()
    by_study = evidence.coordinates_by_study()
    study_of = dict(zip(by_study["analysis_id"], by_study["study_id"]))
    rows = []
    for aid in evidence.ids:
        row = {"id": aid, "study_id": study_of.get(aid, "")}
        row.update(info.get(aid, {}))
        size = evidence.sample_sizes.get(aid)
        row["subjects"] = "" if size is None else f"{size:g}"
        row["foci"] = int(foci.get(aid, 0))
        rows.append(row)
    key = pd.DataFrame(rows)
    optional = ["authors", "study", "analysis", "published"]
    for column in optional:
        if column not in key.columns:
            key[column] = ""
    key = key.fillna("")
    keep = [c for c in optional if (key[c] != "").any()]
    return key[["id", "study_id", *keep, "subjects", "foci"]]


def subjects_text(evidence: Evidence) -> str | None:
    """The sum of the sample sizes, and how many experiments have none; None when none has one."""
    sizes = [n for n in evidence.sample_sizes.values() if n is not None]
    if not sizes:
        return None
    unknown = len(evidence.sample_sizes) - len(sizes)
    return f"{sum(sizes):g}" + (f" ({plural(unknown, 'experiment')} without a sample size)" if unknown else "")


def spaces_text(evidence: Evidence) -> str:
    """Foci per space as recorded in the input."""
    return ", ".join(f"{k} {plural(v, 'focus', 'foci')}" for k, v in evidence.spaces.items()) or "n/a"


def conversion_text(conversion: dict) -> str:
    """One recorded space conversion in words."""
    c = conversion
    of = f" of {c['File']}" if "File" in c else ""
    return (f"{plural(c['Foci'], 'focus', 'foci')} in {plural(len(c['Analyses']), 'experiment')}{of} {c['From']} -> "
            f"{c['To']} with {c['Transform']} ({c['Method']})")


def input_text(evidence: Evidence) -> str:
    """The input file(s) and format(s) in words: ``faces.txt (sleuth)``."""
    return ", ".join(f"{f['path']} ({f['format']})" for f in evidence.input_files)


#: ``--validate-only`` lists every id read up to this many; beyond, the first IDS_SHOWN.
MAX_IDS_LISTED = 60
IDS_SHOWN = 30


def summary_lines(evidence: Evidence, field: str = "input") -> list[str]:
    """The ``--validate-only`` summary: notes on the reading, experiments, foci, subjects,
    spaces, conversions, foci outside the mask, warnings (the report's evidence section says
    the same), then the ids read, in file order, marking those the selection leaves out (all
    of them up to :data:`MAX_IDS_LISTED`, else the first :data:`IDS_SHOWN` and a count)."""
    lines = [
        *(f"input: {f['path']} (format {f['format']}, sha256 {f['sha256']})" for f in evidence.input_files),
        *(f"note: {n}" for n in evidence.notes),
        f"experiments: {len(evidence.ids)}; studies: {len(evidence.study_ids)}; "
        f"foci: {len(evidence.coordinates)}",
        f"studies by: {evidence.study_rule} ({RULE_WORDS[evidence.study_rule]})",
        f"subjects: {subjects_text(evidence) or 'unknown (no sample sizes)'}",
        f"spaces: {spaces_text(evidence)}",
    ]
    if evidence.conversions:
        lines += [f"conversion: {conversion_text(c)}" for c in evidence.conversions]
    else:
        lines.append("conversions: none")
    if len(evidence.outside_fov):
        lines.append(f"foci outside the field of view (kept): {len(evidence.outside_fov)}")
        lines += _focus_lines(evidence.outside_fov)
    lines.append(f"foci outside the brain mask (kept): {len(evidence.outside_mask)}")
    lines += _focus_lines(evidence.outside_mask)
    lines.append(f"warnings: {len(evidence.warnings)}")
    lines += [f"  - {w}" for w in evidence.warnings]
    return lines + id_lines(evidence, field)


def id_lines(evidence: Evidence, field: str = "input") -> list[str]:
    """The ids read, in file order; ``x`` marks those ``select`` leaves out."""
    read = evidence.read_ids or evidence.ids
    kept = set(evidence.ids)
    left_out = len(read) - len(evidence.ids)
    how = "all selected" if not left_out else (
        f"{len(evidence.ids)} selected; x marks the {left_out} {field}.select leaves out")
    lines = [f"ids read: {len(read)} in file order ({how}):"]
    shown = read if len(read) <= MAX_IDS_LISTED else read[:IDS_SHOWN]
    lines += [f"  {'x' if left_out and i not in kept else ' '} {i}" if left_out else f"  {i}" for i in shown]
    if len(shown) < len(read):
        rest = read[len(shown):]
        out = sum(1 for i in rest if i not in kept)
        lines.append(f"  ... and {len(rest)} more" + (f" ({out} of them left out)" if left_out else "")
                     + f"; the last is {rest[-1]}")
    return lines
