"""Read an input studyset into one :class:`Evidence` object and check it.

One entry point, :func:`load_evidence`, reads every supported format (see
:mod:`ale_app.inputs.readers`) into a NiMARE studyset in the target space, applies
``input.select`` in file order (:mod:`ale_app.inputs.selection`; a version-2 group's ``select``
may also keep analyses by the value of a column, ``where``), and runs the checks of
:mod:`ale_app.inputs.checks` before any computation, one named step after another. New formats
join as a reader in :mod:`ale_app.inputs.readers` that returns a NIMADS dictionary and the
analysis ids in file order. Where the input files are: :mod:`ale_app.inputs.paths`; the
evidence in words: :mod:`ale_app.inputs.evidence_summary`.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ale_app.errors import InputDataError
from ale_app.inputs.ignored_columns import ignored_columns, ignored_hint, ignored_note, likely_roles
from ale_app.inputs.paths import input_digest, input_paths, path_label, resolve_input_path
from ale_app.inputs.readers.base import plural
from ale_app.inputs.reading import read_files_once
from ale_app.inputs.selection import select_ids
from ale_app.spec.models import ALESpec, InputSpec

if TYPE_CHECKING:
    import pandas as pd

LGR = logging.getLogger(__name__)


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
    """The steps of :func:`load_evidence`, in order; each adds what it finds to ``problems``,
    which are raised together where a later step could not run without them fixed."""
    from ale_app.inputs import checks as C

    label = path_label(input_spec.path)
    names = input_paths(input_spec.path)
    read, reads = read_files_once(input_spec, path, names, file_field)
    LGR.info("Read %s as %s: %d analyses", label, read.format, len(read.ids))
    notes, ignored, likely = _note_reading(read, reads, names, input_spec, label, file_field)
    problems.extend(read.problems, read.stopped)
    if read.structural:
        problems.raise_if_any()
    ids = _select_checked(read, input_spec, problems, label, field)

    # Everything above needs no heavy library; from here on, NiMARE builds the studyset.
    studyset, coords = _build_studyset(read, ids, ale_spec.template, label)
    focus_lines = _focus_lines_of(coords, read.focus_lines)
    C.check_foci_present(ids, coords, read.where, problems, label, skip=read.broken, select=input_spec.select,
                         field=field)
    finite = C.check_finite(coords, read.where, problems, label)
    grouping, input_study = _group_studies(ids, coords, read, input_spec.study_rule, problems)
    coords, spaces, unconverted, conversions = _convert_spaces(coords, names, reads)
    keep = input_spec.outside_field_of_view == "keep"
    outside_fov, outside_mask, fov_warnings = _check_field_of_view(
        coords.loc[finite], ale_spec.template, label, problems, keep, focus_lines)
    sample_sizes = _sample_sizes(studyset, ids, ale_spec, read, problems, label)
    _raise_collected(problems, likely)

    study_of = {} if grouping.is_identity else grouping.study_of
    found_warnings = _find_warnings(read, fov_warnings, ids, coords, outside_mask, unconverted,
                                    outside_fov if keep else None, study_of, sample_sizes, grouping, input_study)
    for text in found_warnings:
        LGR.warning(text)
    files, source = _file_records(names, path, reads, input_spec, ignored)
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


def _note_reading(read, reads: list, names: list[str], input_spec: InputSpec, label: str,
                  file_field: str) -> tuple[list[str], list[str], tuple]:
    """``(notes, ignored, likely)``: what the reading did that is worth saying (the sheet read,
    the columns ignored), the ignored columns, and the roles they likely hold; each logged, with
    the files that are not UTF-8."""
    notes = []
    if read.sheet_note:
        notes.append(f"read {read.sheet_note}")
        LGR.info("Read %s", read.sheet_note)
    for note in read.reading_notes:
        notes.append(note)
        LGR.info("%s", note[:1].upper() + note[1:])
    ignored = ignored_columns(read, input_spec)
    likely = likely_roles(ignored, read, file_field)
    if ignored:
        notes.append(ignored_note(ignored, label, file_field))
        LGR.log(logging.WARNING if likely else logging.INFO, "%s",
                notes[-1] + (f"; {ignored_hint(likely, lead=False)}" if likely else ""))
    for name, one in zip(names, reads):
        if one.encoding not in (None, "utf-8"):
            LGR.warning("%s is not UTF-8; read as %s", name, one.encoding)
    return notes, ignored, likely


def _select_checked(read, input_spec: InputSpec, problems, label: str, field: str) -> list[str]:
    """The selected ids, after the checks of the ids read (stopping where NiMARE could not build
    a studyset); at least 2."""
    from ale_app.inputs import checks as C

    entries = read.entries or [(i, None, None, read.where.get(i, "")) for i in read.ids]
    bad_ids = C.check_ids(entries, problems, read.contents if read.entries else None)
    if bad_ids and read.format not in ("sleuth", "tsv"):
        problems.raise_if_any()  # NiMARE cannot build a studyset with colliding ids
    ids = select_ids(read, input_spec, label, field)
    if len(ids) < 2:
        if len(problems):
            problems.raise_if_any()
        raise InputDataError(
            f"The selection from {label} has {plural(len(ids), 'experiment')}; ALE needs at least 2.",
            hint=f"Add experiments to the input, or select more with {field}.select.",
        )
    return ids


def _build_studyset(read, ids: list[str], template: str, label: str) -> tuple[Any, pd.DataFrame]:
    """``(studyset, coords)``: NiMARE's studyset of the selected analyses in the ``template``
    space, and its foci (``analysis_id, study_id, x, y, z, space, raw_space``, the last the
    space the input recorded), analyses in file order, foci in the order NiMARE keeps them."""
    raw = _raw_studyset(read, label).slice(ids)
    # NiMARE logs foci it cannot convert; ale-app counts them in its own warning below.
    layout_log = logging.getLogger("nimare.studyset.layout")
    with warnings.catch_warnings(), _quiet(layout_log):
        warnings.simplefilter("ignore")
        studyset = raw.with_context(space=template)
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
    return studyset, coords.drop(columns="_o").reset_index(drop=True)


def _group_studies(ids: list[str], coords: pd.DataFrame, read, study_rule: str, problems) -> tuple:
    """``(grouping, input_study)``: the studies under ``study_rule``, and each analysis's study
    as the input gives it; a prefixed study id whose foci are in another space is a problem."""
    from ale_app.inputs import studies as S

    input_study = dict(zip(coords["analysis_id"], coords["study_id"]))
    grouping = S.group_studies(ids, input_study, study_rule)
    _check_prefixed_spaces(grouping, coords, read.where, problems)
    return grouping, input_study


def _convert_spaces(coords: pd.DataFrame, names: list[str], reads: list) -> tuple:
    """``(coords, spaces, unconverted, conversions)``: the foci without ``raw_space``, the foci
    per recorded space, those of spaces NiMARE does not know, and the Talairach-to-MNI
    conversions applied."""
    from ale_app.inputs import checks as C
    from ale_app.inputs.readers.base import normalize_space

    spaces = C.classify_spaces(coords["raw_space"])
    kinds = {s: normalize_space(s) for s in spaces}
    unconverted = {s: n for s, n in spaces.items() if kinds[s] is None}
    converted = coords.loc[coords["raw_space"].map(kinds) == "TAL"]
    conversions = _conversions(converted, names if len(reads) > 1 else None, reads)
    return coords.drop(columns="raw_space"), spaces, unconverted, conversions


def _check_field_of_view(coords: pd.DataFrame, template_name: str, label: str, problems, keep: bool,
                         focus_lines: dict[int, int]) -> tuple:
    """``(outside_fov, outside_mask, warnings)`` of the finite foci ``coords`` against the
    template's box and brain mask (:func:`ale_app.inputs.checks.check_field_of_view`)."""
    from nimare.utils import get_template

    from ale_app.inputs import checks as C

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        template = get_template(template_name, mask="brain")
    return C.check_field_of_view(coords, template, label, problems, keep_outside=keep, focus_lines=focus_lines)


