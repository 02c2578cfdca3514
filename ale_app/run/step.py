"""One declared step of a run, and what a step is handed besides the result.

The table of every step is :data:`ale_app.run.steps.STEPS`; the bodies are in
:mod:`ale_app.run.main_effect` (a group's own analysis) and :mod:`ale_app.run.comparison`
(a contrast between two groups). Steps compute; none reads or writes a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from ale_app.process.executor import Executor

#: What a step works on: ``group`` (each group's own analysis, on its
#: :class:`~ale_app.result.AnalysisResult`), ``contrast`` (a comparison of two groups, on its
#: :class:`~ale_app.result.ContrastResult`) or ``run`` (once, after every other step).
Scope = Literal["group", "contrast", "run"]


def plural(n: int, word: str) -> str:
    """``"1 cluster"``, ``"2 clusters"``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass
class StepContext:
    """What a step is handed besides the result: the executor its parallel work runs on."""

    executor: Executor = field(default_factory=Executor)


@dataclass(frozen=True)
class Step:
    """One declared step.

    Attributes
    ----------
    name : str
        The step's key (in ``result.step_status`` and the timings).
    title : str
        The step in words, for the log and a failure report ("the jackknife step failed").
    needs : tuple of str
        Result fields earlier steps computed that this one reads.
    computes : tuple of str
        Result fields this step sets.
    run : callable
        ``run(result, context)`` fills ``computes``; returns nothing.
    skip : callable
        ``skip(result)`` returns why the step does not run for this result (a short
        reason, recorded as its status), or None when it runs.
    describe : callable
        ``describe(result, context)``: what the step is about to do, for the log.
    report_section : str or None
        The report section its results appear in.
    scope : {"group", "contrast", "run"}
        What the step works on (see :data:`Scope`).
    spec_skip : callable or None
        ``spec_skip(mode, contrast)`` returns why the spec alone keeps the step from
        running (``contrast`` is the contrast's section; None for a group), or None: the
        steps whose running the spec decides, so that ``--verify`` names a file's step
        without running anything.
    """

    name: str
    title: str
    needs: tuple[str, ...]
    computes: tuple[str, ...]
    run: Callable[[Any, StepContext], None]
    skip: Callable[[Any], str | None] = lambda _r: None
    describe: Callable[[Any, StepContext], str] | None = None
    report_section: str | None = None
    scope: Scope = "group"
    spec_skip: Callable[[str, Any], str | None] | None = None

    def outputs(self, registry=None) -> list[str]:
        """The entries of ``registry`` (default: one group's,
        :data:`~ale_app.outputs.registry.REGISTRY`) this step feeds: those whose ``needs``
        it computes."""
        if registry is None:
            from ale_app.outputs.registry import REGISTRY as registry

        return [e.name for e in registry if set(e.needs) & set(self.computes)]

    def why_not(self, result) -> str | None:
        """Why the step does not run for ``result`` (the spec's reason first), or None."""
        if self.spec_skip is not None:
            spec = result.spec
            reason = self.spec_skip(spec.mode, getattr(spec, "contrast", None))
            if reason is not None:
                return reason
        return self.skip(result)
