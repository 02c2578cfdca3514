"""The analysis spec (version 1): pydantic models and their JSON Schema (loading: :mod:`ale_app.spec.load`).

Everything that can change a number lives in the spec; execution options (jobs, backend)
live on the command line. Unknown keys are errors. ``schemas/ale-app-spec.schema.json`` is
generated from these models by ``ale-app --print-schema`` and a test keeps the two equal.

This module holds the top-level model, :class:`AnalysisSpec`; each section has its own module
(:mod:`~ale_app.spec.input`, :mod:`~ale_app.spec.fitting` for ``ale`` and ``jackknife``,
:mod:`~ale_app.spec.presentation` for ``display``, ``figures``, ``report`` and ``labels``,
:mod:`~ale_app.spec.inference`, :mod:`~ale_app.spec.robustness`), the shared base model and
number types are in :mod:`~ale_app.spec.fields`, and what ``spec.json`` leaves out in
:mod:`~ale_app.spec.record`. Every name this module offered is still importable from it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from ale_app.spec.fields import (MAX_ANALYSES, MAX_CLUSTER_MM3, MAX_DOMINANCE_RATIO, MAX_KERNEL_FWHM_MM,
                                 MAX_TITLE_LENGTH, Bool, Float, Int, OptionalFloat, OptionalInt, StrictModel)
from ale_app.spec.fitting import ALESpec, JackknifeSpec
from ale_app.spec.inference import InferenceSpec, check_inference_can_pass, iterations_needed
from ale_app.spec.input import (COLUMN_ROLES, MAX_INPUT_FILES, PATH_DESCRIPTION, ColumnsSpec, InputFormat, InputPath,
                                InputSpec, SelectSpec, WhereSpec)
from ale_app.spec.presentation import DisplaySpec, FiguresSpec, LabelsSpec, ReportSpec
from ale_app.spec.record import LATER_INPUT_KEYS, LATER_SELECT_KEYS, omit_unset_input_keys
from ale_app.spec.robustness import FailsafeSpec, RobustnessSpec, StabilitySpec, check_robustness_can_run

#: The names this module has always offered: the top-level spec, and each section's model
#: and helper from the module that now holds it.
__all__ = [
    "SCHEMA_ID", "SCHEMA_FILENAME", "AnalysisSpec",
    "MAX_ANALYSES", "MAX_CLUSTER_MM3", "MAX_DOMINANCE_RATIO", "MAX_KERNEL_FWHM_MM", "MAX_TITLE_LENGTH",
    "Bool", "Float", "Int", "OptionalFloat", "OptionalInt", "StrictModel",
    "ALESpec", "JackknifeSpec",
    "InferenceSpec", "check_inference_can_pass", "iterations_needed",
    "COLUMN_ROLES", "MAX_INPUT_FILES", "PATH_DESCRIPTION", "ColumnsSpec", "InputFormat", "InputPath", "InputSpec",
    "SelectSpec", "WhereSpec",
    "DisplaySpec", "FiguresSpec", "LabelsSpec", "ReportSpec",
    "LATER_INPUT_KEYS", "LATER_SELECT_KEYS", "omit_unset_input_keys",
    "FailsafeSpec", "RobustnessSpec", "StabilitySpec", "check_robustness_can_run",
]

SCHEMA_ID = "https://github.com/ale-app/ale-app/schemas/ale-app-spec.schema.json"
SCHEMA_FILENAME = "ale-app-spec.schema.json"


class AnalysisSpec(StrictModel):
    """An ale-app analysis spec, version 1.

    Attributes
    ----------
    spec_version : 1
        The spec format's version.
    title : str, default=""
        Free text for the report.
    mode : {"descriptive", "inferential"}, default="descriptive"
        Declared before the run: ``inferential`` adds ALE's cluster-level FWE inference for an
        evidence base of at least ``inference.min_experiments`` experiments.
    input : InputSpec
        Where the coordinates come from.
    ale, display, jackknife, figures, report, labels, inference
        See their models; every field has a default.
    robustness : RobustnessSpec or None, default=None
        Subsampling stability and fail-safe N (inferential mode only).
    """

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        validate_default=True,
        allow_inf_nan=False,
        title="ale-app analysis spec, version 1",
    )

    spec_version: Literal[1] = Field(description="Version of the spec format; must be 1.")
    title: str = Field(default="", max_length=MAX_TITLE_LENGTH,
                       description=f"Free text shown in the report (at most {MAX_TITLE_LENGTH:,} characters).")
    mode: Literal["descriptive", "inferential"] = Field(
        default="descriptive",
        description="Declared before the run, from the review protocol: 'descriptive' (raw ALE map, display-only "
        "threshold, jackknife; no inference) or 'inferential' (adds ALE's cluster-level FWE inference; refused "
        "below inference.min_experiments experiments).",
    )
    input: InputSpec = Field(description="Where the coordinates come from.")
    ale: ALESpec = Field(default_factory=ALESpec, description="How ALE is fitted.")
    display: DisplaySpec = Field(default_factory=DisplaySpec, description="How maps are drawn (display only).")
    jackknife: JackknifeSpec = Field(default_factory=JackknifeSpec, description="Leave-one-out jackknife.")
    figures: FiguresSpec = Field(default_factory=FiguresSpec, description="Figure files.")
    report: ReportSpec = Field(default_factory=ReportSpec, description="Wording of the report.")
    labels: LabelsSpec = Field(default_factory=LabelsSpec, description="Anatomical labels of peaks and clusters.")
    inference: InferenceSpec = Field(
        default_factory=InferenceSpec, description="ALE's standard inference; read only in inferential mode.")
    robustness: RobustnessSpec | None = Field(
        default=None, description="Robustness beyond leave-one-out: subsampling stability and fail-safe N per "
        "FWE cluster; inferential mode only, each part off unless asked for. Left out of spec.json when absent.")

    @model_validator(mode="after")
    def _inference_can_pass(self) -> AnalysisSpec:
        if self.mode == "inferential":
            check_inference_can_pass(self.inference)
        check_robustness_can_run(self.mode, self.robustness, self.inference)
        return self

    def record(self) -> dict[str, Any]:
        """The spec as run, defaults filled in, for ``spec.json``. In descriptive mode the unread
        ``mode`` and ``inference`` sections are left out, so a spec that does not name a mode and
        one that says ``mode: descriptive`` record (and produce) identical files."""
        exclude = {"mode", "inference"} if self.mode == "descriptive" else set()
        if self.robustness is None:
            exclude.add("robustness")
        record = self.model_dump(mode="json", exclude=exclude)
        omit_unset_input_keys(record["input"], version=1)
        return record