def _sample_sizes(studyset, ids: list[str], ale_spec: ALESpec, read, problems, label: str) -> dict:
    """Analysis id -> its sample size from the data (None where it has none), checked where the
    kernels need them (neither ``ale.sample_size`` nor ``ale.kernel_fwhm`` given)."""
    import numpy as np
    import pandas as pd

    from ale_app.inputs import checks as C

    sizes = pd.Series(studyset.sample_sizes(), index=[str(i) for i in studyset.ids], dtype=float)
    sample_sizes = {i: (None if np.isnan(sizes[i]) else float(sizes[i])) for i in ids}
    needed = ale_spec.sample_size is None and ale_spec.kernel_fwhm is None
    C.check_sample_sizes(sample_sizes, needed, read.where, problems, label, skip=read.broken)
    return sample_sizes


def _raise_collected(problems, likely: tuple) -> None:
    """Raise the problems collected so far, if any; when sample sizes are missing and an ignored
    column probably holds them, the hint says how to map it."""
    try:
        problems.raise_if_any()
    except InputDataError as exc:
        if likely and "sample_size" in likely[0] and "no sample size" in exc.message:
            # The column that probably holds the missing sample sizes was ignored: say how to map it.
            exc.hint = (exc.hint + "\n      " if exc.hint else "") + ignored_hint(likely)
        raise


