"""The one registry of every file a run writes: its name, how it is made from the result, its
sidecar, and the step that writes it.

A run's registry (:func:`registry_for`) is built from its project alone: the run's own files
(:mod:`ale_app.outputs.run_outputs`), then each group's (:mod:`ale_app.outputs.group_outputs`),
then each contrast's (:mod:`ale_app.outputs.contrast_outputs`), then the report. Every entry
names the part of the :class:`~ale_app.result.ProjectResult` it is built from
(:class:`~ale_app.outputs.entries.GroupPart`, :class:`~ale_app.outputs.entries.ContrastPart`).
Adding an output is one new :class:`~ale_app.outputs.entries.Output` entry in the module of
its analysis (and the step that fills the result); the writer (:mod:`ale_app.outputs.writing`),
:func:`known_output_names`, the report's figures, provenance and ``--verify`` all read the
registry. The folder itself (:mod:`ale_app.outputs.folder`) only knows paths and bytes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from ale_app.outputs import folder as D
from ale_app.outputs.entries import ContrastPart, Output
from ale_app.outputs.group_outputs import GROUP_OUTPUTS, coordinates_table, group_outputs
from ale_app.outputs.names import (BIDSIGNORE, CITATION, CLUSTER_MAP, CLUSTER_TABLE, COORDINATES, DATASET_DESCRIPTION,
                                   FAILSAFE_TABLE, FAILSAFE_TESTS, FIGURE_FORMATS, FIG_CLUSTERS, FIG_COORDINATES,
                                   FIG_DEPENDENCE, FIG_FWE, FIG_FWE_CLUSTERS, FIG_FWE_DEPENDENCE, FIG_FWE_PEAKS,
                                   FIG_JACKKNIFE, FIG_OVERLAY, FIG_PEAK, FIG_Z, FWE_CLUSTER_MAP, FWE_CLUSTER_TABLE,
                                   FWE_FOCUS_COUNTS, FWE_JACKKNIFE_TABLE, JACKKNIFE_TABLE, LOGP_CLUSTER_FWE,
                                   LOGP_VOXEL_FWE, MCNULL_TABLE, PROVENANCE, REPORT, RERUN_SCRIPT, SLEUTH, SPEC_JSON,
                                   STABILITY_MAP, STABILITY_NULL, STABILITY_TABLE, STATMAP, STAT_P, STAT_Z)
from ale_app.outputs.run_outputs import (RECORDED_INPUT_KEYS, bidsignore_text, groups_figure, run_end, run_part,
                                         run_start)

__all__ = [
    "BIDSIGNORE", "CITATION", "CLUSTER_MAP", "CLUSTER_TABLE", "COORDINATES", "DATASET_DESCRIPTION", "FAILSAFE_TABLE",
    "FAILSAFE_TESTS", "FIGURE_FORMATS", "FIG_CLUSTERS", "FIG_COORDINATES", "FIG_DEPENDENCE", "FIG_FWE",
    "FIG_FWE_CLUSTERS", "FIG_FWE_DEPENDENCE", "FIG_FWE_PEAKS", "FIG_JACKKNIFE", "FIG_OVERLAY", "FIG_PEAK", "FIG_Z",
    "FWE_CLUSTER_MAP", "FWE_CLUSTER_TABLE", "FWE_FOCUS_COUNTS", "FWE_JACKKNIFE_TABLE", "JACKKNIFE_TABLE",
    "LOGP_CLUSTER_FWE", "LOGP_VOXEL_FWE", "MCNULL_TABLE", "PROVENANCE", "RECORDED_INPUT_KEYS", "REGISTRY", "REPORT",
    "RERUN_SCRIPT", "RUN_FILES", "SLEUTH", "SPEC_JSON", "STABILITY_MAP", "STABILITY_NULL", "STABILITY_TABLE",
    "STATMAP", "STAT_P", "STAT_Z", "bidsignore_text", "coordinates_table", "figure_entries", "known_output_names",
    "owned_names", "registry_for", "started_now",
]

#: The files a run writes once whatever it holds (a run of several groups writes none of them per group).
RUN_FILES = {DATASET_DESCRIPTION, BIDSIGNORE, REPORT, CITATION, SPEC_JSON, RERUN_SCRIPT}

#: The registry of one group's run, every entry built from the group's
#: :class:`~ale_app.result.AnalysisResult` itself (the files of a version-1 spec).
REGISTRY: tuple[Output, ...] = run_start("single") + GROUP_OUTPUTS + run_end("single", GROUP_OUTPUTS)


def registry_for(project=None) -> tuple[Output, ...]:
    """Every file a run of ``project`` (:class:`~ale_app.spec.project.Project`) can write, each
    entry built from its part of the run's :class:`~ale_app.result.ProjectResult`, in the order
    the run writes them: the run's first files, each group's (under their own names for a run
    of one group, under ``group-<name>_`` otherwise), the figure of every group's foci, each
    contrast's (under ``contrast-<label>_``), the run's last files. Without a project,
    :data:`REGISTRY`."""
    if project is None:
        return REGISTRY
    shape, part = project.shape, run_part(project)
    body: list[Output] = list(run_start(shape, part))
    for group in project.groups:
        body += group_outputs(group, own_names=shape == "single")
    if shape != "single":
        body.append(groups_figure(shape, part))
    if project.contrasts:
        from ale_app.outputs.contrast_outputs import contrast_outputs  # numpy: imported when a run needs it

        for plan in project.contrasts:
            for entry in contrast_outputs(project.contrast_spec(plan)):
                section = entry.section if shape == "pair" or entry.section is None else f"{entry.section}-{plan.label}"
                body.append(replace(entry, part=ContrastPart(plan.label), section=section))
    figures = tuple(e for e in body if e.kind == "figure")
    return tuple(body) + run_end(shape, figures, part, record_as_written=not project.named_by_its_part,
                                  project=project)


def figure_entries(section: str | None = None, registry: tuple[Output, ...] = REGISTRY) -> list[Output]:
    """The figure entries, in registry order, optionally of one report section."""
    return [e for e in registry if e.kind == "figure" and (section is None or e.section == section)]


def known_output_names(project=None) -> set[str]:
    """Every file name an ale-app run can write (relative to OUTPUT_DIR, ``/``-separated);
    with a ``project``, the names of its groups and contrasts too."""
    names = {n for entry in REGISTRY for n in entry.file_names()}
    if project is not None:
        names |= {n for entry in registry_for(project) for n in entry.file_names()}
    return names | {PROVENANCE}


def owned_names(project=None) -> D.OwnedNames:
    """What the output folder needs to know of ale-app's names to tell its files from others'."""
    return D.OwnedNames(known=frozenset(known_output_names(project)), marker=DATASET_DESCRIPTION,
                        completion=PROVENANCE)


def started_now() -> datetime:
    """The current time (UTC), for :class:`~ale_app.result.RunRecord`."""
    return datetime.now(timezone.utc)
