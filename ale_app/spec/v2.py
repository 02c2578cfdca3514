"""The analysis spec, version 2: named groups and a contrast between two of them.

A version-2 spec names its groups; each group is what version 1 calls ``input`` (a file
with its format and selection), or a selection from one ``input`` the groups share (users
often keep one table with a group column). ``contrast`` compares two groups: the first
minus the second, both directions reported, and (``conjunction``) where both converge.
Every other section (``ale``, ``display``, ``jackknife``, ``figures``, ``report``,
``labels``, ``inference``, ``robustness``) means what it means in version 1 and applies to
every group.

Version 1 keeps working unchanged. :func:`group_spec` gives the version-1 spec of one
group of a version-2 spec, which is how each group's own analysis runs; the project form
every version means (groups and contrasts) is :func:`ale_app.spec.project.to_project`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from ale_app.spec.models import (
    Int,
    OptionalInt,
    MAX_TITLE_LENGTH,
    ALESpec,
    AnalysisSpec,
    DisplaySpec,
    FiguresSpec,
    InferenceSpec,
    InputSpec,
    JackknifeSpec,
    LabelsSpec,
    ReportSpec,
    RobustnessSpec,
    ColumnsSpec,
    InputFormat,
    InputPath,
    SelectSpec,
    WhereSpec,
    Bool,
    check_inference_can_pass,
    check_robustness_can_run,
    omit_unset_input_keys,
)
from ale_app.spec.fields import StrictModel as _StrictModel

__all__ = ["AnalysisSpecV2", "ContrastSpec", "GroupSelectSpec", "GroupSpec", "WhereSpec", "group_input",
           "contrast_label", "group_spec"]

#: Group names become BIDS labels (``group-<name>``, ``contrast-<first>Minus<second>``).
GROUP_NAME = re.compile(r"^[A-Za-z0-9]+$")
MAX_GROUP_NAME = 32
#: At most this many problems of the groups are listed in one message.
MAX_LISTED = 20


#: A group's selection is version 1's (``first``, ``ids``, ``where``, ``exclude``); the name stays
#: for code that imports it.
GroupSelectSpec = SelectSpec


def _names(names: list[str]) -> str:
    """Names for a message: the first :data:`MAX_LISTED`, then how many more."""
    shown = ", ".join(repr(n[:60]) for n in names[:MAX_LISTED])
    return shown + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")


class GroupSpec(_StrictModel):
    """One group: its own input file, or a selection from the spec's shared ``input``.

    Attributes
    ----------
    path : str or list of str or None, default=None
        The group's studyset file, or a list of files read as one evidence base (as
        ``input.path`` in version 1); None selects from the spec's shared ``input``.
    format : {"auto", "nimads", "nimare-json", "sleuth", "tsv", "xlsx", "parquet"} or None, default=None
        The file's format (``auto`` when None); only with ``path``.
    columns : ColumnsSpec or None, default=None
        As ``input.columns``, for the group's own table; only with ``path``.
    sheet : str or None, default=None
        As ``input.sheet``, for the group's own workbook; only with ``path``.
    select : SelectSpec or None, default=None
        Which analyses of the file (or of the shared input) form the group.
    outside_field_of_view : {"error", "keep"} or None, default=None
        As ``input.outside_field_of_view`` (``error`` when None); only with ``path``.
    """

    path: InputPath | None = Field(default=None, description=(
        "The group's studyset file or parquet folder, relative to the spec's folder ('nimare:NAME' for a "
        "NiMARE resource), or a list of files read as one evidence base (as input.path); null selects from "
        "the spec's shared 'input'."))
    format: InputFormat | None = Field(
        default=None, description="The group file's format (as input.format); only with 'path'.")
    columns: ColumnsSpec | None = Field(default=None, description=(
        "The group table's header for each column ale-app reads (as input.columns); only with 'path'."))
    sheet: str | None = Field(default=None, min_length=1, description=(
        "The sheet of the group's Excel workbook to read (as input.sheet); only with 'path'."))
    select: SelectSpec | None = Field(default=None, description=(
        "Which analyses form the group (at most one of 'first', 'ids', 'where', 'tags', then 'exclude'); null keeps "
        "all."))
    outside_field_of_view: Literal["error", "keep"] | None = Field(
        default=None, description="As input.outside_field_of_view; only with 'path'.")


class BalancedSpec(_StrictModel):
    """The balanced contrast's sizes (``contrast.method: balanced``); NiMARE's defaults.

    Attributes
    ----------
    target_n : int or None, default=None
        Experiments per balanced subsample; default the smaller group's size.
    subsamples : int, default=2500
        Subsamples of each group for its probabilistic map (fewer when fewer exist).
    difference_iterations : int, default=1000
        Balanced subsample pairs averaged into the difference (and into each null draw's).
    null_iterations : int, default=1000
        Null draws (random foci) of the extreme balanced differences; also the null draws
        of each group's cluster-size threshold.
    mask_coverage : {"gm", "brain"}, default="gm"
        Where the difference is computed and random foci fall: grey matter (the template's
        grey-matter probability above 0.1) or the whole brain mask.
    """

    target_n: OptionalInt = Field(default=None, ge=1, le=100_000, description=(
        "Experiments per balanced subsample (at most the smaller group's size); default the smaller "
        "group's size."))
    subsamples: Int = Field(default=2500, ge=1, le=1_000_000, description=(
        "Subsamples of target_n experiments per group for its probabilistic map (NiMARE's n_subsamples; "
        "all of them when fewer exist)."))
    difference_iterations: Int = Field(default=1000, ge=1, le=1_000_000, description=(
        "Balanced subsample pairs averaged into the difference and into each null draw's (NiMARE's "
        "difference_iterations)."))
    null_iterations: Int = Field(default=1000, ge=10, le=1_000_000, description=(
        "Null draws (random foci in every experiment) of the extreme balanced differences, and of each "
        "group's cluster-size threshold (NiMARE's n_iters); more than 2/inference.fwe_alpha."))
    mask_coverage: Literal["gm", "brain"] = Field(default="gm", description=(
        "Where the difference is computed and random foci fall: 'gm' (the template's grey-matter "
        "probability above 0.1) or 'brain' (the whole brain mask)."))


class ContrastSpec(_StrictModel):
    """The comparison between two groups.

    Attributes
    ----------
    groups : list of two str
        The first minus the second; both directions are reported.
    conjunction : bool, default=True
        Also map where both groups converge (minimum statistic, Nichols et al. 2005).
    method : {"subtraction", "balanced"}, default="subtraction"
        Inferential mode: the ALE subtraction (permutation of group labels) or the balanced
        contrast (equal-sized random subsamples of both groups, NiMARE's
        BalancedALESubtraction), for groups of different sizes.
    balanced : BalancedSpec
        The balanced contrast's sizes (read with ``method: balanced``).
    """

    groups: list[str] = Field(min_length=2, max_length=2, description=(
        "Two group names: the first minus the second (both directions are reported)."))
    conjunction: Bool = Field(default=True, description=(
        "Also map where both groups converge: the voxelwise minimum of the two groups' maps "
        "(minimum statistic, Nichols et al. 2005)."))

    method: Literal["subtraction", "balanced"] = Field(default="subtraction", description=(
        "Inferential mode: 'subtraction' (ALE subtraction, permutation of group labels; NiMARE's "
        "ALESubtraction) or 'balanced' (the mean difference of equal-sized random subsamples of both groups "
        "against a random-foci null of its extremes; NiMARE's BalancedALESubtraction), for groups of "
        "different sizes."))
    balanced: BalancedSpec = Field(default_factory=BalancedSpec, description=(
        "The balanced contrast's sizes (read with method 'balanced'); NiMARE's defaults."))

    @field_validator("groups")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(value) == 2 and value[0] == value[1]:
            raise ValueError("a contrast compares two different groups")
        return value


class AnalysisSpecV2(_StrictModel):
    """An ale-app analysis spec, version 2: named groups and a contrast.

    Attributes
    ----------
    spec_version : 2
        The spec format's version.
    title : str, default=""
        Free text for the report.
    mode : {"descriptive", "inferential"}, default="descriptive"
        As in version 1; ``inferential`` needs ``inference.min_experiments`` experiments in
        every group.
    input : InputSpec or None, default=None
        A shared input the groups select from (groups without a ``path``).
    groups : dict of str to GroupSpec
        The groups by name (letters and digits: names become BIDS labels; unique regardless
        of case, as file names on macOS and Windows are).
    contrast : ContrastSpec
        Which two groups are compared.
    ale, display, jackknife, figures, report, labels, inference
        As in version 1, for every group and the contrast.
    robustness : RobustnessSpec or None, default=None
        As in version 1, run on each group's own FWE clusters.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True,
                              allow_inf_nan=False, title="ale-app analysis spec, version 2")

    spec_version: Literal[2] = Field(description="Version of the spec format: 2 (named groups and a contrast).")
    title: str = Field(default="", max_length=MAX_TITLE_LENGTH,
                       description=f"Free text shown in the report (at most {MAX_TITLE_LENGTH:,} characters).")
    mode: Literal["descriptive", "inferential"] = Field(
        default="descriptive",
        description="Declared before the run: 'descriptive' (both groups' ALE maps and their difference, "
        "display-only thresholds) or 'inferential' (ALE subtraction with permutation FWE inference, each "
        "group's own FWE inference and the conjunction; refused when a group has fewer than "
        "inference.min_experiments experiments).",
    )
    input: InputSpec | None = Field(default=None, description=(
        "A shared input the groups select from (groups that give no 'path')."))
    groups: dict[str, GroupSpec] = Field(min_length=2, description=(
        "The groups by name; a name is letters and digits only (it becomes a BIDS label), unique regardless of "
        "case ('A' and 'a' would write the same files on macOS and Windows)."))
    contrast: ContrastSpec = Field(description="The two groups compared: the first minus the second.")
    ale: ALESpec = Field(default_factory=ALESpec, description="How ALE is fitted (every group).")
    display: DisplaySpec = Field(default_factory=DisplaySpec, description="How maps are drawn (display only).")
    jackknife: JackknifeSpec = Field(default_factory=JackknifeSpec, description="Leave-one-out jackknife.")
    figures: FiguresSpec = Field(default_factory=FiguresSpec, description="Figure files.")
    report: ReportSpec = Field(default_factory=ReportSpec, description="Wording of the report.")
    labels: LabelsSpec = Field(default_factory=LabelsSpec, description="Anatomical labels of peaks and clusters.")
    inference: InferenceSpec = Field(
        default_factory=InferenceSpec, description="The permutation and Monte Carlo inference; read only in "
        "inferential mode.")
    robustness: RobustnessSpec | None = Field(
        default=None, description="As in version 1, for each group's own FWE clusters: subsampling stability and "
        "fail-safe N; inferential mode only, each part off unless asked for. Left out of spec.json when absent.")
    #: The contrast's label when a project names it (:func:`pair_spec`); None: ``<first>Minus<Second>``.
    _label: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> AnalysisSpecV2:
        problems = group_problems(self)
        problems += contrast_problems(self, self.contrast)
        unused = [g for g in self.groups if g not in self.contrast.groups]
        if unused:
            problems.append(f"group(s) {_names(unused)} are not in contrast.groups (one contrast "
                            "per spec; remove them or compare them in another spec)")
        raise_problems(problems)
        if self.mode == "inferential":
            check_inference_can_pass(self.inference, contrast=True)
        check_robustness_can_run(self.mode, self.robustness, self.inference)
        return self

    @property
    def first(self) -> str:
        """The first group of the contrast (the minuend)."""
        return self.contrast.groups[0]

    @property
    def second(self) -> str:
        """The second group of the contrast (the subtrahend)."""
        return self.contrast.groups[1]

    @property
    def contrast_label(self) -> str:
        """The contrast as a BIDS label, e.g. ``olderMinusYounger``."""
        return self._label or contrast_label(self.first, self.second)

    def record(self) -> dict[str, Any]:
        """The spec as run, defaults filled in, for ``spec.json`` (as version 1 records: the
        unread ``mode`` and ``inference`` are left out in descriptive mode, and the keys
        :func:`~ale_app.spec.models.omit_unset_input_keys` leaves out when unset)."""
        return record_of(self)


