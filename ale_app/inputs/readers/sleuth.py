"""GingerALE's Sleuth text format, as GingerALE writes it and as people edit it.

``// Reference=MNI`` (or ``Talairach``, ``TAL``, ``MNI152``, ...), then experiments: one or
more ``//`` name lines, ``// Subjects=N``, and one focus ``x y z`` per line, separated by
tabs or spaces. Blank lines are ignored, as NiMARE ignores them; ``#`` lines are comments;
CRLF, CR-only and LF-CR line ends, a UTF-8 byte order mark, non-UTF-8 text (read as
Windows-1252 and recorded) and trailing whitespace are accepted. A name line is split into
study and analysis names exactly as NiMARE's ``convert_sleuth_to_dict`` does, so the ids
equal NiMARE's. Talairach foci keep their space here; NiMARE's Studyset converts them to
MNI with ``tal2mni`` (Lancaster et al. 2007).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from ale_app.errors import InputDataError
from ale_app.inputs.readers.base import STOP_AFTER_PROBLEMS, Problem, ReadResult, normalize_space, plural
from ale_app.inputs.readers.experiments import Experiment, result_from_experiments
from ale_app.inputs.readers.input_file import read_text
from ale_app.inputs.readers.numbers import NUMBER_HINT, read_number

_REFERENCE = re.compile(r"^reference\s*=\s*(.*)$", re.IGNORECASE)
_SUBJECTS = re.compile(r"^subjects\s*=\s*(.*)$", re.IGNORECASE)


def split_study_info(study_info: str) -> tuple[str, str]:
    """Split a Sleuth name into (study, analysis) as NiMARE 0.22.1's reader does."""
    study_info = study_info.strip()
    if not study_info:
        return "", "analysis_1"
    year_match = re.search(r"(19|20)\d{2}", study_info)
    if year_match is not None:
        candidates = [i for i in (study_info.find(s, year_match.end()) for s in ";:") if i != -1]
        if candidates:
            cut = min(candidates)
            left, right = study_info[:cut].strip(), study_info[cut + 1 :].strip()
            return left or study_info, right or "analysis_1"
    for sep in (";", ":"):
        if sep in study_info:
            left, _, right = study_info.partition(sep)
            return left.strip() or study_info, right.strip() or "analysis_1"
    return study_info, "analysis_1"


class _Reader:
    """Collects the problems of one Sleuth file while parsing goes on."""

    def __init__(self):
        self.problems: list[Problem] = []
        self.structural = False
        self.stopped: str | None = None

    def add(self, lineno: int, text: str, hint: str, structural: bool = False) -> None:
        self.problems.append(Problem(f"line {lineno}", text, hint))
        self.structural = self.structural or structural


