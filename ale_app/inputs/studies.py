"""Which experiments belong to one study: the rule the user sets (``input.study_rule``),
ids that would group unrelated experiments or split one paper, and opposite contrasts.

The study of each experiment is used where studies are counted or told apart: the
"several contrasts per study" warning (Turkeltaub et al. 2012), the number of studies, the
colours of the coordinate figure and the experiment key. It never changes an experiment's
id, its foci or its weight in ALE. No IO; imports only the standard library.

Rules
-----
``study-id`` (the default)
    The study id the input gives: a table's ``study_id``, a JSON study's id, a Sleuth
    name's part before the first ``:`` or ``;`` after the year (NiMARE's rule).
``author-year``
    The author-year start of that study id, up to and including the year
    (``Kim et al. 2012 faces`` -> ``Kim et al. 2012``), so that repeats of one paper written
    without a colon are one study; an id without a year is its own study, as written.
``each-experiment``
    Every experiment is its own study (nothing is grouped).

Whatever the rule, a placeholder study name (``null, .``, ``None``, ``NA``, ``unknown``, with
or without a year, or an empty name) groups nothing: each of its experiments is its own study; and a
study id that starts with a stray ``Reference=MNI`` (NiMARE's reader puts a repeated
reference line into the next name) is grouped with the id without it. Both are warned
about, naming the ids.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

STUDY_RULES = ("study-id", "author-year", "each-experiment")
DEFAULT_STUDY_RULE = "study-id"

#: What each rule does, for the summary, the report and the methods.
RULE_WORDS = {
    "study-id": "the study id the input gives; in a Sleuth name, the part before the first ':' or ';' after the year",
    "author-year": "the author-year start of the study id (up to and including the year)",
    "each-experiment": "every experiment is its own study",
}

_PLACEHOLDER = re.compile(
    r"^[\W_]*((null|none|nan|n/?a|unknown|anonymous)[\W_]*((19|20)\d{2}[a-z]?)?)?[\W_]*$", re.IGNORECASE)
_PREFIX = re.compile(r"^reference\s*=\s*(mni152|mni|talairach|tal|icbm152|icbm)\b\s*(.*)$", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)(19|20)\d{2}[a-z]?(?![\d])")

#: At most this many ids are named in one warning.
MAX_NAMED = 10


def is_placeholder(study: str) -> bool:
    """Whether a study name names no one: ``null, .``, ``None``, ``NA``, ``unknown`` (with or
    without a year), or nothing but punctuation."""
    return bool(_PLACEHOLDER.match(str(study).strip()))


def reference_prefix(study: str) -> tuple[str, str] | None:
    """``("MNI", "Smith 2010")`` for ``"Reference=MNI Smith 2010"``; None without the prefix."""
    found = _PREFIX.match(str(study).strip())
    if found is None or not found.group(2).strip():
        return None
    return found.group(1), found.group(2).strip()


def author_year(study: str) -> str:
    """The start of ``study`` up to and including its first year (``Kim et al. 2012 faces`` ->
    ``Kim et al. 2012``; ``Kim (2012) faces`` -> ``Kim (2012)``); ``study`` without a year."""
    study = str(study)
    found = _YEAR.search(study)
    if found is None:
        return study
    head = study[:found.end()]
    if head.count("(") > head.count(")") and study[found.end():].lstrip().startswith(")"):
        head += ")"
    return head.strip(" ,;:") or study


@dataclass
class Grouping:
    """The study of every experiment, and what was found on the way.

    Attributes
    ----------
    rule : str
        The rule used (one of :data:`STUDY_RULES`).
    study_of : dict
        Analysis id -> its study, in the order of the ids.
    placeholders : list of str
        Analysis ids whose study name is a placeholder (each is its own study).
    prefixed : dict
        Analysis id -> (space in the prefix, study id without it).
    """

    rule: str
    study_of: dict[str, str]
    placeholders: list[str] = field(default_factory=list)
    prefixed: dict[str, tuple[str, str]] = field(default_factory=dict)
    respelled: list[str] = field(default_factory=list)

    @property
    def is_identity(self) -> bool:
        """Whether every experiment's study is the study id the input gives it."""
        return (self.rule == DEFAULT_STUDY_RULE and not self.placeholders and not self.prefixed
                and not self.respelled)


