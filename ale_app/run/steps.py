"""The declared steps of a run, in the order a run takes them: one table for every analysis.

Each :class:`~ale_app.run.step.Step` says what it works on (its scope: each group's own
analysis, a contrast, or the run), what it needs from the result (fields earlier steps
computed), what it computes, when it does not run and why, and which report section it
feeds; the registry entries it feeds are those whose ``needs`` it computes
(:meth:`~ale_app.run.step.Step.outputs`). A run takes every group's ``group`` steps, then
every contrast's ``contrast`` steps, then the ``run`` steps (:func:`steps_of`), records each
one's status in the result's ``step_status`` and hands the result to the registry. Adding an
analysis is a step here, its body (:mod:`ale_app.run.main_effect`,
:mod:`ale_app.run.comparison`), its stats module, its result field and its registry entries.

Steps compute; none reads or writes a file.
"""

from __future__ import annotations

import logging

from ale_app.run import comparison as CMP
from ale_app.run import main_effect as ME
from ale_app.run.step import Scope, Step, StepContext, plural

LGR = logging.getLogger("ale_app")

__all__ = ["STEPS", "Step", "StepContext", "made_by", "step_named", "step_title", "steps_of"]


def _release_ma_maps(result, _ctx: StepContext) -> None:
    """Drop every group's MA maps: the largest arrays of a run, needed by no file or figure."""
    for group in getattr(result, "groups", {None: result}).values():
        group.fit.ma = None


#: Every compute step, in order: a group's own analysis, a contrast's, then the run's. The
#: registry's "data", "figures" and "report" steps then write what they computed.
STEPS: tuple[Step, ...] = (
    Step("ale", "ALE fit", needs=("evidence",), computes=("fit", "threshold", "peak"), run=ME.fit_ale,
         describe=lambda r, _c: f"Fitting ALE on {len(r.evidence.ids)} experiments", report_section="ale"),
    Step("clusters", "cluster", needs=("fit", "threshold"), computes=("clusters",), run=ME.find_clusters,
         describe=lambda _r, _c: "Finding descriptive clusters", report_section="ale"),
    Step("labels", "anatomical labelling", needs=("peak", "clusters"), computes=("peak_label",), run=ME.label,
         describe=lambda r, _c: f"Labelling the peak and clusters ({ME.atlas_title(r)})", report_section="ale"),
    Step("jackknife", "jackknife", needs=("fit", "clusters"), computes=("jackknife",), run=ME.jackknife,
         skip=ME.skip_jackknife, describe=ME.describe_jackknife, report_section="jackknife"),
    Step("inference", "Monte Carlo inference", needs=("fit",), computes=("inference",), run=ME.montecarlo,
         skip=ME.not_inferential, report_section="inference",
         describe=lambda r, c: (f"Monte Carlo FWE: {r.spec.inference.n_iterations} iterations, seed "
                                f"{r.spec.inference.seed}, on {c.executor.for_gil_free_code().describe()}")),
    Step("fwe-clusters", "FWE cluster", needs=("fit", "inference"),
         computes=("fwe_clusters", "fwe_focus_counts", "fwe_jackknife"), run=ME.fwe_clusters, skip=ME.not_inferential,
         describe=lambda _r, _c: "Describing the clusters that passed cluster-level FWE", report_section="inference"),
    Step("stability", "subsampling stability", needs=("fit", "inference", "fwe_clusters"), computes=("stability",),
         run=ME.stability, skip=ME.skip_robustness("stability"), describe=ME.describe_stability,
         report_section="inference"),
    Step("failsafe", "fail-safe N", needs=("fit", "fwe_clusters"), computes=("failsafe",), run=ME.failsafe,
         skip=ME.skip_robustness("failsafe"), describe=ME.describe_failsafe, report_section="inference"),
    Step("difference", "difference", needs=("groups",), computes=("diff_values", "diff_threshold", "contrast_clusters"),
         run=CMP.difference, scope="contrast", spec_skip=CMP.only_mode("descriptive"), report_section="contrast",
         describe=lambda r, _c: f"Comparing {r.names[0]} with {r.names[1]} (descriptive difference)"),
    Step("subtraction", "ALE subtraction", needs=("groups",),
         computes=("subtraction", "diff_values", "contrast_clusters"), run=CMP.subtraction,
         scope="contrast", spec_skip=CMP.only_method("subtraction"), report_section="contrast",
         describe=lambda r, c: (f"ALE subtraction {r.names[0]} - {r.names[1]}: {r.spec.inference.n_iterations} "
                                f"permutations, seed {r.spec.inference.seed}, on "
                                f"{c.executor.for_gil_free_code().describe()}")),
    Step("balanced", "balanced contrast", needs=("groups",),
         computes=("balanced", "diff_values", "contrast_clusters"), run=CMP.balanced, scope="contrast",
         spec_skip=CMP.only_method("balanced"), report_section="contrast", describe=CMP.describe_balanced),
    Step("contrast-jackknife", "contrast jackknife", needs=("contrast_clusters",),
         computes=("contrast_jackknife", "contrast_focus_counts"), run=CMP.contrast_jackknife,
         skip=CMP.skip_contrast_jackknife, scope="contrast", report_section="contrast",
         describe=lambda r, _c: f"Jackknife of {plural(len(r.contrast_clusters.labels), 'contrast cluster')}"),
    Step("conjunction", "conjunction", needs=("groups",), computes=("conjunction_values", "conjunction_clusters"),
         run=CMP.conjunction, skip=lambda r: None if r.spec.contrast.conjunction else "not asked for", scope="contrast",
         report_section="conjunction", describe=lambda _r, _c: "Conjunction (minimum statistic)"),
    # The MA maps are not needed to draw or write anything; a contrast reads its groups' maps.
    Step("release", "memory release", needs=(), computes=(), run=_release_ma_maps, scope="run"),
)