def group_problems(spec) -> list[str]:
    """What is wrong with the groups of a version-2 or version-3 ``spec`` (names, inputs)."""
    problems = []
    for name, group in spec.groups.items():
        if not GROUP_NAME.match(name) or len(name) > MAX_GROUP_NAME:
            problems.append(f"group name {name!r} must be 1 to {MAX_GROUP_NAME} letters and digits "
                            "(it becomes a BIDS label)")
        if group.path is None:
            if spec.input is None:
                problems.append(f"group {name!r} gives no 'path' and the spec has no shared 'input' to "
                                "select from")
            own = [k for k in ("format", "columns", "sheet", "outside_field_of_view")
                   if getattr(group, k) is not None]
            if own:
                problems.append(f"group {name!r}: {' and '.join(map(repr, own))} go with 'path' "
                                "(or in the shared 'input')")
    same_file: dict[str, list[str]] = {}
    for name in spec.groups:
        same_file.setdefault(name.casefold(), []).append(name)
    for names in same_file.values():
        if len(names) > 1:
            problems.append(f"group names {_names(names)} differ only in case: their files (group-{names[0]}_..., "
                            f"group-{names[1]}_...) would be the same files on macOS and Windows (and Docker "
                            "Desktop mounts), whose file names ignore case; rename one")
    return problems


