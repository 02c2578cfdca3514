"""A run's analyses in one form: the project (named groups and the contrasts between them).

Every spec version means a project: a version-1 spec one group and no contrast, a
version-2 spec two groups and one contrast, a version-3 spec its groups and contrasts. :func:`to_project` is where that is read, and
the one place outside the spec models that reads ``spec_version``; the run
(:mod:`ale_app.run.pipeline`), the registry's choice and ``--verify`` read the
:class:`Project`. Shapes ``single`` and ``pair`` run today; the writers below the pipeline
still take the version-1 or version-2 spec the project holds (``source``).

A version-1 spec's one group keeps the spec exactly as written (its title above all: the
report, ``CITATION.md`` and ``dataset_description.json`` carry it), so a version-1 run and
the project's ``single`` shape write the same bytes. A group of a version-2 spec is
:func:`~ale_app.spec.v2.group_spec`: its input and every shared section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ale_app.spec.models import AnalysisSpec
from ale_app.spec.v2 import AnalysisSpecV2, ContrastSpec, contrast_label, group_spec
from ale_app.spec.v3 import AnalysisSpecV3, ProjectContrastSpec, pair_spec

__all__ = ["ContrastPlan", "Project", "SINGLE_GROUP", "Shape", "to_project"]

#: The name of a version-1 spec's one group (its files carry no group prefix).
SINGLE_GROUP = "all"

#: ``single``: one group and no contrast (version 1's files); ``pair``: two groups and one
#: contrast (version 2's files); ``project``: anything else.
Shape = Literal["single", "pair", "project"]


@dataclass(frozen=True)
class ContrastPlan:
    """One contrast of a project: ``first`` minus ``second``, as ``spec`` says.

    Attributes
    ----------
    label : str
        The contrast as a BIDS label (``contrast-<label>_...``), e.g. ``olderMinusYounger``.
    first, second : str
        The groups compared, by name (the minuend first).
    spec : ale_app.spec.v2.ContrastSpec
        Conjunction, method and the balanced contrast's sizes.
    """

    label: str
    first: str
    second: str
    spec: ContrastSpec

    @property
    def groups(self) -> tuple[str, str]:
        return self.first, self.second


@dataclass(frozen=True)
class Project:
    """What one run computes: each group's own analysis, then each contrast.

    Attributes
    ----------
    source : AnalysisSpec or AnalysisSpecV2
        The validated spec as written (``spec.json`` is its :meth:`record`; ``--verify``
        rebuilds it).
    groups : dict of str to AnalysisSpec
        Each group's own analysis as a version-1 spec, in the order the run computes them.
    contrasts : tuple of ContrastPlan
        The contrasts, in the order the run computes them.
    """

    source: Any
    groups: dict[str, AnalysisSpec]
    contrasts: tuple[ContrastPlan, ...] = ()

    @property
    def shape(self) -> Shape:
        """Which run-level files and page the project writes (see :data:`Shape`)."""
        if len(self.groups) == 1 and not self.contrasts:
            return "single"
        if len(self.groups) == 2 and len(self.contrasts) == 1:
            return "pair"
        return "project"

    @property
    def mode(self) -> str:
        return self.source.mode

    @property
    def inferential(self) -> bool:
        return self.source.mode == "inferential"

    @property
    def title(self) -> str | None:
        return self.source.title

    def record(self) -> dict[str, Any]:
        """The spec as run, for ``spec.json`` (the source's own record, unchanged)."""
        return self.source.record()

    @property
    def named_by_its_part(self) -> bool:
        """Whether the part a run of shape ``single`` or ``pair`` describes (its one group's
        spec, its one contrast's) is the spec as written: true of versions 1 and 2, not of a
        version-3 spec, whose ``spec.json`` then records the project."""
        return self.source.spec_version < 3

    def contrast_spec(self, plan: ContrastPlan) -> AnalysisSpecV2:
        """The version-2 spec of ``plan`` alone (its two groups, its contrast and every shared
        section): what the contrast's steps and files read."""
        if self.source.spec_version == 2:
            return self.source
        assert isinstance(plan.spec, ProjectContrastSpec)  # a version-3 spec's contrasts
        return pair_spec(self.source, plan.spec, plan.label)

    def readers(self, group: str) -> tuple[ContrastPlan, ...]:
        """The contrasts that read ``group``'s analysis, in run order."""
        return tuple(c for c in self.contrasts if group in c.groups)


def to_project(spec: AnalysisSpec | AnalysisSpecV2 | AnalysisSpecV3) -> Project:
    """The project a validated spec means (any spec version)."""
    if spec.spec_version == 1:
        return Project(source=spec, groups={SINGLE_GROUP: spec})
    if spec.spec_version == 2:
        first, second = spec.contrast.groups
        plan = ContrastPlan(label=contrast_label(first, second), first=first, second=second, spec=spec.contrast)
        return Project(source=spec, groups={name: group_spec(spec, name) for name in (first, second)},
                       contrasts=(plan,))
    if spec.spec_version == 3:
        plans = tuple(ContrastPlan(label=c.label, first=c.groups[0], second=c.groups[1], spec=c)
                      for c in spec.contrasts)
        return Project(source=spec, groups={name: group_spec(spec, name) for name in spec.groups}, contrasts=plans)
    raise ValueError(f"spec_version {spec.spec_version!r} has no project form")
