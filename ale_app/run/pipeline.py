"""The one entry to a run: a project (:mod:`ale_app.spec.project`) is read, costed and run here.

The command line and ``--verify`` turn a spec into its project once
(:func:`~ale_app.spec.project.to_project`) and call these functions; nothing here or
below reads the spec version. The project's shape picks the implementation: ``single`` (one
group, version 1's files) runs through :mod:`ale_app.run.workflow`, ``pair`` (two groups
and their contrast, version 2's files) through :mod:`ale_app.run.contrast_workflow`. Issue
34 merges the two into one set of steps over groups and contrasts behind these functions.
"""

from __future__ import annotations

from pathlib import Path

from ale_app.run import workflow
from ale_app.run.workflow import RunOptions
from ale_app.spec.project import Project

__all__ = ["estimate_cost", "run", "validate"]


def _shape(project: Project) -> str:
    if project.shape not in ("single", "pair"):
        raise NotImplementedError(f"a project of shape {project.shape!r} has no pipeline yet")
    return project.shape


def validate(project: Project, spec_dir: Path) -> dict:
    """Read and check every group's input; each group's
    :class:`~ale_app.inputs.evidence.Evidence` by name, in the project's group order.
    Every problem found is raised as one :class:`~ale_app.errors.InputDataError`."""
    if _shape(project) == "single":
        (name,) = project.groups
        return {name: workflow.validate(project.source, spec_dir)}
    from ale_app.run.contrast_workflow import validate_contrast

    return validate_contrast(project.source, spec_dir)


def estimate_cost(project: Project, evidence: dict, n_jobs: int, executor_kind: str):
    """The run's estimated peak memory and seconds per step (:func:`workflow.estimate_cost`)
    from each group's ``evidence``."""
    return workflow.estimate_cost(project.source, list(evidence.values()), n_jobs, executor_kind,
                                  contrast=_shape(project) != "single")


def run(project: Project, spec_dir: Path, spec_text: str, output_dir: Path, options: RunOptions):
    """Run every analysis of ``project`` and write every derivative into ``output_dir``, with
    the folder rules of :func:`ale_app.run.workflow.run_in_folder` (checked and locked first,
    files complete or absent, ``provenance.json`` last). Returns the run's result."""
    if _shape(project) == "single":
        return workflow.run(project.source, spec_dir, spec_text, output_dir, options)
    from ale_app.run.contrast_workflow import run_contrast

    return run_contrast(project.source, spec_dir, spec_text, output_dir, options)