class _Unnamed:
    """Foci that no experiment name line names, told as one cause, not once per focus.

    Foci after an empty name line (``//`` alone) are one problem for the whole file, which
    counts the empty name lines and the foci; foci before any name line are one problem per
    run of them. Each problem is added where its first focus is found and updated as more
    are found.
    """

    def __init__(self, reader: _Reader):
        self.reader = reader
        self.empty: list[int] = []
        self.empty_foci = 0
        self.empty_problem: Problem | None = None
        self.stray: Problem | None = None
        self.stray_first = ("", 0, 0)  # text, count, last line

    def start(self, empty_name_line: int, lineno: int, line: str) -> None:
        """A run of unnamed foci begins on ``lineno``."""
        if empty_name_line:
            self.empty.append(empty_name_line)
            self.stray = None
            if self.empty_problem is None:
                self.empty_problem = Problem("", "", "Write each experiment's name after the '//' (e.g. "
                                             "'// Smith 2010: faces'), one name per experiment, so every "
                                             "experiment keeps its own id; nothing needs deleting.")
                self.reader.problems.append(self.empty_problem)
        else:
            self.stray = Problem(f"line {lineno}", "", "Each experiment starts with a '// Study name: "
                                 "contrast' line and '// Subjects=N', then its foci.")
            self.stray_first = (line, 0, lineno)
            self.reader.problems.append(self.stray)
        self.focus(lineno)

    def focus(self, lineno: int) -> None:
        """One more focus of the current run."""
        if self.stray is not None:
            text, count, _ = self.stray_first
            count += 1
            self.stray_first = (text, count, lineno)
            more = (f" (and {plural(count - 1, 'more focus', 'more foci')}, up to line {lineno})"
                    if count > 1 else "")
            self.stray.text = f"a focus ({text[:80]!r}) before any experiment name line{more}."
            return
        self.empty_foci += 1
        n = len(self.empty)
        shown = ", ".join(str(k) for k in self.empty[:MAX_LINES])
        more = f" and {n - MAX_LINES} more" if n > MAX_LINES else ""
        assert self.empty_problem is not None  # start() made it with the first empty name line
        self.empty_problem.where = f"line{'s' if n > 1 else ''} {shown}{more}"
        self.empty_problem.text = (
            f"{plural(n, 'experiment name line')} {'is' if n == 1 else 'are'} empty ('//' with no "
            f"name), so {plural(self.empty_foci, 'focus', 'foci')} "
            f"{'belongs' if self.empty_foci == 1 else 'belong'} to no named experiment.")

    def end(self) -> None:
        """The run ended (a header line follows)."""
        self.stray = None


#: At most this many line numbers are listed in one problem.
MAX_LINES = 10

#: Reading stops after this many foci without an experiment name (they are one problem, so
#: the problem count alone would not stop a file of random text after a valid first line).
STOP_AFTER_UNNAMED_FOCI = 100_000

_NUMBER_LIKE = re.compile(r"^[-+]?(\d|\.\d)")


def _continues_name(line: str) -> bool:
    """Whether a non-``//`` line reads as the rest of a name (a stray line end broke the
    name line) rather than as a focus: it has a letter, and its first field is not a number
    (``nan`` and ``inf`` are numbers, told as not finite; ``1O`` starts like one)."""
    first = line.split()[0]
    if _NUMBER_LIKE.match(first) or not any(c.isalpha() for c in line):
        return False
    try:
        float(first)
    except ValueError:
        return True
    return False


def _parse_focus(reader: _Reader, lineno: int, line: str) -> tuple[float, float, float] | None:
    tokens = line.split()
    if len(tokens) != 3:
        if "," in line:
            hint = ("Separate x, y and z with tabs or spaces, and use a point as the decimal "
                    "separator (12.5, not 12,5).")
        else:
            hint = "Each focus line holds three numbers, x y z in mm, separated by tabs or spaces."
        reader.add(lineno, f"expected three numbers x y z, found {plural(len(tokens), 'field')}: "
                   f"{line[:80]!r}.", hint)
        return None
    values = []
    for token in tokens:
        try:
            value = read_number(token)
        except ValueError as exc:
            if str(exc):
                reader.add(lineno, f"{token[:40]!r} is not a plain number: {exc} (in {line[:80]!r}).",
                           NUMBER_HINT)
                return None
            hint = ("Use a point as the decimal separator (12.5, not 12,5)." if "," in token
                    else "Coordinates are numbers in mm, e.g. '-42 18 6' or '-41.5 18.0 6.2'.")
            reader.add(lineno, f"{token[:40]!r} is not a number (in {line[:80]!r}).", hint)
            return None
        if not math.isfinite(value):
            reader.add(lineno, f"{token!r} is not a finite number (in {line!r}).",
                       "Coordinates are finite numbers in mm.")
            return None
        values.append(value)
    return values[0], values[1], values[2]


