"""The one object a run computes: everything the writers, the report and provenance need.

:func:`ale_app.run.pipeline.compute` fills a :class:`ProjectResult` step by step: each group's
own analysis (an :class:`AnalysisResult`), then each contrast (a :class:`ContrastResult`, which
reads the two groups' parts); the registry of the project
(:func:`ale_app.outputs.registry.registry_for`) reads it and nothing else. When a step fails,
the fields of the steps finished before it are set and the later ones are None, so a report
can still say what was finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ale_app.spec.models import AnalysisSpec

if TYPE_CHECKING:  # the steps import these when they run, not at start-up
    import pandas as pd

    from ale_app.inputs.evidence import Evidence
    import numpy as np

    from ale_app.spec.project import Project
    from ale_app.spec.v2 import AnalysisSpecV2
    from ale_app.stats.ale import ALEFit, Clusters, Peak
    from ale_app.stats.balanced import BalancedResult
    from ale_app.stats.contrast import ContrastClusters
    from ale_app.stats.failsafe import FailsafeResult
    from ale_app.stats.montecarlo import InferenceResult
    from ale_app.stats.stability import StabilityResult
    from ale_app.stats.subtraction import SubtractionResult


@dataclass
class RunRecord:
    """How and from what the run was made (for provenance and ``spec.json``).

    Attributes
    ----------
    spec_dir : Path
        The folder relative inputs were resolved against.
    spec_text : str
        The spec as read (its digest goes into provenance).
    argv : list of str
        The command line, program name first.
    n_jobs, backend : int, str
        How the parallel steps were executed (never changes a number).
    started : datetime
        When the run started (UTC).
    versions : dict
        The versions of ale-app, Python and the libraries that made the numbers (the report
        and provenance state them).
    """

    spec_dir: Path
    spec_text: str
    argv: list[str]
    n_jobs: int
    backend: str
    started: Any
    versions: dict[str, str] = field(default_factory=dict)


@dataclass
class AnalysisResult:
    """What a run computed.

    Attributes
    ----------
    spec : AnalysisSpec
        The validated spec.
    evidence : ale_app.inputs.evidence.Evidence
        The analyses that entered the meta-analysis.
    record : RunRecord
        The command, the spec's text and folder, the execution options.
    fit : ale_app.stats.ale.ALEFit or None
        The ALE fit (its MA maps are released once the jackknife has run).
    threshold : float or None
        The display-only threshold.
    peak : ale_app.stats.ale.Peak or None
        The largest ALE value and where it is.
    peak_label : str or None
        The peak's anatomical label, in words.
    clusters : ale_app.stats.ale.Clusters or None
        The descriptive clusters of the display-thresholded map.
    jackknife : pandas.DataFrame or None
        One row per left-out analysis; None when the jackknife was off or had no cluster.
    inference : ale_app.stats.montecarlo.InferenceResult or None
        The Monte Carlo FWE inference (inferential mode only).
    fwe_clusters : ale_app.stats.ale.Clusters or None
        The clusters that passed cluster-level FWE, with peaks, sub-peaks and FWE p.
    fwe_jackknife : pandas.DataFrame or None
        The leave-one-out jackknife over the FWE clusters (None when none passed).
    fwe_focus_counts : pandas.DataFrame or None
        How many foci of each experiment lie in each FWE cluster.
    stability : ale_app.stats.stability.StabilityResult or None
        Subsampling stability (``robustness.stability``; inferential mode only).
    failsafe : ale_app.stats.failsafe.FailsafeResult or None
        Fail-safe N per FWE cluster (``robustness.failsafe``; inferential mode only).
    timings : dict
        Seconds per step.
    step_status : dict
        Each declared step's status (:mod:`ale_app.run.steps`): ``"ran"``, ``"running"`` (it
        failed), or ``"skipped: <reason>"``; a step not listed was not reached.
    failed_step : str or None
        The step that failed, when the report describes an unfinished run.
    """

    spec: AnalysisSpec
    evidence: Evidence
    record: RunRecord
    fit: ALEFit | None = None
    threshold: float | None = None
    peak: Peak | None = None
    peak_label: str | None = None
    clusters: Clusters | None = None
    jackknife: pd.DataFrame | None = None
    inference: InferenceResult | None = None
    fwe_clusters: Clusters | None = None
    fwe_jackknife: pd.DataFrame | None = None
    fwe_focus_counts: pd.DataFrame | None = None
    stability: StabilityResult | None = None
    failsafe: FailsafeResult | None = None
    timings: dict[str, float] = field(default_factory=dict)
    step_status: dict[str, str] = field(default_factory=dict)
    failed_step: str | None = None

    @property
    def n_clusters(self) -> int:
        """How many descriptive clusters the cluster map and tables hold (0 before that step)."""
        return 0 if self.clusters is None else len(self.clusters.labels)

    @property
    def jackknife_status(self) -> str:
        """``"ran"``, ``"disabled"`` (jackknife.enabled is false), ``"no clusters"`` (nothing
        to attribute) or ``"not reached"`` (an earlier step failed), as the jackknife step
        recorded it."""
        if not self.spec.jackknife.enabled:
            return "disabled"
        status = self.step_status.get("jackknife", "not reached")
        if status.startswith("skipped: "):
            return status.removeprefix("skipped: ")
        return "ran" if status == "ran" else "not reached"

    @property
    def inferential(self) -> bool:
        """Whether the spec declared the inferential mode (before the run)."""
        return self.spec.mode == "inferential"

    @property
    def random_seed(self) -> int | None:
        """The one seed of every random draw of the run; None when nothing is random
        (descriptive mode draws nothing)."""
        return self.spec.inference.seed if self.inferential else None

    @property
    def n_fwe_clusters(self) -> int:
        """How many clusters passed cluster-level FWE (0 before that step)."""
        return 0 if self.fwe_clusters is None else len(self.fwe_clusters.labels)


@dataclass
class ContrastResult:
    """What a version-2 run (two groups and their contrast) computed.

    Attributes
    ----------
    spec : ale_app.spec.v2.AnalysisSpecV2
        The validated spec.
    groups : dict of str to AnalysisResult
        Each group's own analysis (its spec is the group's version-1 spec), first group first.
    record : RunRecord
        The command, the spec's text and folder, the execution options.
    diff_values : numpy.ndarray or None
        First group's ALE minus the second's, in-mask.
    diff_threshold : float or None
        Descriptive mode: the display-only threshold of ``|difference|``.
    subtraction : ale_app.stats.subtraction.SubtractionResult or None
        Inferential mode: the permutation test of the difference (NiMARE's ALESubtraction +
        FWECorrector procedure), with the GingerALE-style directional reading.
    balanced : ale_app.stats.balanced.BalancedResult or None
        Inferential mode with ``contrast.method: balanced``: the balanced contrast (NiMARE's
        BalancedALESubtraction procedure); ``subtraction`` is then None.
    contrast_clusters : ale_app.stats.contrast.ContrastClusters or None
        The difference's clusters per direction (descriptive: above the display threshold;
        inferential: passed cluster-level FWE).
    contrast_jackknife : pandas.DataFrame or None
        Leave-one-out contributions: first-group experiments to positive clusters, second-group
        experiments to negative ones (``group`` column).
    contrast_focus_counts : pandas.DataFrame or None
        Foci of each experiment in each contrast cluster of its group's direction.
    conjunction_values : numpy.ndarray or None
        ``min(ALE1, ALE2)`` where both groups pass (inferential: their FWE clusters;
        descriptive: above their display thresholds), 0 elsewhere.
    conjunction_clusters : ale_app.stats.ale.Clusters or None
        Connected regions of the conjunction.
    timings, step_status, failed_step
        As :class:`AnalysisResult`.
    """

    spec: AnalysisSpecV2
    groups: dict[str, AnalysisResult]
    record: RunRecord
    diff_values: np.ndarray | None = None
    diff_threshold: float | None = None
    subtraction: SubtractionResult | None = None
    balanced: BalancedResult | None = None
    contrast_clusters: ContrastClusters | None = None
    contrast_jackknife: pd.DataFrame | None = None
    contrast_focus_counts: pd.DataFrame | None = None
    conjunction_values: np.ndarray | None = None
    conjunction_clusters: Clusters | None = None
    timings: dict[str, float] = field(default_factory=dict)
    step_status: dict[str, str] = field(default_factory=dict)
    failed_step: str | None = None

    @property
    def inferential(self) -> bool:
        """Whether the spec declared the inferential mode (before the run)."""
        return self.spec.mode == "inferential"

    @property
    def names(self) -> tuple[str, str]:
        """The first and the second group."""
        return self.spec.first, self.spec.second

    @property
    def first(self) -> AnalysisResult:
        return self.groups[self.spec.first]

    @property
    def second(self) -> AnalysisResult:
        return self.groups[self.spec.second]

    @property
    def random_seed(self) -> int | None:
        """The seed of every random draw; None in descriptive mode (nothing is random)."""
        return self.spec.inference.seed if self.inferential else None

    @property
    def masker(self):
        return self.first.fit.masker


@dataclass
class ProjectResult:
    """What a run of a project (:class:`~ale_app.spec.project.Project`) computed: each group's
    own analysis and each contrast, whatever the spec's version.

    Attributes
    ----------
    project : ale_app.spec.project.Project
        The analyses the run computes.
    record : RunRecord
        The command, the spec's text and folder, the execution options.
    groups : dict of str to AnalysisResult
        Each group's own analysis (its ``spec`` is the group's version-1 spec), in run order.
    contrasts : dict of str to ContrastResult
        Each contrast by its label; a contrast's ``groups`` are the same objects as here (a
        group is computed once, whichever contrasts read it).
    timings : dict
        Seconds of the run's own steps (reading the inputs, writing, figures, the report).
    step_status : dict
        The status of the run's own steps (see :attr:`AnalysisResult.step_status`).
    """

    project: Project
    record: RunRecord
    groups: dict[str, AnalysisResult]
    contrasts: dict[str, ContrastResult] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    step_status: dict[str, str] = field(default_factory=dict)
    _failed_step: str | None = None

    @property
    def spec(self):
        """The spec as written (the figures' formats and resolution are read from it)."""
        return self.project.source

    @property
    def shape(self) -> str:
        return self.project.shape

    @property
    def names(self) -> tuple[str, ...]:
        """The groups, in run order."""
        return tuple(self.groups)

    @property
    def inferential(self) -> bool:
        return self.project.inferential

    @property
    def random_seed(self) -> int | None:
        """The seed of every random draw; None in descriptive mode (nothing is random)."""
        return self.spec.inference.seed if self.inferential else None

    @property
    def page(self) -> AnalysisResult | ContrastResult | ProjectResult:
        """What the run's own files (the report, ``CITATION.md``, ``spec.json``) describe:
        the one group's analysis (shape ``single``), the one contrast (shape ``pair``), or
        the whole project."""
        if self.shape == "single":
            return next(iter(self.groups.values()))
        if self.shape == "pair":
            return next(iter(self.contrasts.values()))
        return self

    @property
    def failed_step(self) -> str | None:
        """The step that failed, when the report describes an unfinished run."""
        return self._failed_step

    @failed_step.setter
    def failed_step(self, title: str | None) -> None:
        self._failed_step = title
        page = self.page
        if page is not self:
            page.failed_step = title
