"""The run's own files, written once whatever it holds: ``dataset_description.json``,
``.bidsignore``, ``coordinates.tsv``, the figure of every group's foci, the NiMARE re-run
script, ``report.html``, ``CITATION.md`` and ``spec.json``.

Their content follows the project's shape: a run of one group writes version 1's files
(built from the group's result), a run of one contrast version 2's (built from the
contrast's), a project its own (built from the whole result). :mod:`ale_app.outputs.registry`
places them around the groups' and contrasts' files.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ale_app.outputs import folder as D
from ale_app.outputs import sidecars as SC
from ale_app.outputs.entries import ContrastPart, GroupPart, Output, Sidecar
from ale_app.outputs.group_figures import figure_title
from ale_app.outputs.group_outputs import coordinates_table
from ale_app.outputs.names import (BIDSIGNORE, CITATION, COORDINATES, DATASET_DESCRIPTION, FIG_GROUPS, FIGURE_FORMATS,
                                   PROVENANCE, REPORT, RERUN_SCRIPT, SPEC_JSON, group_prefix,
                                   prefixed)
from ale_app.outputs.sidecars import coordinates_sidecar
from ale_app.result import AnalysisResult

#: Keys a run adds to ``spec.json``'s ``input`` section beside the spec's own fields
#: (:func:`group_spec_record` writes them; ``--verify`` strips them to rebuild the spec).
RECORDED_INPUT_KEYS = ("sha256", "format_used", "space_conversions")


def figure_files(root: Path, section: str, figures) -> list[tuple[str, Path]]:
    """(caption, file) of each figure entry of ``figures`` in report section ``section`` that is
    in ``root`` (PNG preferred)."""
    found = []
    for entry in figures:
        if entry.kind != "figure" or entry.section != section:
            continue
        for fmt in FIGURE_FORMATS:
            path = root / f"{entry.name}.{fmt}"
            if path.is_file():
                assert entry.caption is not None  # every figure entry has its caption
                found.append((entry.caption, path))
                break
    return found


def figures_by_section(figures, out: D.OutputFolder) -> dict:
    """(caption, file) of every figure of ``figures`` in the folder, by its report section."""
    sections = sorted({e.section for e in figures if e.kind == "figure" and e.section})
    return {s: figure_files(out.root, s, figures) for s in sections}


# --------------------------------------------------------------------------- one group


def _group_coordinates(result: AnalysisResult, _out: D.OutputFolder | None = None):
    return coordinates_table(result.evidence)


def _group_dataset_description(result: AnalysisResult, _out: D.OutputFolder | None = None) -> dict:
    """``dataset_description.json``: the BIDS derivative's description (GeneratedBy ale-app; each input file
    in SourceDatasets with its SHA-256)."""
    from ale_app.outputs import provenance as P

    return P.dataset_description(result.spec.title, result.evidence.input_files)


def bidsignore_text(_result: AnalysisResult | None = None, _out: D.OutputFolder | None = None) -> str:
    """``.bidsignore``: the files whose entities or suffixes BIDS has no name for yet."""
    return "\n".join([
        "# Written by ale-app: derivatives whose entities or suffixes BIDS does not define yet.",
        "coordinates.*", "desc-*_coordinates.*", "desc-*_table.*", "figures/", REPORT, CITATION, SPEC_JSON, PROVENANCE, D.LOCK, "",
    ])


def group_spec_record(result: AnalysisResult, _out: D.OutputFolder | None = None) -> dict:
    """``spec.json``: the validated spec as run, defaults filled in, and (under ``input``) the
    keys of :data:`RECORDED_INPUT_KEYS`."""
    record = result.spec.record()
    ev = result.evidence
    recorded = dict(zip(RECORDED_INPUT_KEYS, (ev.source["sha256"], ev.source["format"], ev.conversions)))
    record["input"].update(recorded)
    return record


def _rerun_script(result: AnalysisResult, _out: D.OutputFolder | None = None) -> str:
    """``code/nimare_rerun.py``: a self-contained script that re-runs the analysis with NiMARE alone and
    compares its maps with this run's."""
    from ale_app.outputs.rerun import nimare_script

    return nimare_script(result)