def contrast_problems(spec, contrast: ContrastSpec, where: str = "contrast") -> list[str]:
    """What is wrong with ``contrast`` of ``spec`` (unknown groups, the balanced method's
    settings); ``where`` names it in the messages."""
    problems = []
    unknown = [g for g in contrast.groups if g not in spec.groups]
    if unknown:
        problems.append(f"{where}.groups names {', '.join(map(repr, unknown))}, not among the groups "
                        f"({_names(list(spec.groups))})")
    if contrast.method == "balanced":
        if spec.mode != "inferential":
            problems.append(f"{where}.method 'balanced' is an inferential test: set mode: inferential "
                            f"(or drop {where}.method)")
        if spec.inference.seed >= 2**32 - 1:
            problems.append(f"{where}.method 'balanced' seeds the second group with inference.seed + 1: "
                            f"inference.seed must be below {2**32 - 1}")
        if contrast.balanced.null_iterations * spec.inference.fwe_alpha <= 2:
            problems.append(f"{where}.balanced.null_iterations must be more than 2/inference.fwe_alpha "
                            "(no balanced p can be below 1/null_iterations)")
    return problems


def raise_problems(problems: list[str]) -> None:
    """Refuse a spec with ``problems`` (at most :data:`MAX_LISTED` of them listed)."""
    if problems:
        shown = problems[:MAX_LISTED]
        more = [f"and {len(problems) - MAX_LISTED} more problems of the groups"] if len(problems) > MAX_LISTED \
            else []
        raise ValueError("; ".join(shown + more))