def _find_warnings(read, fov_warnings: list[str], ids: list[str], coords: pd.DataFrame, outside_mask: pd.DataFrame, unconverted: dict,
                   kept_outside: pd.DataFrame | None, study_of: dict[str, str], sample_sizes: dict,
                   grouping, input_study: dict[str, str]) -> list[str]:
    """What does not stop the analysis: the reader's notes, the foci outside the field of view
    (``fov_warnings``), then the checks' and the study grouping's warnings
    (:func:`ale_app.inputs.checks.find_warnings`)."""
    from ale_app.inputs import checks as C
    from ale_app.inputs import studies as S

    analysis_names = {aid: analysis for aid, _study, analysis, _where in reversed(read.entries)
                      if analysis is not None}
    from ale_app.inputs.readers.jale_workbook import shared_subjects_warning

    shared = shared_subjects_warning(read.shared_subjects, ids)
    return list(read.notes) + ([shared] if shared else []) + fov_warnings + C.find_warnings(
        ids, coords, outside_mask, unconverted, kept_outside,
        study_of=study_of, sample_sizes=sample_sizes, analysis_names=analysis_names
    ) + S.grouping_warnings(grouping, input_study, read.where)


def _file_records(names: list[str], path: list[Path], reads: list, input_spec: InputSpec,
                  ignored: list[str]) -> tuple[list[dict], dict]:
    """``(files, source)``: one record per input file (path, resolved, sha256, format, and
    encoding and sheet where known), and :attr:`Evidence.source` (the one record, or each key a
    list over the files, with the ignored columns)."""
    files = []
    for name, where, one in zip(names, path, reads):
        entry = {"path": name, "resolved": str(where.resolve()), "sha256": input_digest(where), "format": one.format}
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
    return files, source


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


def _focus_lines_of(coords: pd.DataFrame, lines: dict[str, list[int]]) -> dict[int, int]:
    """Row of ``coords`` -> file line, where the reader knows it and NiMARE kept every focus."""
    found: dict[int, int] = {}
    for aid, rows in coords.groupby("analysis_id", sort=False).groups.items():
        known = lines.get(aid)
        if known is not None and len(known) == len(rows):
            found.update(zip(rows, known))
    return found
