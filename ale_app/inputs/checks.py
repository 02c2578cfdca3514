"""Checks on the coordinates read from an input, before any computation.

Every problem is collected in a :class:`Problems` list instead of stopping at the first;
:func:`ale_app.inputs.evidence.load_evidence` raises one :class:`~ale_app.errors.InputDataError`
(exit 65) that lists them all, each with its file line (or study and analysis). The
``find_warnings`` function returns what does not stop the analysis. No IO.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from ale_app.constants import MAX_SAMPLE_SIZE
from ale_app.constants import MIN_EXPERIMENTS_FOR_INFERENCE as MIN_RECOMMENDED_EXPERIMENTS
from ale_app.errors import InputDataError
from ale_app.inputs.readers.base import Problem, plural

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MAX_NAMED = 10
#: At most this many problems are listed in one message.
MAX_PROBLEMS = 50

#: A focus at most this far (mm) outside the template's box is kept with a warning, as
#: NiMARE keeps it. 10 mm is about one ALE kernel FWHM (Eickhoff et al. 2009: 8.8 mm at
#: 50 subjects, 10.0 mm at 10, 11.4 mm at 5): such a focus still puts a sizeable part of
#: its kernel inside the box, and it is what a border coordinate from another template
#: (a larger MNI box, a Talairach atlas page) looks like. Farther out is almost always a
#: typing error, a lost sign or voxel indices, and stops the run.
FOV_MARGIN_MM = 10.0

#: First characters that make a spreadsheet run a cell as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@")


class Problems:
    """The problems of one input, in the order they were found."""

    def __init__(self, label: str):
        self.label = label
        self.items: list[Problem] = []
        self._seen: set[tuple[str, str, str]] = set()
        #: Where the reader stopped reading (``"line 412 of 1638401"``), when it stopped early.
        self.stopped: str | None = None

    def add(self, text: str, hint: str, where: str = "") -> None:
        """Add a problem (``where`` is e.g. ``"line 9"``; empty when ``text`` says it); the
        same problem twice is listed once. A set lookup, so collecting n problems takes time
        in proportion to n."""
        key = (where, text, hint)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(Problem(where, text, hint))

    def extend(self, problems, stopped: str | None = None) -> None:
        """Add problems found by a reader (``stopped``: where it stopped reading early)."""
        for p in problems:
            self.add(p.text, p.hint, p.where)
        self.stopped = stopped or self.stopped

    def __len__(self) -> int:
        return len(self.items)

    def error(self) -> InputDataError:
        """One error for all problems: the problem itself when there is one, else a list."""
        if len(self.items) == 1:
            p = self.items[0]
            stopped = (f" Reading stopped at {self.stopped}: the rest of the file was not checked."
                       if self.stopped else "")
            return self._mark(InputDataError((f"{self.label}, {p.where}: {p.text}" if p.where else p.text)
                                             + stopped, hint=p.hint))
        shown = self.items[:MAX_PROBLEMS]
        lines = [f"{len(self.items)} problems in {self.label}:"]
        lines += [f"  {i}. " + (f"{p.where}: {p.text}" if p.where else p.text) for i, p in enumerate(shown, 1)]
        if len(self.items) > MAX_PROBLEMS:
            lines.append(f"  ... and {len(self.items) - MAX_PROBLEMS} more, not listed; fix these "
                         "and run the check again.")
        if self.stopped:
            lines.append(f"  Reading stopped at {self.stopped} after {len(self.items)} problems: the rest of "
                         "the file was not checked.")
        hints = list(dict.fromkeys(p.hint for p in shown if p.hint))
        return self._mark(InputDataError("\n".join(lines), hint="\n      ".join(hints)))

    @staticmethod
    def _mark(error: InputDataError) -> InputDataError:
        error.collected = True  # already lists every problem found
        return error

    def raise_if_any(self) -> None:
        """Raise the one error when there is any problem."""
        if self.items:
            raise self.error()


def name_list(ids, where: dict[str, str] | None = None, limit: int = MAX_NAMED) -> str:
    """``'a' (line 3), 'b' (line 9)``, shortened to ``limit`` names with a count of the rest."""
    ids = list(ids)
    where = where or {}
    shown = [f"{i!r}" + (f" ({where[i]})" if i in where and not where[i].endswith(repr(i)) else "")
             for i in ids[:limit]]
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(shown) + more


#: Bidirectional controls: they reorder the text around them on screen (a name could show
#: as another), in the TSV outputs, the report and a terminal alike.
BIDI_CONTROLS = frozenset("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _control_characters(text: str) -> list[str]:
    return [unicodedata.name(c, f"U+{ord(c):04X}").lower() + (f" U+{ord(c):04X}" if c in BIDI_CONTROLS else "")
            if c not in "\t\n\r" else {"\t": "tab", "\n": "newline", "\r": "carriage return"}[c]
            for c in dict.fromkeys(text) if unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in BIDI_CONTROLS]


def same_name(text: str | None) -> str | None:
    """``text`` as names are compared: in Unicode's composed form (NFC), so that ``Müller``
    typed with one character or with ``u`` and a combining diaeresis (NFD, as macOS file
    names and some PDFs give it) is one name."""
    return None if text is None else unicodedata.normalize("NFC", text)


def check_ids(entries: list[tuple[str, str | None, str | None, str]], problems: Problems,
              contents: list | None = None) -> set[str]:
    """Duplicate experiments, colliding composite ids, and ids that would break a table.

    ``entries`` holds every experiment as found: ``(id, study, analysis, where)``;
    ``contents``, where the reader knows them, each one's ``(sample size, sorted foci)``,
    which tells an experiment entered twice (same subjects and foci: delete one) from two
    experiments that share a name (rename one). Returns the ids with a problem.
    """
    bad: set[str] = set()
    first: dict[str | None, tuple[str | None, str | None, str, str]] = {}
    content_of: dict[str | None, tuple | None] = {}
    contents = list(contents or [])
    contents += [None] * (len(entries) - len(contents))
    for (aid, study, analysis, where), content in zip(entries, contents):
        parts = [("study", study), ("analysis", analysis)] if study is not None else [("id", aid)]
        for what, value in parts:
            name = value or ""
            controls = _control_characters(name)
            if controls:
                bad.add(aid)
                problems.add(f"the {what} name {name[:200]!r} of experiment {aid[:200]!r} contains a control "
                             f"character ({', '.join(controls)}).",
                             "Names may not contain tabs, line breaks, bidirectional controls (which show "
                             "text in another order than it is stored) or other control characters, which "
                             "break the TSV outputs and the report; retype the name.", where)
            elif value and value.startswith(FORMULA_STARTS):
                bad.add(aid)
                problems.add(f"the {what} name {value!r} of experiment {aid!r} starts with "
                             f"{value[0]!r}, which a spreadsheet runs as a formula.",
                             "Names may not start with =, +, - or @ (a spreadsheet opening the TSV "
                             "outputs would run them); rename it, e.g. without the leading sign.", where)
        key = same_name(aid)
        if key in first:
            bad.add(aid)
            other_study, other_analysis, other_where, other_aid = first[key]
            spelled = "" if other_aid == aid else (
                ", spelled with different Unicode characters for the same letters (an accent typed as one "
                "character in one name and as a letter and a combining accent in the other)")
            if spelled:
                bad.add(other_aid)
            same = (same_name(other_study), same_name(other_analysis)) == (same_name(study), same_name(analysis))
            if same and content is not None and content == content_of.get(key) and content[1]:
                problems.add(f"experiment {other_aid!r} is entered twice ({_both(other_where, where)}){spelled}: same "
                             f"name, same subjects ({_subjects(content[0])}) and the same "
                             f"{plural(len(content[1]), 'focus', 'foci')}; NiMARE would silently keep "
                             "one of them.",
                             "Same subjects and foci: likely entered twice; delete one of the two "
                             "(merging them would count every focus twice).")
            elif same:
                differ = " but differ in subjects or foci" if content is not None else ""
                problems.add(f"two experiments are both named {other_aid!r} ({_both(other_where, where)})"
                             f"{spelled}{differ}; "
                             "NiMARE would silently keep only one of them.",
                             "Give every experiment its own name (Sleuth: '// Study 2010: contrast'), e.g. "
                             "the contrast or the subject group that tells them apart; merge them only "
                             "if they are the same subjects' contrast split in two.")
            else:
                problems.add(f"study {other_study!r} analysis {other_analysis!r} ({other_where}) and "
                             f"study {study!r} analysis {analysis!r} ({where}) both give the "
                             f"experiment id {aid!r}{spelled}, and would be merged.",
                             "Ids are '<study>-<analysis>'; rename one study or analysis so the "
                             "two ids differ.")
        else:
            first[key] = (study, analysis, where, aid)
            content_of[key] = content
    return bad


def _analysis_part(aid: str, study: str) -> str:
    """The analysis's part of ``<study>-<analysis>``."""
    return aid[len(study) + 1:] if aid.startswith(f"{study}-") else aid