def record_of(spec) -> dict[str, Any]:
    """``spec.json``'s record of a version-2 or version-3 ``spec`` (see
    :meth:`AnalysisSpecV2.record`)."""
    exclude = {"mode", "inference"} if spec.mode == "descriptive" else set()
    if spec.robustness is None:
        exclude.add("robustness")
    record = spec.model_dump(mode="json", exclude=exclude)
    omit_unset_input_keys(record.get("input"), version=1)
    for group in record["groups"].values():
        omit_unset_input_keys(group, version=2)
    return record


#: The sections every group shares with the spec.
SHARED_SECTIONS = ("title", "mode", "ale", "display", "jackknife", "figures", "report", "labels", "inference",
                   "robustness")


def contrast_label(first: str, second: str) -> str:
    """The BIDS label of ``first`` minus ``second``: ``<first>Minus<Second>``."""
    return f"{first}Minus{second[:1].upper()}{second[1:]}"


def group_input(spec: AnalysisSpecV2 | Any, name: str) -> InputSpec:
    """The version-1 ``input`` of group ``name`` (its own file, or the shared input)."""
    group = spec.groups[name]
    if group.path is not None:
        base: dict[str, Any] = {"path": group.path}
        for key in ("format", "columns", "sheet"):
            if getattr(group, key) is not None:
                base[key] = getattr(group, key)
        if group.outside_field_of_view is not None:
            base["outside_field_of_view"] = group.outside_field_of_view
    else:
        assert spec.input is not None  # checked by the model
        base = spec.input.model_dump(exclude={"select"})
    # The group's selection is kept as it is.
    return InputSpec.model_validate({**base, "select": group.select})


def group_spec(spec: AnalysisSpecV2 | Any, name: str) -> AnalysisSpec:
    """The version-1 spec of group ``name`` of a version-2 (or version-3) spec: its input
    and every shared section."""
    data = {key: getattr(spec, key) for key in SHARED_SECTIONS}
    data = {k: (v.model_dump() if hasattr(v, "model_dump") else v) for k, v in data.items()}
    data["title"] = f"{spec.title} ({name})" if spec.title else name
    data["input"] = group_input(spec, name)
    own = getattr(spec.groups[name], "robustness", None)  # a version-3 group's own robustness
    if own is not None:
        data["robustness"] = own.model_dump()
    return AnalysisSpec.model_validate({"spec_version": 1, **data})