def parse_sleuth(text_lines: list[str], reader: _Reader) -> list[Experiment]:
    """Parse Sleuth lines into experiments, collecting problems in ``reader``.

    As NiMARE does, blank lines are ignored (an experiment ends at the next ``//`` line, not
    at a blank line), several name lines are joined with a space, and ``// Reference=`` is
    read once per file (repeating the same reference, as in concatenated files, is fine).

    Problems are told by their cause, once: a name line broken by a stray line end (the rest
    of the name on a line of its own) is one problem naming both lines, and the experiment
    reads on with the joined name; empty name lines (``//`` alone) are one problem counting
    them and the foci they leave without a name; foci before any name line are one problem
    per run of such lines.
    """
    space: str | None = None
    space_line = 0
    experiments: list[Experiment] = []
    names: list[str] = []
    names_line = 0
    subjects: int | None = None
    subjects_seen = False
    subjects_bad = False
    subjects_line = 0  # the line of the experiment's '// Subjects=' line
    current: Experiment | None = None
    unnamed = _Unnamed(reader)
    unnamed_block = Experiment(study='', analysis='', sample_size=None, space=None, line=0)
    empty_name_line = 0  # an empty '//' name line in the header being read
    last_name_line = 0  # the line number of the last line read, when it was a name line
    previous = 0  # the last line that was not blank or a comment
    unnamed_foci = 0  # foci read that no experiment name line names

    def start_experiment(lineno: int) -> Experiment:
        if space is None and not reader.structural:
            reader.add(lineno, "an experiment starts before any '// Reference=' line.",
                       "Begin the file with '// Reference=MNI' or '// Reference=Talairach'.", structural=True)
        study, analysis = split_study_info(" ".join(names))
        return Experiment(study=study, analysis=analysis, sample_size=subjects, space=space,
                          line=names_line or lineno, broken=subjects_bad)

    for lineno, raw in enumerate(text_lines, start=1):
        if len(reader.problems) >= STOP_AFTER_PROBLEMS:
            reader.stopped = f"line {lineno} of {len(text_lines)}"
            return experiments
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        after, previous = previous, lineno
        was_name = last_name_line == after and after > 0
        last_name_line = 0
        if line.startswith("//"):
            body = line[2:].strip()
            ref = _REFERENCE.match(body)
            if ref:
                label = ref.group(1).strip()
                found = normalize_space(label)
                if found is None:
                    reader.add(lineno, f"unknown reference space {label[:40]!r}.",
                               "Use '// Reference=MNI' or '// Reference=Talairach' (also TAL, MNI152).",
                               structural=True)
                elif space is not None and found != space:
                    reader.add(lineno, f"mixed spaces: this line says {label!r} ({found}), "
                               f"line {space_line} says {space}; a Sleuth file has one reference space.",
                               "To keep the evidence base whole, write it as a table (TSV/CSV with columns "
                               "study_id, analysis_id, x, y, z, space, sample_size), which gives each row "
                               "its own space (MNI or TAL; TAL rows are converted to MNI); or convert the "
                               f"{'Talairach' if found == 'TAL' else 'MNI'} foci to "
                               f"{'MNI' if space == 'MNI' else 'Talairach'} yourself. Splitting the file "
                               "into one analysis per space splits the evidence base.", structural=True)
                elif space is None:
                    space, space_line = found, lineno
                continue
            if current is not None:  # a header line after foci begins the next experiment
                if current is unnamed_block:
                    unnamed.end()
                current = None
                names, subjects, subjects_seen, subjects_bad, names_line, subjects_line = [], None, False, False, 0, 0
                empty_name_line = 0
            sub = _SUBJECTS.match(body)
            if sub:
                value = sub.group(1).strip()
                try:
                    number = read_number(value, whole=True)
                except ValueError as exc:
                    why = f": {exc}" if str(exc) else ""
                    reader.add(lineno, f"'Subjects={value[:40]}' is not a whole number{why}.",
                               "Write the experiment's sample size as '// Subjects=N', N a whole number "
                               "written with the digits 0-9.")
                    subjects_bad = True
                else:
                    if subjects_line and number != subjects:
                        reader.add(lineno, f"two '// Subjects=' lines for one experiment: 'Subjects={subjects}' "
                                   f"on line {subjects_line} and 'Subjects={value[:40]}' on line {lineno}.",
                                   "Keep the one line that gives the experiment's sample size; a second "
                                   "would silently replace the first.")
                        subjects_bad = True
                    elif not subjects_bad:
                        subjects, subjects_line = int(number), lineno  # already an int (whole=True)
                subjects_seen = True
                continue
            if not body:
                empty_name_line = empty_name_line or lineno
                continue
            if subjects_seen and names:  # a name after a Subjects line: that header had no foci
                experiments.append(start_experiment(lineno))
                names, subjects, subjects_seen, subjects_bad, names_line, subjects_line = [], None, False, False, 0, 0
            if not names:
                names_line = lineno
            names.append(body)
            last_name_line = lineno
            continue
        # a focus line, or the rest of a name line that a stray line end broke
        if current is None and names and was_name and _continues_name(line):
            reader.add(lineno, f"the experiment name on line {after} ({names[-1][:60]!r}) continues on "
                       f"line {lineno} ({line[:60]!r}): a stray line end broke the name line.",
                       f"Join lines {after} and {lineno} into one '// ...' name line (or begin line "
                       f"{lineno} with '// '); the experiment and its foci then read as they are.")
            names.append(line)
            last_name_line = lineno
            continue
        if current is unnamed_block:
            unnamed_foci += 1
            if unnamed_foci >= STOP_AFTER_UNNAMED_FOCI:  # e.g. random text after a valid first line
                reader.stopped = f"line {lineno} of {len(text_lines)}"
                return experiments
            unnamed.focus(lineno)
            continue
        if current is None:
            if not names:
                unnamed.start(empty_name_line, lineno, line)
                current = unnamed_block
                continue
            current = start_experiment(lineno)
            experiments.append(current)
            names, subjects, subjects_seen, subjects_bad, names_line, subjects_line = [], None, False, False, 0, 0
            empty_name_line = 0
        xyz = _parse_focus(reader, lineno, line)
        if xyz is None:
            current.broken = True
        else:
            current.add_point(xyz, lineno)
    if names:
        experiments.append(start_experiment(len(text_lines)))
    return experiments