def _subjects(size) -> str:
    return "unknown" if size is None else f"{size:g}"


def _both(first: str, second: str) -> str:
    """``lines 2 and 12`` or ``study 's1', analysis number 1 and study 's1', analysis number 2``."""
    if first.startswith("line ") and second.startswith("line ") and " of " not in first + second:
        return f"lines {first[5:]} and {second[5:]}"
    return f"{first} and {second}"


def check_foci_present(ids: list[str], coords: pd.DataFrame, where: dict, problems: Problems,
                       label: str, skip: set[str] | frozenset[str] = frozenset(), select=None,
                       field: str = "input") -> None:
    """A selected analysis without foci (not counting analyses whose rows were unreadable);
    the hint gives the ``select`` entry that leaves them out (``select`` is the spec's
    selection, ``field`` the spec field it belongs to)."""
    present = set(coords["analysis_id"])
    empty = [i for i in ids if i not in present and i not in skip]
    if empty:
        problems.add(
            f"{plural(len(empty), 'experiment')} in {label} {'has' if len(empty) == 1 else 'have'} "
            f"no foci: {name_list(empty, where)}.",
            f"Add {'its' if len(empty) == 1 else 'their'} coordinates, or {exclude_fix(empty, select, field)}.")


def exclude_fix(ids: list[str], select, field: str = "input") -> str:
    """The selection that leaves ``ids`` out, in words a user can paste: the ids removed from
    ``select.ids`` when it lists them, else the ``select.exclude`` list with them added (ids
    quoted as YAML and JSON read them, ``<study id>-<analysis id>`` as ale-app names them)."""
    import json

    def quoted(names: list[str]) -> str:
        return "[" + ", ".join(json.dumps(n, ensure_ascii=False) for n in names) + "]"

    if select is not None and select.ids is not None:
        gone = set(ids)
        return (f"remove {'it' if len(ids) == 1 else 'them'} from {field}.select.ids: "
                f"ids: {quoted([i for i in select.ids if i not in gone])}")
    listed = list(select.exclude) if select is not None and select.exclude is not None else []
    return (f"leave {'it' if len(ids) == 1 else 'them'} out with {field}.select.exclude: "
            f"exclude: {quoted(listed + [i for i in ids if i not in listed])}")


