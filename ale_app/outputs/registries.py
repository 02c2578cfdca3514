"""Which registry a run writes, and the names it owns: :data:`ale_app.outputs.registry.REGISTRY`
for one group, the contrast registry (:mod:`ale_app.outputs.contrast_registry`) for two
groups and their contrast, chosen by the project's shape alone.
"""

from __future__ import annotations

from ale_app.outputs import folder as D
from ale_app.outputs.entries import Output
from ale_app.outputs.names import DATASET_DESCRIPTION, PROVENANCE
from ale_app.outputs.registry import REGISTRY

__all__ = ["known_output_names", "owned_names", "registry_for"]


def registry_for(project=None) -> tuple[Output, ...]:
    """The registry of a run of ``project`` (:class:`~ale_app.spec.project.Project`):
    :data:`REGISTRY` for one group (shape ``single``), the contrast registry of its groups
    for two groups and their contrast (shape ``pair``)."""
    if project is not None and project.shape == "pair":
        from ale_app.outputs.contrast_registry import contrast_registry  # pandas: imported when a run needs it

        return contrast_registry(project.source)
    return REGISTRY


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