def read_sleuth(path: Path) -> ReadResult:
    """Read a Sleuth text file into a NIMADS studyset (problems are collected, not raised)."""
    _, lines, encoding = read_text(path, "Sleuth")
    first = next(((n, ln.strip()) for n, ln in enumerate(lines, 1) if ln.strip()), (1, ""))
    if not first[1].startswith("//"):
        raise InputDataError(
            f"{str(path)!r}, line {first[0]}: this is not a Sleuth file: its first line does not "
            "start with '//'.",
            hint="A Sleuth file begins with '// Reference=MNI' or '// Reference=Talairach'; "
            "check input.path and input.format.")
    reader = _Reader()
    experiments = parse_sleuth(lines, reader)
    if not any(ln.strip().startswith("//") and _REFERENCE.match(ln.strip()[2:].strip()) for ln in lines):
        if not reader.structural:
            reader.problems.append(Problem(
                "", f"{str(path)!r} has no '// Reference=' line, so its space is unknown.",
                "Begin a Sleuth file with '// Reference=MNI' or '// Reference=Talairach'."))
        reader.structural = True
    if not experiments and not reader.problems:
        raise InputDataError(f"{str(path)!r} has a reference line but no experiments.",
                             hint="Add experiments: '// name', '// Subjects=N', then 'x y z' lines.")
    result = result_from_experiments(experiments, "sleuth", path.stem, reader.problems,
                                     reader.structural or reader.stopped is not None, encoding)
    result.stopped = reader.stopped
    return result
