"""The analysis spec, version 3: a project, the whole set of analyses of a paper in one run.

A version-3 spec names one or more groups, each as in version 2 (its own file, or a selection
from the shared ``input``; ``{}`` is the whole shared input), and zero or more contrasts
between two of them, each as version 2's ``contrast``. Every group gets its own analysis (its
main effect, descriptive or inferential as ``mode`` says, and its robustness); every contrast
runs. Every other section means what it means in versions 1 and 2 and applies to every group
and contrast.

Versions 1 and 2 keep working unchanged; :func:`ale_app.spec.project.to_project` reads every
version as a project. A contrast of a project runs as the version-2 spec :func:`pair_spec`
gives: its two groups, its contrast and the shared sections, so its files equal a version-2
run of the pair.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from ale_app.spec.fields import StrictModel
from ale_app.spec.jale_record import JaleOriginSpec
from ale_app.spec.models import (
    MAX_TITLE_LENGTH,
    ALESpec,
    DisplaySpec,
    FiguresSpec,
    InferenceSpec,
    InputSpec,
    JackknifeSpec,
    LabelsSpec,
    ReportSpec,
    RobustnessSpec,
    check_inference_can_pass,
    check_robustness_can_run,
)
from ale_app.spec.v2 import (
    SHARED_SECTIONS,
    AnalysisSpecV2,
    ContrastSpec,
    GroupSpec,
    contrast_label,
    contrast_problems,
    group_problems,
    raise_problems,
    record_of,
)

__all__ = ["AnalysisSpecV3", "ProjectContrastSpec", "ProjectGroupSpec", "pair_spec"]

#: A contrast's name becomes a BIDS label (``contrast-<name>_...``).
CONTRAST_NAME = re.compile(r"^[A-Za-z0-9]+$")
MAX_CONTRAST_NAME = 64


class ProjectContrastSpec(ContrastSpec):
    """One contrast of a project: version 2's ``contrast``, with an optional name.

    Attributes
    ----------
    name : str or None, default=None
        The contrast's label in file names (``contrast-<name>_...``); without it,
        ``<first>Minus<Second>``. Needed when two contrasts compare the same two groups.
    """

    name: str | None = Field(default=None, min_length=1, max_length=MAX_CONTRAST_NAME, description=(
        "The contrast's label in file names (letters and digits; contrast-<name>_...); without it, "
        "<first>Minus<Second>. Needed when two contrasts compare the same two groups in the same order."))

    @property
    def label(self) -> str:
        """The contrast as a BIDS label."""
        return self.name or contrast_label(*self.groups)


class ProjectGroupSpec(GroupSpec):
    """One group of a project: version 2's group, with its own robustness if it asks for it.

    Attributes
    ----------
    robustness : RobustnessSpec or None, default=None
        This group's robustness in place of the spec's ``robustness`` (a JALE ``P<N>`` row:
        subsampling stability with subsets of N for this group only); inferential mode only.
    """

    robustness: RobustnessSpec | None = Field(default=None, description=(
        "This group's own robustness (stability, fail-safe N) in place of the spec's 'robustness', e.g. a JALE "
        "P<N> row's subsampling stability; inferential mode only. Left out of spec.json when absent."))


class AnalysisSpecV3(StrictModel):
    """An ale-app analysis spec, version 3: a project of named groups and the contrasts between them.

    Attributes
    ----------
    spec_version : 3
        The spec format's version.
    title : str, default=""
        Free text for the report.
    mode : {"descriptive", "inferential"}, default="descriptive"
        As in version 2, for every group and contrast.
    input : InputSpec or None, default=None
        A shared input the groups select from (groups without a ``path``).
    groups : dict of str to GroupSpec
        One or more groups by name (as in version 2; ``{}`` is the whole shared input).
    contrasts : list of ProjectContrastSpec, default=[]
        Zero or more contrasts, each between two of the groups.
    ale, display, jackknife, figures, report, labels, inference, robustness
        As in version 2, for every group and contrast.
    jale : JaleOriginSpec or None, default=None
        The JALE project the spec was read from (:mod:`ale_app.spec.jale`): its config values,
        what each became, and every row of its analysis sheet; None for a spec written as one.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True,
                              allow_inf_nan=False, title="ale-app analysis spec, version 3")

    spec_version: Literal[3] = Field(description="Version of the spec format: 3 (a project: groups and contrasts).")
    title: str = Field(default="", max_length=MAX_TITLE_LENGTH,
                       description=f"Free text shown in the report (at most {MAX_TITLE_LENGTH:,} characters).")
    mode: Literal["descriptive", "inferential"] = Field(
        default="descriptive",
        description="Declared before the run, for every group and contrast: 'descriptive' (ALE maps, differences "
        "and conjunctions with display-only thresholds) or 'inferential' (each group's cluster-level FWE "
        "inference, each contrast's permutation test; refused when a group has fewer than "
        "inference.min_experiments experiments).",
    )
    input: InputSpec | None = Field(default=None, description=(
        "A shared input the groups select from (groups that give no 'path')."))
    groups: dict[str, ProjectGroupSpec] = Field(min_length=1, description=(
        "One or more groups by name, each analysed on its own; a name is letters and digits only (it becomes a "
        "BIDS label), unique regardless of case. {} is the whole shared input."))
    contrasts: list[ProjectContrastSpec] = Field(default_factory=list, description=(
        "Zero or more contrasts, each between two of the groups: the first minus the second."))
    ale: ALESpec = Field(default_factory=ALESpec, description="How ALE is fitted (every group).")
    display: DisplaySpec = Field(default_factory=DisplaySpec, description="How maps are drawn (display only).")
    jackknife: JackknifeSpec = Field(default_factory=JackknifeSpec, description="Leave-one-out jackknife.")
    figures: FiguresSpec = Field(default_factory=FiguresSpec, description="Figure files.")
    report: ReportSpec = Field(default_factory=ReportSpec, description="Wording of the report.")
    labels: LabelsSpec = Field(default_factory=LabelsSpec, description="Anatomical labels of peaks and clusters.")
    inference: InferenceSpec = Field(
        default_factory=InferenceSpec, description="The Monte Carlo and permutation inference; read only in "
        "inferential mode.")
    robustness: RobustnessSpec | None = Field(
        default=None, description="As in version 2, for each group's own FWE clusters; inferential mode only. "
        "Left out of spec.json when absent.")
    jale: JaleOriginSpec | None = Field(default=None, description=(
        "The JALE project (config.yml, analysis and experiment workbooks) this spec was read from: its config "
        "values, what each became, and every analysis row with what it runs as. Written by ale-app when the SPEC "
        "is a JALE config.yml; left out of spec.json when absent."))

    @model_validator(mode="after")
    def _consistent(self) -> AnalysisSpecV3:
        problems = group_problems(self)
        labels: dict[str, list[str]] = {}
        for i, contrast in enumerate(self.contrasts):
            where = f"contrasts[{i}]"
            problems += contrast_problems(self, contrast, where)
            if contrast.name is not None and not CONTRAST_NAME.match(contrast.name):
                problems.append(f"{where}.name {contrast.name!r} must be letters and digits (it becomes a BIDS label)")
            labels.setdefault(contrast.label.casefold(), []).append(where)
        for label, places in labels.items():
            if len(places) > 1:
                problems.append(f"{' and '.join(places)} would write the same files (contrast-{label}_...): give "
                                "each a different 'name'")
        raise_problems(problems)
        if self.mode == "inferential":
            check_inference_can_pass(self.inference, contrast=bool(self.contrasts))
        check_robustness_can_run(self.mode, self.robustness, self.inference)
        for group in self.groups.values():
            check_robustness_can_run(self.mode, group.robustness, self.inference)
        return self

    def record(self) -> dict[str, Any]:
        """The spec as run, for ``spec.json`` (as version 2 records it; ``jale`` only when read
        from a JALE project)."""
        record = record_of(self)
        if record.get("jale", 0) is None:
            del record["jale"]
        return record


def pair_spec(spec: AnalysisSpecV3, contrast: ProjectContrastSpec, label: str) -> AnalysisSpecV2:
    """The version-2 spec of one contrast of the project ``spec``: its two groups, the contrast
    (named ``label`` in file names) and every shared section."""
    data: dict[str, Any] = {key: getattr(spec, key) for key in (*SHARED_SECTIONS, "input")}
    data = {k: (v.model_dump() if hasattr(v, "model_dump") else v) for k, v in data.items()}
    data["groups"] = {g: spec.groups[g].model_dump(exclude={"robustness"}) for g in contrast.groups}
    data["contrast"] = contrast.model_dump(exclude={"name"})
    pair = AnalysisSpecV2.model_validate({"spec_version": 2, **data})
    pair._label = label
    return pair
