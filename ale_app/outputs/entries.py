"""What a registry entry is: :class:`Output` (one file a run writes, how it is built from the
result, its sidecar and its step) and :class:`Sidecar` (a data file's JSON sidecar), and when
an entry is ready to be written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ale_app.outputs import folder as D
from ale_app.outputs.names import FIGURE_FORMATS


#: The steps that write files, in the order a run takes them.
STEPS = ("start", "data", "figures", "report")


@dataclass(frozen=True)
class Sidecar:
    """The content of a data file's JSON sidecar (its digest is added when it is written)."""

    description: str
    sources: list[str]
    parameters: dict[str, Any]
    extra: dict[str, Any]


@dataclass(frozen=True)
class Output:
    """One file (or, for figures, one stem written in each of ``figures.formats``).

    Attributes
    ----------
    name : str
        The file's name relative to OUTPUT_DIR (for a figure, its name without extension).
    kind : {"tsv", "nifti", "json", "text", "figure"}
        How the content is written.
    step : str
        The step that writes it (one of :data:`STEPS`).
    build : callable
        ``build(result, folder)`` returns the content (a DataFrame, an image, a dict, a string or a
        matplotlib Figure), or None when this run does not produce the file.
    sidecar : callable, optional
        ``sidecar(result)`` returns its :class:`Sidecar`; data files only.
    caption : str, optional
        A figure's caption in the report.
    section : str, optional
        The report section a figure belongs to.
    draw_cost : float
        A figure's drawing time relative to the others: on several workers the slowest
        start first (the order never changes the files).
    needs : tuple of str
        The result fields it is built from (the steps of :mod:`ale_app.run.steps` compute
        them); it is written only when they are all set, so a failure report writes what
        the finished steps made.
    part : callable, optional
        ``part(result)`` is the part of a project's result the entry is built from (a
        group's :class:`~ale_app.result.AnalysisResult`, a contrast's
        :class:`~ale_app.result.ContrastResult`); without it, the result itself.
    """

    name: str
    kind: str
    step: str
    # Any: the entry's part of the result, an AnalysisResult or a ContrastResult (see part); the
    # fields it reads are those in needs, set when it is built.
    build: Callable[[Any, Any], Any]
    sidecar: Callable[[Any], Sidecar] | None = None
    caption: str | None = None
    section: str | None = None
    draw_cost: float = 1.0
    needs: tuple[str, ...] = ()
    part: Callable[[Any], Any] | None = None

    def of(self, result):
        """The part of ``result`` this entry is built from (None when the run has no such part)."""
        return result if self.part is None else self.part(result)

    def file_names(self) -> list[str]:
        """Every file name this entry can write (figures in each format, the sidecar)."""
        if self.kind == "figure":
            return [f"{self.name}.{fmt}" for fmt in FIGURE_FORMATS]
        return [self.name] + ([D.sidecar_name(self.name)] if self.sidecar else [])


@dataclass(frozen=True)
class GroupPart:
    """The part of a project's result that is group ``name``'s own analysis."""

    name: str

    def __call__(self, result):
        return result.groups.get(self.name)


@dataclass(frozen=True)
class ContrastPart:
    """The part of a project's result that is the contrast labelled ``label``."""

    label: str

    def __call__(self, result):
        return result.contrasts.get(self.label)


def ready(entry: Output, result) -> bool:
    """Whether every result field ``entry`` is built from is set (a failed step leaves later ones None)."""
    part = entry.of(result)
    return part is not None and all(getattr(part, attr) is not None for attr in entry.needs)


