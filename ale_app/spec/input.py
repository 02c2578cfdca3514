"""The ``input`` section (version 1; a version-2 group reuses its parts): where the
coordinates come from, the table's columns, and which analyses ``select`` keeps."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from ale_app.spec.fields import MAX_ANALYSES, Bool, OptionalInt, StrictModel, given_text


class WhereSpec(StrictModel):
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


class TagRuleSpec(StrictModel):
    """Keep the analyses whose tags (a JALE workbook's tag columns) meet every part given:
    JALE's ``+tag`` (AND), ``?`` (OR of the tags before it) and ``-tag`` (NOT).

    Attributes
    ----------
    all : list of str, default=[]
        Tags an analysis must all have (JALE's ``+tag`` after the last ``?``).
    any : list of str, default=[]
        Tags of which an analysis must have at least one (JALE's ``+tag`` rows joined by ``?``).
    none : list of str, default=[]
        Tags an analysis must not have (JALE's ``-tag``).

    Tags are compared as JALE compares them: lower case, without surrounding spaces. Every
    tag named must be held by some analysis of the input.
    """

    all: list[str] = Field(default_factory=list, max_length=100, description=(
        "Tags an analysis must all have (JALE's +tag, logical AND); compared in lower case."))
    any: list[str] = Field(default_factory=list, max_length=100, description=(
        "Tags of which an analysis must have at least one (JALE's +tag rows joined by '?', logical OR)."))
    none: list[str] = Field(default_factory=list, max_length=100, description=(
        "Tags an analysis must not have (JALE's -tag, logical NOT)."))

    @model_validator(mode="after")
    def _some_tag(self) -> TagRuleSpec:
        if not (self.all or self.any or self.none):
            raise ValueError("name at least one tag in 'all', 'any' or 'none'")
        if any(not t.strip() for t in (*self.all, *self.any, *self.none)):
            raise ValueError("a tag is empty")
        return self

    def keeps(self, tags: frozenset[str] | set[str] | tuple[str, ...]) -> bool:
        """Whether an analysis with ``tags`` (lower case) is kept."""
        held = {t.strip().lower() for t in tags}
        return (all(t.strip().lower() in held for t in self.all)
                and (not self.any or any(t.strip().lower() in held for t in self.any))
                and not any(t.strip().lower() in held for t in self.none))

    def named(self) -> list[str]:
        """Every tag the rule names, lower case, once each, in the order given."""
        return list(dict.fromkeys(t.strip().lower() for t in (*self.all, *self.any, *self.none)))


class SelectSpec(StrictModel):
    """Which analyses of the input enter the meta-analysis: at most one of ``first``,
    ``ids``, ``where`` and ``tags``, and, after it, ``exclude``.

    Attributes
    ----------
    first : int or None, default=None
        The first N analyses in file order (N >= 2).
    ids : list of str or None, default=None
        Analyses by id, as the input names them (at least 2).
    where : WhereSpec or None, default=None
        Analyses by the value of a column (e.g. a group or tag column of a table).
    tags : TagRuleSpec or None, default=None
        Analyses by their tags (a JALE workbook's tag columns): all of, any of, none of.
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
    tags: TagRuleSpec | None = Field(default=None, description="Keep the analyses whose tags (the tag columns "
                                     "of a JALE workbook, format 'jale') meet the rule, e.g. {all: [inhibition], "
                                     "none: [high]}.")
    exclude: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ANALYSES,
        description="Leave out the analyses with these ids (as the input names them) from what 'first', 'ids', "
        "'where' or 'tags' keeps, or from all analyses when none of them is given.",
    )

    @model_validator(mode="after")
    def _one_way(self) -> SelectSpec:
        given = [k for k in ("first", "ids", "where", "tags") if getattr(self, k) is not None]
        if len(given) > 1:
            if given == ["first", "ids"]:
                raise ValueError("give at most one of 'first' and 'ids'")
            raise ValueError(f"give at most one of 'first', 'ids', 'where' and 'tags' (got {' and '.join(given)})")
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


class ColumnsSpec(StrictModel):
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


InputFormat = Literal["auto", "nimads", "nimare-json", "sleuth", "tsv", "xlsx", "parquet", "jale"]

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
                                  {"given": given_text(value)})
    if not 1 <= len(value) <= MAX_INPUT_FILES:
        raise PydanticCustomError("path", "a list of files holds 1 to {most} paths, not {n}",
                                  {"most": f"{MAX_INPUT_FILES:,}", "n": len(value)})
    odd = [i for i, p in enumerate(value) if not isinstance(p, str) or not p]
    if odd:
        raise PydanticCustomError("path", "item {i} of the list is {given}, not a file path",
                                  {"i": odd[0], "given": given_text(value[odd[0]]) if value[odd[0]] != "" else "empty"})
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


class InputSpec(StrictModel):
    """Where the coordinates come from.

    Attributes
    ----------
    path : str or list of str
        The studyset file (or parquet studyset folder), relative to the spec's folder;
        ``nimare:NAME`` names a resource bundled with NiMARE (``nimare.utils.get_resource_path()``).
        A list of files is read as one evidence base, each file in its own space and format
        (not parquet folders); the same experiment in two files is refused, naming both.
    format : {"auto", "nimads", "nimare-json", "sleuth", "tsv", "xlsx", "parquet", "jale"}, default="auto"
        The input's format (of every file of a list); ``auto`` decides, file by file, from the
        extension and the content (a folder is a parquet studyset; ``.tsv``/``.csv`` a table;
        ``.xlsx`` an Excel workbook; ``.json`` NIMADS or NiMARE JSON by shape; a text file whose
        first line starts with ``//`` Sleuth). ``jale`` (never chosen by ``auto``) is JALE's
        ``experiment_info`` workbook (``.xlsx`` or ``.csv``): article, subjects, x, y, z and space
        in its first six columns whatever their headers, tag columns after them; the article may
        be given on every row or only on each experiment's first row (then filled down).
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
    pool_experiments : bool, default=False
        Rows of one study that differ by their tags (format ``jale``) or by the ``group``
        column (a table without an analysis column) are separate experiments that share
        subjects (JALE's rule), named in a warning; ``true`` pools them into one experiment per
        study (Turkeltaub et al. 2012; JALE's ``pool_experiments``).
    """

    path: InputPath = Field(description=PATH_DESCRIPTION)
    format: InputFormat = Field(
        default="auto",
        description=(
            "Input format: 'sleuth' (GingerALE text), 'tsv' (a .tsv or .csv table with columns "
            "study_id, analysis_id, x, y, z, space, sample_size, or those 'columns' maps), 'xlsx' (the "
            "same table in an Excel workbook), 'nimads' (NIMADS studyset JSON), 'nimare-json' (NiMARE "
            "dataset JSON), 'parquet' (NiMARE parquet studyset folder), 'jale' (JALE's experiment_info "
            "workbook: article, subjects, x, y, z, space in the first six columns, then tag columns; the article "
            "on every row or only on each experiment's first row). 'auto' decides from the extension and the "
            "content (never 'jale')."
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
        description="Which analyses to keep (at most one of 'first', 'ids', 'where' and 'tags', then 'exclude'); "
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
    pool_experiments: Bool = Field(
        default=False,
        description=(
            "Rows of one study that differ by their tags (format 'jale') or by the group column (a table without "
            "an analysis column) are separate experiments sharing subjects (JALE's rule), named in a warning; "
            "true pools them into one experiment per study (Turkeltaub et al. 2012; JALE's pool_experiments). "
            "Left out of spec.json when false."
        ),
    )
