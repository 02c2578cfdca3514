"""The experiments a text reader (Sleuth, a table) finds, and the :class:`ReadResult` made
of them: a NIMADS studyset dictionary, the ids in file order and where each is."""

from __future__ import annotations

from dataclasses import dataclass, field

from ale_app.inputs.readers.base import Problem, ReadResult


@dataclass
class Experiment:
    """One experiment as a text reader found it (before NIMADS)."""

    study: str
    analysis: str
    sample_size: int | None
    space: str | None
    line: int
    points: list[tuple[float, float, float]] = field(default_factory=list)
    point_spaces: list[str | None] = field(default_factory=list)
    point_lines: list[int] = field(default_factory=list)
    broken: bool = False

    @property
    def id(self) -> str:
        """``<study id>-<analysis id>``, as NiMARE names analyses."""
        return f"{self.study}-{self.analysis}"

    def add_point(self, xyz: tuple[float, float, float], line: int, space: str | None = None) -> None:
        """Add one focus, its file line and (for tables) its own space."""
        self.points.append(xyz)
        self.point_lines.append(line)
        self.point_spaces.append(space or self.space)


def nimads_from_experiments(experiments: list[Experiment], name: str) -> dict:
    """A NIMADS studyset dictionary; studies in order of their first experiment.

    Only the first experiment with a given id enters (a second one is reported by the id
    checks of :mod:`ale_app.inputs.checks`; NiMARE would keep only one of them).
    """
    studies: dict[str, dict] = {}
    seen: set[str] = set()
    for exp in experiments:
        if exp.id in seen:
            continue
        seen.add(exp.id)
        study = studies.setdefault(exp.study, {"id": exp.study, "name": exp.study, "analyses": []})
        metadata = {} if exp.sample_size is None else {"sample_sizes": [exp.sample_size]}
        study["analyses"].append({
            "id": exp.analysis,
            "name": exp.analysis,
            "points": [{"space": s, "coordinates": list(p)} for p, s in zip(exp.points, exp.point_spaces)],
            "metadata": metadata,
        })
    return {"id": name, "name": name, "studies": list(studies.values())}


def result_from_experiments(experiments: list[Experiment], fmt: str, name: str,
                            problems: list[Problem], structural: bool, encoding: str | None,
                            unit: str = "line") -> ReadResult:
    """The :class:`ReadResult` of a text reader (or a spreadsheet's, whose ``unit`` is ``row``)."""
    ids = list(dict.fromkeys(e.id for e in experiments))
    first: dict[str, Experiment] = {}
    for exp in experiments:
        first.setdefault(exp.id, exp)
    notes = []
    if encoding not in (None, "utf-8"):
        notes.append(f"The input is not UTF-8; it was read as {ENCODING_NAMES[encoding]}. Check "
                     "that names with accents read as intended (they are in coordinates.tsv).")
    return ReadResult(
        source=nimads_from_experiments(experiments, name), ids=ids, format=fmt,
        where={i: f"{unit} {e.line}" for i, e in first.items()},
        entries=[(e.id, e.study, e.analysis, f"{unit} {e.line}") for e in experiments],
        contents=[(e.sample_size, tuple(sorted(e.points))) for e in experiments],
        focus_lines={i: e.point_lines for i, e in first.items()},
        broken={e.id for e in experiments if e.broken},
        problems=problems, structural=structural, encoding=encoding, notes=notes,
    )


ENCODING_NAMES = {"cp1252": "Windows-1252 (cp1252, a superset of Latin-1's printable characters)",
                  "latin-1": "Latin-1 (ISO-8859-1)"}
