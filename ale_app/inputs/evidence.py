"""Read an input studyset into one :class:`Evidence` object and check it.

One entry point, :func:`load_evidence`, reads every supported format (see
:mod:`ale_app.inputs.readers`) into a NiMARE studyset in the target space, applies
``input.select`` in file order (a version-2 group's ``select`` may also keep analyses by
the value of a column, ``where``), and runs the checks of :mod:`ale_app.inputs.checks`
before any computation. New formats join as a reader in :mod:`ale_app.inputs.readers` that
returns a NIMADS dictionary and the analysis ids in file order.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from contextlib import contextmanager
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ale_app.files import INPUT_LIMIT, RefusedFile, sha256_regular
from ale_app.errors import InputDataError, MissingInputError, SpecError
from ale_app.inputs.readers.base import plural
from ale_app.inputs.studies import RULE_WORDS
from ale_app.spec.models import ALESpec, InputSpec

if TYPE_CHECKING:
    import pandas as pd

LGR = logging.getLogger(__name__)

NIMARE_PREFIX = "nimare:"


@dataclass
class Evidence:
    """The analyses that enter the meta-analysis, in the target space.

    Attributes
    ----------
    studyset : nimare.studyset.Studyset
        The selected analyses, as NiMARE fits them.
    ids : list of str
        Selected analysis ids (``<study id>-<analysis id>``), in file order.
    coordinates : pandas.DataFrame
        One row per focus: ``analysis_id, study_id, x, y, z, space`` (target space, mm).
    sample_sizes : dict
        Analysis id -> sample size from the data (None where the data has none).
    source : dict
        ``path`` as the spec gave it, ``resolved`` absolute path, ``sha256``, ``format``,
        and for text and JSON inputs the ``encoding`` they were read with; for a list of
        files, ``path``, ``resolved``, ``sha256`` and ``format`` are lists, one value per file.
    warnings : list of str
        Things that do not stop the analysis (few experiments, double entries, ...).
    spaces : dict
        Foci per space label as recorded in the input.
    conversions : list of dict
        Space conversions applied (Talairach to MNI with NiMARE's ``tal2mni``).
    outside_mask : pandas.DataFrame
        Foci inside the template's field of view but outside its brain mask (kept).
    outside_fov : pandas.DataFrame
        Foci outside the template's box: those at most
        :data:`~ale_app.inputs.checks.FOV_MARGIN_MM` outside (always kept, with a warning),
        and, when ``input.outside_field_of_view`` is ``keep``, all others.
    study_rule : str
        How experiments are grouped into studies (``input.study_rule``; see
        :mod:`ale_app.inputs.studies`).
    study_of : dict
        Analysis id -> its study under ``study_rule``, where that differs anywhere from the
        study id the input gives (a rule other than ``study-id``, a placeholder or a
        prefixed study id); empty when every study is the input's own.
    read_ids : list of str
        Every analysis id the input holds, in file order (the selection's candidates).
    notes : list of str
        What the reading did that is worth saying but no warning: the sheet of a workbook
        that was read, the columns of a table that were ignored.
    files : list of dict
        One record per input file, as ``source`` records one file (see :attr:`input_files`).
    """

    studyset: Any
    ids: list[str]
    coordinates: pd.DataFrame
    sample_sizes: dict[str, float | None]
    source: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    spaces: dict[str, int] = field(default_factory=dict)
    conversions: list[dict] = field(default_factory=list)
    outside_mask: pd.DataFrame = field(default_factory=lambda: _no_foci())
    outside_fov: pd.DataFrame = field(default_factory=lambda: _no_foci())
    study_rule: str = "study-id"
    study_of: dict[str, str] = field(default_factory=dict)
    read_ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)

    @property
    def input_files(self) -> list[dict]:
        """One record per input file (``path``, ``resolved``, ``sha256``, ``format``, and
        ``encoding``/``sheet`` where known), in the spec's order: ``[source]`` for one file."""
        return self.files or [self.source]

    @property
    def study_ids(self) -> list[str]:
        """Studies (under ``study_rule``) in file order of their first analysis."""
        return list(dict.fromkeys(self.coordinates_by_study()["study_id"]))

    def coordinates_by_study(self) -> pd.DataFrame:
        """``coordinates`` with ``study_id`` the study under ``study_rule`` (the figures colour by
        it); ``coordinates`` itself when every study is the input's own."""
        if not self.study_of:
            return self.coordinates
        return self.coordinates.assign(study_id=self.coordinates["analysis_id"].map(self.study_of))


def _no_foci() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=["analysis_id", "study_id", "x", "y", "z"])



def nimare_resource_dir() -> Path:
    """NiMARE's resource folder, as ``nimare.utils.get_resource_path()`` gives it, found
    without importing NiMARE (its import takes seconds, and a missing input or a refused
    output folder should be reported before that)."""
    found = importlib.util.find_spec("nimare")
    if found is None or found.origin is None:
        raise MissingInputError("NiMARE is not installed, so 'nimare:' inputs cannot be found.",
                                hint="Install ale-app with its dependencies (pip install ale-app).")
    return Path(found.origin).parent / "resources"


def resolve_input_path(path: str, spec_dir: Path) -> Path:
    """Resolve ``input.path``: ``nimare:NAME`` from NiMARE's resources, else spec-relative.

    ``nimare:NAME`` stays inside NiMARE's resource folder: a name that leads out of it (``..``,
    an absolute path, a link to elsewhere) is refused (exit 65).
    """
    if path.startswith(NIMARE_PREFIX):
        name = path[len(NIMARE_PREFIX) :]
        folder = nimare_resource_dir()
        resolved = folder / name
        inside = (not Path(name).is_absolute() and ".." not in Path(name).parts and name.strip()
                  and resolved.resolve().is_relative_to(folder.resolve()))
        if not inside:
            raise SpecError(
                f"The input path {path[:200]!r} leads outside NiMARE's bundled resources ({folder}).",
                hint="'nimare:NAME' names a file or folder of NiMARE's resources, e.g. "
                "'nimare:nidm_pain_studyset.json'; give any other file as a path relative to the spec's folder.",
            )
    else:
        resolved = Path(path)
        if not resolved.is_absolute():
            resolved = spec_dir / resolved
    try:
        resolved.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise MissingInputError(
            f"The input file {path!r} does not exist (looked for {resolved}).",
            hint="input.path is relative to the spec's folder; 'nimare:NAME' names a file "
            "bundled with NiMARE.",
        ) from None
    except OSError as exc:  # a folder on the way this user cannot enter, a name too long, a link loop
        raise MissingInputError(
            f"The input file {path[:300]!r} cannot be reached ({str(resolved)[:300]}): {exc.strerror}.",
            hint="Check that every folder on its path can be entered by this user ('ls -ld' each one; "
            "'chmod a+x' a folder to let others through it) and that each name is at most 255 bytes.",
        ) from None
    return resolved


# --------------------------------------------------------------------------- selection


#: At most this many columns or values are listed in a ``select.where`` message.
MAX_LISTED = 20
#: Format names in messages.
FORMAT_NAMES = {"sleuth": "Sleuth", "tsv": "TSV/CSV", "xlsx": "Excel", "nimads": "NIMADS",
                "nimare-json": "NiMARE JSON"}


def _select_ids(read, input_spec: InputSpec, label: str = "", field: str = "input") -> list[str]:
    """The selected analysis ids, in file order (``field`` names the spec field in messages):
    ``first``, ``ids`` or ``where``, then without those of ``exclude``."""
    select = input_spec.select
    if select is None:
        return list(read.ids)
    kept = _select_kept(read, select, label, field)
    if select.exclude is None:
        return kept
    exclude = _as_read(select.exclude, read.ids)
    known = set(read.ids)
    unknown = [i for i in exclude if i not in known]
    if unknown:
        raise InputDataError(
            f"{field}.select.exclude names analyses that are not in the input: {_listed(_shown(unknown), MAX_LISTED)}.",
            hint=f"Ids are '<study id>-<analysis id>' as in the input, e.g. {_example_ids(read.ids)}; "
            "'ale-app SPEC OUT --validate-only' lists them.",
        )
    chosen = set(kept)
    outside = [i for i in exclude if i not in chosen]
    if outside:
        how = next(k for k in ("first", "ids", "where") if getattr(select, k) is not None)
        raise InputDataError(
            f"{field}.select.exclude names analyses that {field}.select.{how} does not keep, so excluding "
            f"them changes nothing: {_listed(_shown(outside), MAX_LISTED)}.",
            hint=f"Remove them from {field}.select.exclude, or check the ids.",
        )
    excluded = set(exclude)
    return [i for i in kept if i not in excluded]


def _as_read(ids: list[str], read_ids: list[str]) -> list[str]:
    """The spec's ids as the input spells them: an id written in another Unicode form of the
    same letters (an accent as one character or as a combining mark) is the input's id."""
    from ale_app.inputs.checks import same_name

    spelling: dict[str, str] = {}
    for i in read_ids:
        spelling.setdefault(same_name(i), i)
    return [spelling.get(same_name(i), i) for i in ids]


def _shown(ids: list[str]) -> list[str]:
    """Ids quoted for a message, each cut to 200 characters."""
    return [repr(i[:200]) + ("..." if len(i) > 200 else "") for i in ids[:MAX_LISTED]] + ids[MAX_LISTED:]


def _example_ids(ids: list[str]) -> str:
    return ", ".join(i[:200] for i in ids[:5]) + (", ..." if len(ids) > 5 else "")


def _select_kept(read, select, label: str, field: str) -> list[str]:
    """What ``first``, ``ids`` or ``where`` keeps (all analyses when none is given)."""
    all_ids = read.ids
    if select.where is not None:
        return _select_where(read, select.where, label, f"{field}.select.where")
    if select.first is None and select.ids is None:
        return list(all_ids)
    if select.first is not None:
        if select.first > len(all_ids):
            raise InputDataError(
                f"{field}.select.first is {select.first}, but the input has only "
                f"{len(all_ids)} analyses.",
                hint=f"Use a number from 2 to {len(all_ids)}, or remove {field}.select.",
            )
        return list(all_ids[: select.first])
    known = set(all_ids)
    ids = _as_read(select.ids, all_ids)
    unknown = [i for i in ids if i not in known]
    if unknown:
        shown = _example_ids(all_ids)
        raise InputDataError(
            f"{field}.select.ids names analyses that are not in the input: {_listed(_shown(unknown), MAX_LISTED)}.",
            hint=f"Ids are '<study id>-<analysis id>' as in the input, e.g. {shown}.",
        )
    wanted = set(ids)
    return [i for i in all_ids if i in wanted]


def _listed(items: list[str], limit: int = MAX_LISTED) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... and {len(items) - limit} more" if len(items) > limit else "")


def _select_where(read, where, label: str, field: str) -> list[str]:
    """The analyses whose column ``where.column`` holds one of ``where.values``, in file order."""
    import difflib

    columns = read.columns
    if columns is None:
        raise InputDataError(
            f"{field} selects by column {where.column!r}, but {label} is a "
            f"{FORMAT_NAMES.get(read.format, read.format)} file, which "
            "has no columns that describe analyses.",
            hint=f"Select by ids ({field[:-len('.where')]}.ids), or give each group its own file.",
        )
    names = columns.names
    column = columns.resolve(where.column) or where.column
    if column not in names:
        near = difflib.get_close_matches(where.column, names, n=3)
        guess = f" (did you mean {' or '.join(repr(n) for n in near)}?)" if near else ""
        # Plain names first: a studyset's annotations flatten nested records into many
        # columns ('Extractor.groups[0].age_mean') that are seldom the one meant.
        shown = sorted(names, key=lambda n: ("[" in n, "." in n))
        has = (f"its {plural(len(names), 'column')} {'is' if len(names) == 1 else 'are'} "
               f"{_listed([repr(n) for n in shown])}" if names else "it has no columns that describe analyses")
        raise InputDataError(
            f"{field}.column is {where.column!r}, but {label} has no such column{guess}; {has}.",
            hint=_where_hint(read.format),
        )
    shown_column = repr(where.column) if column == where.column else f"{where.column!r} ({column!r})"
    varies = columns.varying(column)
    if varies:
        raise InputDataError(
            f"{field}.column {shown_column} of {label} differs within one analysis ({varies}), so it "
            "cannot select analyses.",
            hint="Give every row of one analysis the same value in the column, or select by another column.",
        )
    values = columns.column(column)
    held = [values.get(i) for i in read.ids]
    counts: dict[str, int] = {}
    for text in held:
        if text is not None:
            counts[text] = counts.get(text, 0) + 1
    missing = [v for v in where.values if v not in counts]
    if missing:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        listed = [f"{v!r} ({n})" for v, n in ranked]
        empty = sum(1 for text in held if text is None)
        none = f"; {plural(empty, 'analysis', 'analyses')} {'has' if empty == 1 else 'have'} no value" if empty else ""
        holds = f"holds {_listed(listed)}" if listed else "holds no value"
        raise InputDataError(
            f"{field}.values {_listed(_shown(missing), MAX_LISTED)} "
            f"{'matches' if len(missing) == 1 else 'match'} no analysis in {label}; column "
            f"{shown_column} {holds}{none}.",
            hint="Values are compared as text, exactly (case and spaces count).",
        )
    wanted = set(where.values)
    return [i for i, text in zip(read.ids, held) if text in wanted]


_TABLE_WHERE_HINT = ("Every column of a table but the coordinates (x, y, z, or those input.columns maps) describes "
                     "analyses, including the study, analysis, space and sample size columns: name one as it is "
                     "written in the header, or 'group' for the column input.columns.group maps.")


def _where_hint(fmt: str) -> str:
    return {
        "tsv": _TABLE_WHERE_HINT,
        "xlsx": _TABLE_WHERE_HINT,
        "parquet": "The columns of the studyset's annotations.parquet and metadata.parquet describe analyses.",
        "nimads": "The keys of an analysis's (or its study's) 'metadata' with a text, number or true/false "
                  "value describe analyses.",
        "nimare-json": "The keys of a contrast's (or its study's) 'metadata' with a text, number or "
                       "true/false value describe analyses.",
    }.get(fmt, "Name a column of the input.")


def sha256_path(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files (sorted names and their digests), hashed
    through the bounded opener: :class:`ale_app.files.RefusedFile` for a pipe, a device or a
    file above the input limit (a folder's other entries than regular files are skipped)."""
    if not path.is_dir():
        return sha256_regular(path, INPUT_LIMIT)
    digest = hashlib.sha256()
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{child.relative_to(path).as_posix()}\0{sha256_regular(child, INPUT_LIMIT)}\n".encode())
    return digest.hexdigest()


def _input_digest(path: Path) -> str:
    from ale_app.inputs.readers.base import refused_input

    try:
        return sha256_path(path)
    except RefusedFile as exc:  # replaced by a pipe or a device since it was read
        raise refused_input(path, exc) from None


def _raw_studyset(read, label: str):
    from nimare.studyset import Studyset

    if read.format == "parquet":
        return read.source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Studyset(read.source, target=None)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputDataError(
            f"NiMARE could not read {label} as a {read.format} studyset: {exc}",
            hint="Check the file against its format (NIMADS or NiMARE JSON).",
        ) from None


@contextmanager
def _quiet(logger: logging.Logger):
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


def load_evidence(input_spec: InputSpec, spec_dir: Path, ale_spec: ALESpec, field: str = "input",
                  file_field: str | None = None) -> Evidence:
    """Read, select and check the input studyset.

    Every format is read by :func:`ale_app.inputs.readers.read_input` into the same studyset; then
    the selection and the checks of :mod:`ale_app.inputs.checks` run before any computation.
    The problems of the input are collected, not raised one by one: one
    :class:`~ale_app.errors.InputDataError` lists them all (at most
    :data:`~ale_app.inputs.checks.MAX_PROBLEMS`).

    Parameters
    ----------
    input_spec : InputSpec
        The spec's ``input`` section.
    spec_dir : Path
        Folder that a relative ``input.path`` is resolved against.
    ale_spec : ALESpec
        The spec's ``ale`` section (to know whether sample sizes are needed).
    field : str, default="input"
        The spec field this input is, for messages about its selection: ``input`` in a
        version-1 spec, ``groups.<name>`` for a group of a version-2 spec (whose
        ``select`` is the group's).
    file_field : str or None, default=None
        The spec field that names the file and its ``format``, ``columns`` and ``sheet``,
        when not ``field`` (a version-2 group that selects from the shared ``input``).

    Returns
    -------
    Evidence
    """
    from ale_app.inputs import checks as C

    path = [resolve_input_path(p, spec_dir) for p in input_paths(input_spec.path)]
    problems = C.Problems(path_label(input_spec.path))
    try:
        return _load_checked(input_spec, spec_dir, ale_spec, path, problems, field, file_field or field)
    except InputDataError as exc:
        if getattr(exc, "collected", False) or not len(problems):
            raise
        problems.add(exc.message, exc.hint or "")
        raise problems.error() from None


def _load_checked(input_spec, spec_dir, ale_spec, path, problems, field="input", file_field="input") -> Evidence:
    from ale_app.inputs import checks as C
    from ale_app.inputs.readers import read_input
    from ale_app.inputs.readers.base import normalize_space

    label = path_label(input_spec.path)
    mapping = None if input_spec.columns is None else input_spec.columns.model_dump()
    names = input_paths(input_spec.path)
    if isinstance(input_spec.path, str):
        read = read_input(path[0], input_spec.format, columns=mapping, sheet=input_spec.sheet, field=file_field)
        reads = [read]
    else:
        from ale_app.inputs.readers.combine import read_files

        read, reads = read_files(path, names, input_spec.format, columns=mapping, sheet=input_spec.sheet,
                                 field=file_field)
    LGR.info("Read %s as %s: %d analyses", label, read.format, len(read.ids))
    notes = []
    if read.sheet_note:
        notes.append(f"read {read.sheet_note}")
        LGR.info("Read %s", read.sheet_note)
    ignored = _ignored_columns(read, input_spec)
    likely = _likely_roles(ignored, read, file_field)
    if ignored:
        notes.append(_ignored_note(ignored, label, file_field))
        LGR.log(logging.WARNING if likely else logging.INFO, "%s",
                notes[-1] + (f"; {_ignored_hint(likely, lead=False)}" if likely else ""))
    for name, one in zip(names, reads):
        if one.encoding not in (None, "utf-8"):
            LGR.warning("%s is not UTF-8; read as %s", name, one.encoding)
    problems.extend(read.problems, read.stopped)
    if read.structural:
        problems.raise_if_any()

    entries = read.entries or [(i, None, None, read.where.get(i, "")) for i in read.ids]
    bad_ids = C.check_ids(entries, problems, read.contents if read.entries else None)
    if bad_ids and read.format not in ("sleuth", "tsv"):
        problems.raise_if_any()  # NiMARE cannot build a studyset with colliding ids
    ids = _select_ids(read, input_spec, label, field)
    if len(ids) < 2:
        if len(problems):
            problems.raise_if_any()
        raise InputDataError(
            f"The selection from {label} has {plural(len(ids), 'experiment')}; ALE needs at least 2.",
            hint=f"Add experiments to the input, or select more with {field}.select.",
        )
    # Everything above needs no heavy library; from here on, NiMARE builds the studyset.
    import numpy as np
    import pandas as pd

    raw = _raw_studyset(read, label).slice(ids)
    # NiMARE logs foci it cannot convert; ale-app counts them in its own warning below.
    layout_log = logging.getLogger("nimare.studyset.layout")
    with warnings.catch_warnings(), _quiet(layout_log):
        warnings.simplefilter("ignore")
        studyset = raw.with_context(space=ale_spec.template)
        raw_coords = raw.coordinates
        coords = studyset.coordinates

    coords = coords.rename(columns={"id": "analysis_id"})
    coords = coords.assign(raw_space=raw_coords["space"].astype(str).to_numpy())
    coords = coords[["analysis_id", "study_id", "x", "y", "z", "space", "raw_space"]].astype(
        {"analysis_id": object, "study_id": object, "space": object}
    )
    # File order of analyses, then the order NiMARE keeps foci in within one analysis.
    order = {aid: i for i, aid in enumerate(ids)}
    coords = coords.assign(_o=coords["analysis_id"].map(order)).sort_values("_o", kind="stable")
    coords = coords.drop(columns="_o").reset_index(drop=True)
    focus_lines = _focus_lines_of(coords, read.focus_lines)

    C.check_foci_present(ids, coords, read.where, problems, label, skip=read.broken, select=input_spec.select,
                         field=field)
    finite = C.check_finite(coords, read.where, problems, label)

    from ale_app.inputs import studies as S

    input_study = dict(zip(coords["analysis_id"], coords["study_id"]))
    grouping = S.group_studies(ids, input_study, input_spec.study_rule)
    _check_prefixed_spaces(grouping, coords, read.where, problems)
    analysis_names = {aid: analysis for aid, _study, analysis, _where in reversed(read.entries)
                      if analysis is not None}

    spaces = C.classify_spaces(coords["raw_space"])
    kinds = {s: normalize_space(s) for s in spaces}
    unconverted = {s: n for s, n in spaces.items() if kinds[s] is None}
    converted = coords.loc[coords["raw_space"].map(kinds) == "TAL"]
    conversions = _conversions(converted, names if len(reads) > 1 else None, reads)
    coords = coords.drop(columns="raw_space")

    from nimare.utils import get_template

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        template = get_template(ale_spec.template, mask="brain")
    keep = input_spec.outside_field_of_view == "keep"
    outside_fov, outside_mask, fov_warnings = C.check_field_of_view(
        coords.loc[finite], template, label, problems, keep_outside=keep, focus_lines=focus_lines)

    sizes = pd.Series(studyset.sample_sizes(), index=[str(i) for i in studyset.ids], dtype=float)
    sample_sizes = {i: (None if np.isnan(sizes[i]) else float(sizes[i])) for i in ids}
    needed = ale_spec.sample_size is None and ale_spec.kernel_fwhm is None
    C.check_sample_sizes(sample_sizes, needed, read.where, problems, label, skip=read.broken)
    try:
        problems.raise_if_any()
    except InputDataError as exc:
        if likely and "sample_size" in likely[0] and "no sample size" in exc.message:
            # The column that probably holds the missing sample sizes was ignored: say how to map it.
            exc.hint = (exc.hint + "\n      " if exc.hint else "") + _ignored_hint(likely)
        raise

    study_of = {} if grouping.is_identity else grouping.study_of
    found_warnings = list(read.notes) + fov_warnings + C.find_warnings(
        ids, coords, outside_mask, unconverted, outside_fov if keep else None,
        study_of=study_of, sample_sizes=sample_sizes, analysis_names=analysis_names
    ) + S.grouping_warnings(grouping, input_study, read.where)
    for text in found_warnings:
        LGR.warning(text)
    files = []
    for name, where, one in zip(names, path, reads):
        entry = {"path": name, "resolved": str(where.resolve()), "sha256": _input_digest(where), "format": one.format}
        if one.encoding is not None:
            entry["encoding"] = one.encoding
        if one.sheet is not None:
            entry["sheet"] = one.sheet
        files.append(entry)
    if isinstance(input_spec.path, str):
        source = files[0]
    else:  # each key a list, one value per file, in the spec's order
        source = {key: [f[key] for f in files] for key in ("path", "resolved", "sha256", "format")}
    if ignored:
        source["ignored_columns"] = ignored
    return Evidence(
        studyset=studyset,
        ids=ids,
        coordinates=coords,
        sample_sizes=sample_sizes,
        source=source,
        warnings=found_warnings,
        spaces=spaces,
        conversions=conversions,
        outside_mask=outside_mask,
        outside_fov=outside_fov,
        study_rule=input_spec.study_rule,
        study_of=study_of,
        read_ids=list(read.ids),
        notes=notes,
        files=files,
    )


def input_paths(path: str | list[str]) -> list[str]:
    """The files of ``input.path`` (one, or the list), as the spec names them."""
    return [path] if isinstance(path, str) else list(path)


def path_label(path: str | list[str]) -> str:
    """``input.path`` in messages: ``'faces.txt'``, or ``'mni.txt' + 'tal.txt'`` for a list."""
    return " + ".join(repr(p) for p in input_paths(path))


def _conversions(converted: pd.DataFrame, names: list[str] | None, reads: list) -> list[dict]:
    """The Talairach-to-MNI conversions applied: one record, or, for a list of files, one per
    file with Talairach foci (``File`` first), the foci and experiments its file holds."""
    def record(foci: pd.DataFrame, name: str | None) -> dict:
        return {**({"File": name} if name is not None else {}),
                "From": "Talairach", "To": "MNI", "Transform": "nimare.utils.tal2mni",
                "Method": "Lancaster et al. (2007) tal2icbm (icbm_other)",
                "Foci": int(len(foci)), "Analyses": list(dict.fromkeys(foci["analysis_id"]))}

    if not len(converted):
        return []
    if names is None:
        return [record(converted, None)]
    file_of: dict[str, str] = {}
    for name, read in zip(names, reads):
        for aid in read.ids:
            file_of.setdefault(aid, name)
    owner = converted["analysis_id"].map(file_of)
    return [record(converted.loc[owner == name], name) for name in names if (owner == name).any()]


def _check_prefixed_spaces(grouping, coords: pd.DataFrame, where: dict, problems) -> None:
    """A study id prefixed 'Reference=Talairach' whose foci are recorded in another space (or
    the other way round): NiMARE's Sleuth reader kept the file's first space for the pasted
    experiments, so their foci may be in the wrong space; that is a problem, not a warning."""
    from ale_app.inputs.checks import name_list
    from ale_app.inputs.readers.base import normalize_space

    wrong = {}
    for aid, (label, _study) in grouping.prefixed.items():
        said = normalize_space(label)
        recorded = {normalize_space(s) or s for s in coords.loc[coords["analysis_id"] == aid, "raw_space"]}
        if said is not None and recorded - {said}:
            wrong[aid] = (label, sorted(map(str, recorded - {said})))
    if wrong:
        first = next(iter(wrong.values()))
        problems.add(
            f"{plural(len(wrong), 'experiment')} {'has' if len(wrong) == 1 else 'have'} a study id that says "
            f"'Reference={first[0]}' but foci recorded in {', '.join(first[1])}: {name_list(wrong, where)}; "
            "the reference line was read into the name, not into the space, so these foci may be in the "
            "wrong space.",
            "Re-read the original Sleuth files one by one (or give each experiment's foci the space its "
            "file declares), and remove the 'Reference=...' prefix from the study ids.")


def _ignored_columns(read, input_spec: InputSpec) -> list[str]:
    """A table's columns that nothing reads: not a role, not the group column, not the
    column ``select.where`` selects by."""
    if read.table_columns is None:
        return []
    used = set()
    if read.columns is not None:
        used.update(read.columns.aliases.values())
        where = getattr(input_spec.select, "where", None)
        if where is not None:
            used.add(read.columns.resolve(where.column) or where.column)
    return [c for c in read.table_columns if c not in used]


def _ignored_note(ignored: list[str], label: str, field: str) -> str:
    return (f"{plural(len(ignored), 'column')} of {label} {'is' if len(ignored) == 1 else 'are'} not read and "
            f"{'was' if len(ignored) == 1 else 'were'} ignored: {_listed([repr(c) for c in ignored])} "
            f"({field}.columns maps a column to what ale-app reads; select.where can select by one)")


def _likely_roles(ignored: list[str], read, field: str) -> tuple[dict[str, str], str]:
    """Ignored columns that often hold a role the table has no column for (``'Subjects'``
    for the sample size), as ``({role: header}, field)``; empty when there is none."""
    from ale_app.inputs.readers.table import likely_role

    found: dict[str, str] = {}
    for name in ignored:
        role = likely_role(name)
        if role in ROLE_NOUNS and role not in found and role not in (read.table_roles or ()):
            found[role] = name
    return (found, field) if found else ()


def _ignored_hint(likely: tuple[dict[str, str], str], lead: bool = True) -> str:
    found, field = likely
    pairs = ", ".join(f"{role}: {name}" for role, name in found.items())
    said = (f"The table's {' and '.join(map(repr, found.values()))} {'was' if len(found) == 1 else 'were'} "
            "ignored; ") if lead else ""
    return (f"{said}if {'it holds' if len(found) == 1 else 'they hold'} the "
            f"{' and the '.join(ROLE_NOUNS[r] for r in found)}, map {'it' if len(found) == 1 else 'them'}: "
            f"{field}.columns: {{{pairs}}}.")


ROLE_NOUNS = {"sample_size": "number of subjects", "analysis": "analysis (contrast) names"}


def _focus_lines_of(coords: pd.DataFrame, lines: dict[str, list[int]]) -> dict[int, int]:
    """Row of ``coords`` -> file line, where the reader knows it and NiMARE kept every focus."""
    found: dict[int, int] = {}
    for aid, rows in coords.groupby("analysis_id", sort=False).groups.items():
        known = lines.get(aid)
        if known is not None and len(known) == len(rows):
            found.update(zip(rows, known))
    return found


def _focus_lines(foci: pd.DataFrame, limit: int = 20) -> list[str]:
    lines = [f"  {r.analysis_id}: ({r.x:g}, {r.y:g}, {r.z:g})" for r in foci.head(limit).itertuples()]
    if len(foci) > limit:
        lines.append(f"  ... and {len(foci) - limit} more (all are listed in coordinates.json)")
    return lines


def _first_author(authors: str) -> str:
    """The first of ``authors`` as the input writes it (``;``-separated lists, or one name),
    followed by "et al." when there are more."""
    names = [a.strip() for a in str(authors).split(";") if a.strip()]
    if not names:
        return ""
    return names[0] + (" et al." if len(names) > 1 else "")


def experiment_key(evidence: Evidence) -> pd.DataFrame:
    """Every experiment under the one id the tables and figures name it by, with what the
    input says of it.

    Columns: ``id`` (``<study id>-<analysis id>``, as in every table and figure),
    ``study_id`` (the start of ``id``; the coordinate figure colours by it), and, only
    where the input holds more than the ids, ``authors`` (first author as written),
    ``study`` (the study's name or title), ``analysis`` (the analysis's name) and
    ``published`` (journal and year); then ``subjects`` and ``foci``. File order.
    """
    import pandas as pd

    info: dict[str, dict[str, str]] = {}
    for study in getattr(evidence.studyset, "studies", []) or []:
        published = " ".join(str(v) for v in (study.publication, study.year) if v not in (None, ""))
        for analysis in study.analyses:
            info[f"{study.id}-{analysis.id}"] = {
                "authors": _first_author(study.authors) if study.authors else "",
                "study": "" if study.name in (None, "", study.id) else str(study.name),
                "analysis": "" if analysis.name in (None, "", analysis.id) else str(analysis.name),
                "published": published,
            }
    foci = evidence.coordinates.groupby("analysis_id", sort=False).size()
    by_study = evidence.coordinates_by_study()
    study_of = dict(zip(by_study["analysis_id"], by_study["study_id"]))
    rows = []
    for aid in evidence.ids:
        row = {"id": aid, "study_id": study_of.get(aid, "")}
        row.update(info.get(aid, {}))
        size = evidence.sample_sizes.get(aid)
        row["subjects"] = "" if size is None else f"{size:g}"
        row["foci"] = int(foci.get(aid, 0))
        rows.append(row)
    key = pd.DataFrame(rows)
    optional = ["authors", "study", "analysis", "published"]
    for column in optional:
        if column not in key.columns:
            key[column] = ""
    key = key.fillna("")
    keep = [c for c in optional if (key[c] != "").any()]
    return key[["id", "study_id", *keep, "subjects", "foci"]]


def subjects_text(evidence: Evidence) -> str | None:
    """The sum of the sample sizes, and how many experiments have none; None when none has one."""
    sizes = [n for n in evidence.sample_sizes.values() if n is not None]
    if not sizes:
        return None
    unknown = len(evidence.sample_sizes) - len(sizes)
    return f"{sum(sizes):g}" + (f" ({plural(unknown, 'experiment')} without a sample size)" if unknown else "")


def spaces_text(evidence: Evidence) -> str:
    """Foci per space as recorded in the input."""
    return ", ".join(f"{k} {plural(v, 'focus', 'foci')}" for k, v in evidence.spaces.items()) or "n/a"


def conversion_text(conversion: dict) -> str:
    """One recorded space conversion in words."""
    c = conversion
    of = f" of {c['File']}" if "File" in c else ""
    return (f"{plural(c['Foci'], 'focus', 'foci')} in {plural(len(c['Analyses']), 'experiment')}{of} {c['From']} -> "
            f"{c['To']} with {c['Transform']} ({c['Method']})")


def input_text(evidence: Evidence) -> str:
    """The input file(s) and format(s) in words: ``faces.txt (sleuth)``."""
    return ", ".join(f"{f['path']} ({f['format']})" for f in evidence.input_files)


#: ``--validate-only`` lists every id read up to this many; beyond, the first IDS_SHOWN.
MAX_IDS_LISTED = 60
IDS_SHOWN = 30


def summary_lines(evidence: Evidence, field: str = "input") -> list[str]:
    """The ``--validate-only`` summary: notes on the reading, experiments, foci, subjects,
    spaces, conversions, foci outside the mask, warnings (the report's evidence section says
    the same), then the ids read, in file order, marking those the selection leaves out (all
    of them up to :data:`MAX_IDS_LISTED`, else the first :data:`IDS_SHOWN` and a count)."""
    lines = [
        *(f"input: {f['path']} (format {f['format']}, sha256 {f['sha256']})" for f in evidence.input_files),
        *(f"note: {n}" for n in evidence.notes),
        f"experiments: {len(evidence.ids)}; studies: {len(evidence.study_ids)}; "
        f"foci: {len(evidence.coordinates)}",
        f"studies by: {evidence.study_rule} ({RULE_WORDS[evidence.study_rule]})",
        f"subjects: {subjects_text(evidence) or 'unknown (no sample sizes)'}",
        f"spaces: {spaces_text(evidence)}",
    ]
    if evidence.conversions:
        lines += [f"conversion: {conversion_text(c)}" for c in evidence.conversions]
    else:
        lines.append("conversions: none")
    if len(evidence.outside_fov):
        lines.append(f"foci outside the field of view (kept): {len(evidence.outside_fov)}")
        lines += _focus_lines(evidence.outside_fov)
    lines.append(f"foci outside the brain mask (kept): {len(evidence.outside_mask)}")
    lines += _focus_lines(evidence.outside_mask)
    lines.append(f"warnings: {len(evidence.warnings)}")
    lines += [f"  - {w}" for w in evidence.warnings]
    return lines + id_lines(evidence, field)


def id_lines(evidence: Evidence, field: str = "input") -> list[str]:
    """The ids read, in file order; ``x`` marks those ``select`` leaves out."""
    read = evidence.read_ids or evidence.ids
    kept = set(evidence.ids)
    left_out = len(read) - len(evidence.ids)
    how = "all selected" if not left_out else (
        f"{len(evidence.ids)} selected; x marks the {left_out} {field}.select leaves out")
    lines = [f"ids read: {len(read)} in file order ({how}):"]
    shown = read if len(read) <= MAX_IDS_LISTED else read[:IDS_SHOWN]
    lines += [f"  {'x' if left_out and i not in kept else ' '} {i}" if left_out else f"  {i}" for i in shown]
    if len(shown) < len(read):
        rest = read[len(shown):]
        out = sum(1 for i in rest if i not in kept)
        lines.append(f"  ... and {len(rest)} more" + (f" ({out} of them left out)" if left_out else "")
                     + f"; the last is {rest[-1]}")
    return lines