def check_finite(coords: pd.DataFrame, where: dict, problems: Problems, label: str) -> pd.Series:
    """A focus with a missing or non-finite coordinate; returns the mask of good foci."""
    import numpy as np
    import pandas as pd

    xyz = np.column_stack([pd.to_numeric(coords[a], errors="coerce") for a in "xyz"]).astype(float)
    good = np.isfinite(xyz).all(axis=1) if len(xyz) else np.ones(0, dtype=bool)
    if not good.all():
        names = list(dict.fromkeys(coords.loc[~good, "analysis_id"]))
        problems.add(f"missing or non-finite coordinates in {label}: {name_list(names, where)}.",
                     "Every focus needs numeric x, y and z in mm.")
    return pd.Series(good, index=coords.index)


def classify_spaces(raw_spaces: pd.Series) -> dict[str, int]:
    """Count the foci per recorded space label."""
    return {str(k): int(v) for k, v in raw_spaces.astype(str).value_counts(sort=False).items()}


def template_box(template) -> np.ndarray:
    """The template's box in mm: per axis (low, high) at the outer edges of its voxels."""
    import numpy as np

    shape = np.array(template.shape[:3])
    corners = np.array([[i, j, k] for i in (-0.5, shape[0] - 0.5) for j in (-0.5, shape[1] - 0.5)
                        for k in (-0.5, shape[2] - 0.5)])
    mm = corners @ template.affine[:3, :3].T + template.affine[:3, 3]
    return np.c_[mm.min(axis=0), mm.max(axis=0)]