def steps_of(*scopes: Scope) -> tuple[Step, ...]:
    """The steps of the given scopes, in table order."""
    return tuple(s for s in STEPS if s.scope in scopes)


#: The registry's writing steps (and the input reading) in words, for the files no compute
#: step feeds and a failure report; keyed by the registry's and the timer's step names.
WRITING_TITLES = {"start": "start", "data": "input", "inputs": "input", "write": "writing", "figures": "figure",
                  "report": "report"}


def step_title(name: str) -> str:
    """A step's name in words ("the jackknife step failed"); a name no step has is kept."""
    if name in WRITING_TITLES:
        return WRITING_TITLES[name]
    return next((s.title for s in STEPS if s.name == name), name)


def made_by(file_name: str, project=None) -> str:
    """The step whose results the written file ``file_name`` shows, in words (``--verify``
    names it beside a file that differs): the last declared step that computes what the
    file's registry entry needs, else the registry step that writes it; ``"jackknife step"``.

    With a ``project`` (:class:`~ale_app.spec.project.Project`) of several groups, a group's
    file is named by its group step and the group (``"jackknife step of group a"``), a
    contrast file by the contrast steps the spec lets run (and, in a project of several
    contrasts, the contrast: ``"ALE subtraction step of contrast aMinusB"``).
    """
    from ale_app.outputs.entries import ContrastPart, GroupPart
    from ale_app.outputs.names import PROVENANCE
    from ale_app.outputs.registry import registry_for

    shape = "single" if project is None else project.shape
    for entry in registry_for(project):
        if file_name not in entry.file_names():
            continue
        part = entry.part
        if isinstance(part, GroupPart):
            found = _step_of(entry, steps_of("group"), None, None)
            return found if shape == "single" else f"{found} of group {part.name}"
        if isinstance(part, ContrastPart):
            plan = next(p for p in project.contrasts if p.label == part.label)
            found = _step_of(entry, steps_of("contrast"), project.mode, plan.spec)
            return found if shape == "pair" else f"{found} of contrast {part.label}"
        return _step_of(entry, steps_of("group") if project is None else (), None, None)
    return "provenance step" if file_name == PROVENANCE else "unknown step"


def _step_of(entry, steps, mode, contrast) -> str:
    """The step (in words) that computes what ``entry`` needs, else the registry step that writes it."""
    makers = [s for s in steps if set(s.computes) & set(entry.needs)
              and (s.spec_skip is None or s.spec_skip(mode, contrast) is None)]
    return f"{makers[-1].title if makers else WRITING_TITLES[entry.step]} step"


def step_named(name: str) -> Step:
    """The declared step called ``name``."""
    return next(s for s in STEPS if s.name == name)