# --------------------------------------------------------------------------- several groups


def _groups_coordinates(result, _out=None):
    import pandas as pd

    frames = []
    for name, group in result.groups.items():
        table = coordinates_table(group.evidence)
        table.insert(0, "group", name)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def _groups_coordinates_sidecar(result) -> Sidecar:
    return Sidecar(
        "Every focus that entered the analysis, in the target space (mm), with its group.",
        [f["path"] for g in result.groups.values() for f in g.evidence.input_files],
        {"Groups": {name: {"InputFormat": g.evidence.source["format"], "Selection": SC.selection(g),
                           "SpaceConversions": g.evidence.conversions, "InputWarnings": g.evidence.warnings}
                    for name, g in result.groups.items()}},
        {"Columns": {"group": "The group (spec 'groups')", **SC.COORDINATE_COLUMNS}},
    )


def _fig_groups(result, _out=None):
    from ale_app.present import figures as F

    return F.plot_group_coordinates(_groups_coordinates(result), list(result.names),
                                    figure_title(result, "All reported coordinates, by group"))


def spec_record(result, _out=None) -> dict:
    """``spec.json`` of a run of several groups (or of a version-3 spec): the spec as written,
    and each group's input as read (SHA-256, format, space conversions)."""
    record = result.spec.record()
    record["recorded_inputs"] = {
        name: dict(zip(RECORDED_INPUT_KEYS, (g.evidence.source["sha256"], g.evidence.source["format"],
                                               g.evidence.conversions)))
        for name, g in result.groups.items()}
    return record


def _groups_dataset_description(result, _out=None) -> dict:
    """``dataset_description.json`` of a run of several groups: a contrast's (its two groups)
    or a project's (every group)."""
    from ale_app.outputs import provenance as P

    first = next(iter(result.groups.values()))
    desc = P.dataset_description(result.spec.title, first.evidence.input_files)
    desc["SourceDatasets"] = [
        {"URL": f["path"], "Group": name, "SHA-256": f["sha256"]}
        for name, g in result.groups.items() for f in g.evidence.input_files]
    if not result.spec.title:
        desc["Name"] = (f"ale-app {result.spec.mode} project of {len(result.groups)} groups"
                        if hasattr(result, "contrasts") else
                        f"ale-app {result.spec.mode} contrast {result.names[0]} vs {result.names[1]}")
    return desc


def _groups_bidsignore_text(result=None, _out=None) -> str:
    """``.bidsignore`` of a contrast run: the single-group list, and the group and contrast
    labels BIDS has no entity for."""
    return bidsignore_text(result, _out).rstrip("\n") + "\ngroup-*\ncontrast-*\nfigures/group-*\n"


# --------------------------------------------------------------------------- the page


def _page(shape: str, figures):
    """``report.html``: one self-contained page with every table, figure and the
    interpretation, of the run's shape (:mod:`ale_app.present.page`); ``figures``: the run's
    figure entries."""
    def build(result, out: D.OutputFolder) -> str:
        from ale_app.present import page

        found = figures_by_section(figures, out)
        if shape == "single":
            from ale_app.present.report_view import report_inputs

            return page.report_html(report_inputs(result, out.digests), found)
        if shape == "pair":
            return page.contrast_report_html(result, out.digests, found)
        return page.project_report_html(result, out.digests, found)
    return build


def _citation(shape: str):
    """``CITATION.md``: the methods text, the interpretation, the software and the references
    (with BibTeX), of the run's shape."""
    def build(result, out: D.OutputFolder) -> str:
        from ale_app.present import page

        if shape == "single":
            from ale_app.present.report_view import report_inputs

            return page.citation_markdown(report_inputs(result, out.digests))
        return page.contrast_citation(result) if shape == "pair" else page.project_citation(result)
    return build


# --------------------------------------------------------------------------- the run's files


def run_part(project):
    """What the run's own files are built from: the one group's result, the one contrast's,
    or (a project) the whole result."""
    if project.shape == "single":
        return GroupPart(next(iter(project.groups)))
    if project.shape == "pair":
        return ContrastPart(project.contrasts[0].label)
    return None