def group_studies(ids: list[str], input_study: dict[str, str], rule: str = DEFAULT_STUDY_RULE) -> Grouping:
    """The study of each experiment under ``rule`` (see the module's docstring).

    Parameters
    ----------
    ids : list of str
        The experiments (analysis ids), in file order.
    input_study : dict
        Analysis id -> the study id the input gives it.
    rule : str
        One of :data:`STUDY_RULES`.
    """
    if rule not in STUDY_RULES:
        raise ValueError(f"unknown study rule {rule!r}")
    grouping = Grouping(rule=rule, study_of={})
    spelling: dict[str, str] = {}  # a study in Unicode's composed form (NFC) -> its first spelling
    for aid in ids:
        study = str(input_study.get(aid, aid))
        prefix = reference_prefix(study)
        if prefix is not None:
            grouping.prefixed[aid] = prefix
            study = prefix[1]
        if is_placeholder(study):
            grouping.placeholders.append(aid)
            grouping.study_of[aid] = aid
        elif rule == "each-experiment":
            grouping.study_of[aid] = aid
        elif rule == "author-year":
            grouping.study_of[aid] = author_year(study)
        else:
            grouping.study_of[aid] = study
        # One study however its accents are encoded (one character, or a letter and a combining
        # accent): named as its first experiment spells it.
        found = grouping.study_of[aid]
        grouping.study_of[aid] = spelling.setdefault(unicodedata.normalize("NFC", found), found)
        if grouping.study_of[aid] != found:
            grouping.respelled.append(aid)
    return grouping


def grouping_warnings(grouping: Grouping, input_study: dict[str, str], where: dict[str, str]) -> list[str]:
    """Warnings about placeholder and prefixed study ids, naming the ids."""
    found = []
    if grouping.placeholders:
        names = grouping.placeholders
        studies = list(dict.fromkeys(repr(str(input_study.get(a, ""))) for a in names))
        found.append(
            f"{_count(len(names), 'experiment')} {'has' if len(names) == 1 else 'have'} a placeholder "
            f"study name ({', '.join(studies[:MAX_NAMED])}), not an author and year: {_names(names, where)}; "
            "so that unrelated experiments are not taken for one study, each counts as its own study. "
            "Write each one's first author and year into its name (Sleuth: '// Author 2010: contrast').")
    if grouping.prefixed:
        names = list(grouping.prefixed)
        found.append(
            f"{_count(len(names), 'experiment')} {'has' if len(names) == 1 else 'have'} a study id that starts "
            "with a stray 'Reference=' (a repeated '// Reference=' line that NiMARE's Sleuth reader put into the "
            f"next name): {_names(names, where)}; each is counted with the study it names "
            f"({', '.join(repr(s) for s in dict.fromkeys(p[1] for p in grouping.prefixed.values()))}), "
            "so that one paper is not counted as two studies. Remove the prefix from the ids.")
    return found


def _count(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else word + 's'}"


def _names(ids: list[str], where: dict[str, str]) -> str:
    shown = [f"{i!r}" + (f" ({where[i]})" if i in where and where[i].startswith("line") else "")
             for i in ids[:MAX_NAMED]]
    return ", ".join(shown) + (f" and {len(ids) - MAX_NAMED} more" if len(ids) > MAX_NAMED else "")


# --------------------------------------------------------------------- opposite contrasts

_DIRECTION = re.compile(r"\s*(?:>|<|\bvs\.?(?=\s)|\bversus\b|\bminus\b)\s*", re.IGNORECASE)


def contrast_sides(name: str) -> tuple[str, str] | None:
    """``("patients", "controls")`` for ``patients > controls`` (also ``controls < patients``,
    ``patients vs controls``, ``versus``, ``minus``); None for a name that is not one
    comparison of two sides."""
    text = str(name).strip()
    marks = _DIRECTION.findall(text)
    if len(marks) != 1:
        return None
    left, right = (s.strip().lower() for s in _DIRECTION.split(text))
    if not left or not right:
        return None
    return (right, left) if marks[0].strip() == "<" else (left, right)


def opposite_pairs(analyses: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Pairs of analysis ids whose names are opposite contrasts of one comparison
    (``A > B`` and ``B > A``), from ``(analysis id, analysis name)`` of one study."""
    pairs = []
    used: set[str] = set()
    sides = [(aid, contrast_sides(name)) for aid, name in analyses]
    for i, (a, sa) in enumerate(sides):
        if sa is None or a in used:
            continue
        for b, sb in sides[i + 1:]:
            if sb is not None and b not in used and sb == (sa[1], sa[0]):
                pairs.append((a, b))
                used.update((a, b))
                break
    return pairs