def box_text(box: np.ndarray) -> str:
    """``x -91..91, y -127..91, z -73..109``."""
    return ", ".join(f"{a} {lo:g}..{hi:g}" for a, (lo, hi) in zip("xyz", box))


def _focus_place(row, lines: dict) -> str:
    line = lines.get(row.Index)
    return f"{row.analysis_id!r} ({row.x:g}, {row.y:g}, {row.z:g})" + (f" on line {line}" if line else "")


def check_field_of_view(coords: pd.DataFrame, template, label: str, problems: Problems,
                        keep_outside: bool = False, focus_lines: dict | None = None
                        ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Check foci against the template's box (its voxels' outer edges) and brain mask.

    A focus at most :data:`FOV_MARGIN_MM` outside the box is kept with a warning, as NiMARE
    keeps it, unless its experiment looks like voxel indices (every focus a non-negative
    whole number). Foci farther out, and voxel-like ones, are problems unless
    ``keep_outside``. Returns the foci outside the box (kept), those inside the box but
    outside the brain mask (kept), and warnings. ``focus_lines`` maps a row of ``coords``
    to its file line.
    """
    import numpy as np
    import pandas as pd

    focus_lines = focus_lines or {}
    xyz = coords[["x", "y", "z"]].to_numpy(dtype=float)
    box = template_box(template)
    distance = np.maximum(np.maximum(box[:, 0] - xyz, xyz - box[:, 1]), 0).max(axis=1) if len(xyz) \
        else np.zeros(0)
    inside = distance == 0
    whole = (xyz >= 0).all(axis=1) & (xyz == np.round(xyz)).all(axis=1)
    voxel_like = pd.Series(whole, index=coords.index).groupby(coords["analysis_id"]).transform("all").to_numpy()
    near = ~inside & (distance <= FOV_MARGIN_MM) & ~voxel_like
    far = ~inside & ~near
    columns = ["analysis_id", "study_id", "x", "y", "z"]
    warnings_found = []
    if far.any() and not keep_outside:
        rows = coords.loc[far]
        far_distance, far_voxel = distance[far], voxel_like[far]
        shown = "; ".join(
            _focus_place(r, focus_lines) + f", {d:.3g} mm out" + (", like voxel indices" if v else "")
            for r, d, v in zip(rows.head(MAX_NAMED).itertuples(), far_distance, far_voxel))
        more = f"; and {len(rows) - MAX_NAMED} more" if len(rows) > MAX_NAMED else ""
        problems.add(
            f"{plural(len(rows), 'focus', 'foci')} in {label} {'lies' if len(rows) == 1 else 'lie'} "
            f"outside the template's box ({box_text(box)} mm): {shown}{more}. Foci up to "
            f"{FOV_MARGIN_MM:g} mm out are kept with a warning; "
            f"{'this one is' if len(rows) == 1 else 'these are'} farther out, or in an "
            "experiment whose foci are all non-negative whole numbers, as voxel indices are.",
            "Check for a typing error, swapped or missing signs, or a coordinate in voxels "
            "instead of mm; Talairach foci need '// Reference=Talairach' or space TAL. To keep "
            "such foci as NiMARE does, set input.outside_field_of_view: keep.")
    if near.any():
        rows = coords.loc[near]
        shown = "; ".join(_focus_place(r, focus_lines) for r in rows.head(MAX_NAMED).itertuples())
        more = f"; and {len(rows) - MAX_NAMED} more" if len(rows) > MAX_NAMED else ""
        warnings_found.append(
            f"{plural(len(rows), 'focus', 'foci')} {'lies' if len(rows) == 1 else 'lie'} outside the "
            f"template's box ({box_text(box)} mm) by at most {FOV_MARGIN_MM:g} mm and "
            f"{'is' if len(rows) == 1 else 'are'} kept, as NiMARE keeps such foci: {shown}{more}.")
    kept = ~inside if keep_outside else near
    outside_fov = coords.loc[kept, columns].reset_index(drop=True)
    shape = np.array(template.shape[:3])
    ijk = np.rint(np.c_[xyz, np.ones(len(xyz))] @ np.linalg.inv(template.affine).T)[:, :3].astype(int)
    ijk_in = np.clip(ijk, 0, shape - 1)
    in_mask = np.asarray(template.dataobj)[ijk_in[:, 0], ijk_in[:, 1], ijk_in[:, 2]] > 0
    outside_mask = coords.loc[inside & ~in_mask, columns].reset_index(drop=True)
    return outside_fov, outside_mask, warnings_found


def check_sample_sizes(sample_sizes: dict, needed: bool, where: dict, problems: Problems, label: str,
                       skip: set[str] | frozenset[str] = frozenset()) -> None:
    """Non-positive sample sizes, and missing ones when they are needed (``skip``: analyses
    whose sample size could not be read, already a problem)."""
    nonpositive = [i for i, n in sample_sizes.items() if n is not None and not n > 0]
    if nonpositive:
        problems.add(
            f"{plural(len(nonpositive), 'experiment')} in {label} "
            f"{'has' if len(nonpositive) == 1 else 'have'} a sample size that is not positive: "
            f"{name_list(nonpositive, where)}.",
            "Correct the sample sizes (Sleuth: '// Subjects=N' with N at least 1).")
    huge = [i for i, n in sample_sizes.items() if n is not None and n > MAX_SAMPLE_SIZE]
    if huge:
        shown = ", ".join(f"{i!r} ({where[i] + ', ' if i in where else ''}{sample_sizes[i]:,.0f} subjects)"
                          for i in huge[:MAX_NAMED])
        more = f" and {len(huge) - MAX_NAMED} more" if len(huge) > MAX_NAMED else ""
        problems.add(
            f"{plural(len(huge), 'experiment')} in {label} {'has' if len(huge) == 1 else 'have'} a sample size "
            f"above {MAX_SAMPLE_SIZE:,}, the most ale-app accepts (as for ale.sample_size): {shown}{more}.",
            "Correct the sample sizes (a typing error, or a count of something other than subjects).")
    missing = [i for i, n in sample_sizes.items() if n is None and i not in skip]
    if needed and missing:
        problems.add(
            f"{len(missing)} of {plural(len(sample_sizes), 'experiment')} in {label} "
            f"{'has' if len(missing) == 1 else 'have'} no sample size: {name_list(missing, where)}.",
            "Add sample sizes to the input (Sleuth: '// Subjects=N'), or set ale.sample_size "
            "(one size for all) or ale.kernel_fwhm (one kernel for all) in the spec.")


def find_warnings(ids: list[str], coords: pd.DataFrame, outside_mask: pd.DataFrame,
                  unconverted: dict[str, int], outside_fov: pd.DataFrame | None = None,
                  study_of: dict[str, str] | None = None, sample_sizes: dict | None = None,
                  analysis_names: dict[str, str] | None = None) -> list[str]:
    """Warnings that do not stop the analysis, in words for the log and the record.

    ``study_of`` maps an analysis id to its study where the study rule (or a placeholder or
    prefixed study id) makes it differ from ``coords["study_id"]``; ``sample_sizes`` tells
    experiments entered twice (same subjects and foci) from others with the same foci;
    ``analysis_names`` (analysis id -> the analysis's own name) finds opposite contrasts of
    one study (``A > B`` and ``B > A``), which are not advised to be pooled.
    """
    import numpy as np

    from ale_app.inputs.studies import opposite_pairs

    found = []
    if len(ids) < MIN_RECOMMENDED_EXPERIMENTS:
        found.append(
            f"{plural(len(ids), 'experiment')}: fewer than {MIN_RECOMMENDED_EXPERIMENTS}, the number ALE's "
            "inference needs (about 17-20, Eickhoff et al. 2016); read the results descriptively."
        )
    groups: dict[tuple, list[str]] = {}
    for aid, foci in coords.groupby("analysis_id", sort=False):
        key = tuple(sorted(map(tuple, np.round(foci[["x", "y", "z"]].to_numpy(dtype=float), 6))))
        groups.setdefault(key, []).append(aid)
    doubles = [same for same in groups.values() if len(same) > 1]
    sizes = sample_sizes or {}
    twice = [same for same in doubles if sample_sizes is not None
             and len({sizes.get(i) for i in same}) == 1 and sizes.get(same[0]) is not None]
    doubles = [same for same in doubles if same not in twice]
    if twice:
        shown = "; ".join(" = ".join(repr(i) for i in same) for same in twice[:MAX_NAMED])
        more = f"; and {len(twice) - MAX_NAMED} more" if len(twice) > MAX_NAMED else ""
        found.append(
            f"{plural(len(twice), 'group')} of experiments {'has' if len(twice) == 1 else 'have'} the same "
            f"subjects and foci under different names: {shown}{more}; likely entered twice: delete one "
            "of each (pooling them would count every focus twice)."
        )
    if doubles:
        shown = "; ".join(" = ".join(repr(i) for i in same) for same in doubles[:MAX_NAMED])
        more = f"; and {len(doubles) - MAX_NAMED} more" if len(doubles) > MAX_NAMED else ""
        found.append(
            f"{plural(len(doubles), 'group')} of experiments "
            f"{'has' if len(doubles) == 1 else 'have'} identical coordinate sets, a likely double "
            f"entry: {shown}{more}."
        )
    analyses = coords.drop_duplicates("analysis_id")
    if study_of:
        analyses = analyses.assign(study_id=analyses["analysis_id"].map(study_of))
    per_study = analyses.groupby("study_id", sort=False)["analysis_id"].agg(list)
    names = analysis_names or {}
    opposite: dict[str, list[tuple[str, str]]] = {}
    several: dict[str, int] = {}
    for study, members in per_study.items():
        pairs = opposite_pairs([(a, names.get(a, _analysis_part(a, str(study)))) for a in members])
        if pairs:
            opposite[study] = pairs
        # An opposite pair is one comparison, told once below; it is not advice to pool.
        count = len(members) - len(pairs)
        if count > 1:
            several[study] = count
    if several:
        shown = ", ".join(f"{study!r} ({n})" for study, n in list(several.items())[:MAX_NAMED])
        more = f" and {len(several) - MAX_NAMED} more" if len(several) > MAX_NAMED else ""
        found.append(
            f"{plural(len(several), 'study', 'studies')} "
            f"{'contributes' if len(several) == 1 else 'contribute'} several contrasts: {shown}{more}; contrasts from one "
            "subject group should be pooled into one experiment (Turkeltaub et al. 2012)."
        )
    if opposite:
        shown = "; ".join(f"{study!r}: " + ", ".join(f"{a!r} and {b!r}" for a, b in pairs)
                          for study, pairs in list(opposite.items())[:MAX_NAMED])
        more = f"; and {len(opposite) - MAX_NAMED} more" if len(opposite) > MAX_NAMED else ""
        found.append(
            f"{plural(len(opposite), 'study', 'studies')} {'reports' if len(opposite) == 1 else 'report'} "
            f"opposite contrasts of one comparison (A > B and B > A): {shown}{more}. Do not pool them: "
            "they are opposite contrasts, and an ALE of activations should keep only the direction the "
            "question asks about (remove the other, e.g. with input.select.ids)."
        )
    if len(outside_mask):
        found.append(
            f"{plural(len(outside_mask), 'focus', 'foci')} "
            f"{'lies' if len(outside_mask) == 1 else 'lie'} inside the template's box but outside its "
            f"brain mask (in {name_list(dict.fromkeys(outside_mask['analysis_id']))}); "
            f"{'it is' if len(outside_mask) == 1 else 'they are'} kept and listed in coordinates.json."
        )
    if outside_fov is not None and len(outside_fov):
        found.append(
            f"{plural(len(outside_fov), 'focus', 'foci')} {'lies' if len(outside_fov) == 1 else 'lie'} "
            "outside the template's box (in "
            f"{name_list(dict.fromkeys(outside_fov['analysis_id']))}); input.outside_field_of_view "
            "is 'keep', so they are kept as NiMARE keeps them and listed in coordinates.json."
        )
    for label, count in unconverted.items():
        found.append(
            f"{plural(count, 'focus', 'foci')} {'has' if count == 1 else 'have'} space {label!r}, "
            "which NiMARE cannot convert; used as MNI coordinates without conversion."
        )
    return found