def run_start(shape: str, part=None) -> tuple[Output, ...]:
    """The run's files written before its groups' (description, ``.bidsignore``, coordinates),
    for a run of ``shape``, built from ``part`` of its result."""
    entries: tuple[Output, ...]
    if shape == "single":
        entries = (Output(DATASET_DESCRIPTION, "json", "start", _group_dataset_description),
                   Output(BIDSIGNORE, "text", "start", bidsignore_text),
                   Output(COORDINATES, "tsv", "data", _group_coordinates, coordinates_sidecar, needs=("evidence",)))
    else:
        entries = (Output(DATASET_DESCRIPTION, "json", "start", _groups_dataset_description, needs=("groups",)),
                   Output(BIDSIGNORE, "text", "start", _groups_bidsignore_text),
                   Output(COORDINATES, "tsv", "data", _groups_coordinates, _groups_coordinates_sidecar,
                          needs=("groups",)))
    return tuple(replace(e, part=part) for e in entries)


def groups_figure(shape: str, part=None) -> Output:
    """The figure of every group's foci, coloured by group (a run of several groups): in the
    contrast's report section for one contrast, in the project's otherwise."""
    return Output(FIG_GROUPS, "figure", "figures", _fig_groups, caption="All reported coordinates, coloured by group",
                  section="contrast" if shape == "pair" else "project", needs=("groups",), part=part)


def project_scripts(project) -> tuple[Output, ...]:
    """A project's NiMARE re-run scripts: one per contrast (its two groups and the contrast,
    ``code/contrast-<label>_nimare_rerun.py``) and one per group no contrast reads
    (``code/group-<name>_nimare_rerun.py``), each version 2's or version 1's script naming the
    project's files."""
    def group_script(name: str):
        def build(result, _out=None) -> str:
            from ale_app.outputs.rerun import nimare_script

            return nimare_script(result, name)
        return build

    compared = {g for plan in project.contrasts for g in plan.groups}
    scripts = [Output(prefixed(RERUN_SCRIPT, f"contrast-{plan.label}_"), "text", "report", _rerun_script,
                      needs=("groups", "diff_values"), part=ContrastPart(plan.label))
               for plan in project.contrasts]
    scripts += [Output(prefixed(RERUN_SCRIPT, group_prefix(name)), "text", "report", group_script(name),
                       needs=("evidence", "fit"), part=GroupPart(name))
                for name in project.groups if name not in compared]
    return tuple(scripts)


def run_end(shape: str, figures, part=None, record_as_written: bool = False,
            project=None) -> tuple[Output, ...]:
    """The run's files written after everything else: the re-run script, the report and
    citation (whose figures are ``figures``, the run's figure entries) and ``spec.json``
    (``record_as_written``: the spec as the user wrote it, for a version-3 spec of one group or
    one pair, which writes version 1's or 2's files); a ``project`` of another shape writes a
    re-run script per contrast and per group no contrast reads."""
    entries: tuple[Output, ...]
    if shape == "single":
        entries = (Output(RERUN_SCRIPT, "text", "report", _rerun_script, needs=("evidence", "fit")),
                   Output(REPORT, "text", "report", _page(shape, figures)),
                   Output(CITATION, "text", "report", _citation(shape)),
                   Output(SPEC_JSON, "json", "report", group_spec_record))
    elif shape == "pair":
        entries = (Output(RERUN_SCRIPT, "text", "report", _rerun_script, needs=("groups", "diff_values")),
                   Output(REPORT, "text", "report", _page(shape, figures)),
                   Output(CITATION, "text", "report", _citation(shape)),
                   Output(SPEC_JSON, "json", "report", spec_record))
    else:
        entries = (*project_scripts(project),
                   Output(REPORT, "text", "report", _page(shape, figures)),
                   Output(CITATION, "text", "report", _citation(shape)),
                   Output(SPEC_JSON, "json", "report", spec_record))
    return tuple(replace(e, part=None, build=spec_record) if record_as_written and e.name == SPEC_JSON
                 else e if e.part is not None else replace(e, part=part) for e in entries)
