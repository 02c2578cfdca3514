"""Which registry a run writes, and the names it owns: :data:`ale_app.outputs.registry.REGISTRY`
for one group, the contrast registry (:mod:`ale_app.outputs.contrast_registry`) for two
groups and their contrast, chosen by the project's shape alone.
"""

from __future__ import annotations

from dataclasses import replace

from ale_app.outputs import folder as D
from ale_app.outputs.entries import ContrastPart, GroupPart, Output
from ale_app.outputs.names import DATASET_DESCRIPTION, PROVENANCE, SPEC_JSON
from ale_app.outputs.registry import REGISTRY

__all__ = ["known_output_names", "owned_names", "registry_for"]


def registry_for(project=None) -> tuple[Output, ...]:
    """The registry of a run of ``project`` (:class:`~ale_app.spec.project.Project`), its
    entries built from the run's :class:`~ale_app.result.ProjectResult`: :data:`REGISTRY`
    of the one group (shape ``single``), the contrast registry of the one contrast (shape
    ``pair``), or every group's files, every contrast's and the project's own (shape
    ``project``). Without a project, :data:`REGISTRY` itself (built from a group's result)."""
    if project is None:
        return REGISTRY
    if project.shape == "project":
        from ale_app.outputs import contrast_registry as C  # pandas: imported when a run needs it

        return C.project_registry(project)
    if project.shape == "single":
        (group,) = project.groups
        entries = tuple(replace(entry, part=GroupPart(group)) for entry in REGISTRY)
    else:
        from ale_app.outputs import contrast_registry as C

        (plan,) = project.contrasts
        entries = tuple(replace(entry, part=ContrastPart(plan.label))
                        for entry in C.contrast_registry(project.contrast_spec(plan)))
    if project.named_by_its_part:
        return entries
    # A version-3 spec of one group or one pair writes version 1's or 2's files, but records
    # the spec as written.
    from ale_app.outputs.contrast_registry import spec_record

    return tuple(replace(e, build=spec_record, part=None) if e.name == SPEC_JSON else e for e in entries)


def known_output_names(project=None) -> set[str]:
    """Every file name an ale-app run can write (relative to OUTPUT_DIR, ``/``-separated);
    with a ``project``, the names of its groups and contrasts too."""
    names = {n for entry in REGISTRY for n in entry.file_names()}
    if project is not None:
        names |= {n for entry in registry_for(project) for n in entry.file_names()}
    return names | {PROVENANCE}


def owned_names(project=None) -> D.OwnedNames:
    """What the output folder needs to know of ale-app's names to tell its files from others'."""
    return D.OwnedNames(known=frozenset(known_output_names(project)), marker=DATASET_DESCRIPTION,
                        completion=PROVENANCE)
