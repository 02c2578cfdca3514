"""Reading and checking a run's inputs before anything is computed: each group's evidence,
the declared mode and robustness settings against it, and two groups' fitness for a
contrast. Every problem is an :class:`~ale_app.errors.InputDataError` (exit 65) raised before
the output folder is touched by a computation.
"""

from __future__ import annotations

from pathlib import Path

from ale_app.errors import InputDataError
from ale_app.spec.models import AnalysisSpec
from ale_app.spec.project import Project
from ale_app.spec.v2 import AnalysisSpecV2, group_input, group_spec

__all__ = ["analysis_lines", "header_lines", "balanced_problems", "check_failsafe_bounds", "check_mode", "check_robustness", "min_experiments_hint",
           "validate", "validate_group", "validate_pair"]


def validate(project: Project, spec_dir: Path) -> dict:
    """Read and check every group's input; each group's
    :class:`~ale_app.inputs.evidence.Evidence` by name, in the project's group order.
    Every problem found is raised as one :class:`~ale_app.errors.InputDataError`."""
    if project.shape == "single":
        (name,) = project.groups
        try:
            return {name: validate_group(project.groups[name], spec_dir)}
        except InputDataError as exc:
            if getattr(project.source, "jale", None) is not None and "min_experiments" in exc.message:
                exc.hint = _few_hint(project.source)  # a JALE project has no spec to edit
            raise
    return validate_groups(project.source, list(project.groups),
                           [(plan.groups, project.contrast_spec(plan), "" if project.shape == "pair" else
                             f"contrast {plan.label!r}: ") for plan in project.contrasts], spec_dir)


def validate_group(spec: AnalysisSpec, spec_dir: Path):
    """Read and check the input data, and that the declared mode may run on it; return the
    :class:`~ale_app.inputs.evidence.Evidence`."""
    from ale_app.inputs.evidence import load_evidence

    evidence = load_evidence(spec.input, spec_dir, spec.ale)
    check_mode(spec, len(evidence.ids))
    return evidence


def min_experiments_hint(minimum: int, per_group: bool = False) -> str:
    """What to do below ``inference.min_experiments``: the descriptive mode, or a lower setting
    that the review protocol justifies (Eickhoff et al. 2016 recommend 17-20 experiments)."""
    groups = " per group" if per_group else ""
    return ("ALE's voxelwise inference is not reliable on so few experiments: Eickhoff et al. (2016) recommend "
            f"at least 17-20 experiments{groups}. Declare 'mode: descriptive' in the spec for a descriptive "
            "analysis of this evidence base, or, if the review protocol justifies inference on fewer, lower "
            f"inference.min_experiments (now {minimum}) in the spec and say why in the methods.")


def check_mode(spec: AnalysisSpec, n_experiments: int) -> None:
    """Refuse ``mode: inferential`` below ``inference.min_experiments`` (before computing anything)."""
    minimum = spec.inference.min_experiments
    if spec.mode == "inferential" and n_experiments < minimum:
        raise InputDataError(
            f"mode: inferential needs at least {minimum} experiments (inference.min_experiments); the input "
            f"has {n_experiments}.",
            hint=min_experiments_hint(minimum),
        )
    check_robustness(spec, n_experiments)


def check_robustness(spec: AnalysisSpec, n_experiments: int, group: str | None = None) -> None:
    """Refuse robustness settings this evidence base cannot meet (before computing anything):
    a stability ``subset_size`` above the number of experiments, and fail-safe bounds that
    round to one number of noise experiments. ``group`` names the group in the message."""
    from math import comb

    robustness = spec.robustness if spec.mode == "inferential" else None
    if robustness is None:
        return
    whose = f"group {group!r}" if group is not None else "the input"
    stability = robustness.stability
    if stability.enabled:
        size = n_experiments - 1 if stability.subset_size is None else stability.subset_size
        if not 0 < size <= n_experiments:
            given = "null (all but one)" if stability.subset_size is None else stability.subset_size
            raise InputDataError(
                f"robustness.stability.subset_size is {given}, but {whose} has {_experiments(n_experiments)}: "
                f"the largest allowed value is {n_experiments}.",
                hint=f"Give a subset_size between 1 and {n_experiments}, or null (all but one).")
        if stability.n_subsets is None and size != n_experiments - 1 and comb(n_experiments, size) > 1000:
            raise InputDataError(
                f"robustness.stability.n_subsets is null (every distinct subset), but {whose}'s {n_experiments} "
                f"experiments have {comb(n_experiments, size):,} distinct subsets of {size}.",
                hint="Give n_subsets (for example 1000, NiMARE's cap) to draw that many at random.")
    check_failsafe_bounds(robustness.failsafe, n_experiments, whose)


def _experiments(n: int) -> str:
    return f"{n} experiment" + ("" if n == 1 else "s")


def check_failsafe_bounds(failsafe, n_experiments: int, whose: str = "the input") -> None:
    """Refuse fail-safe multiples whose bounds, ``ceil(multiple x k)`` noise experiments
    (:func:`ale_app.stats.failsafe.bounds`), are equal for these ``k`` experiments."""
    import math

    if not failsafe.enabled:
        return
    k = n_experiments
    lower, upper = math.ceil(failsafe.lower_multiple * k), math.ceil(failsafe.upper_multiple * k)
    if lower < upper:
        return
    largest = math.floor((upper - 1) / k * 10_000) / 10_000
    raise InputDataError(
        f"robustness.failsafe.lower_multiple ({failsafe.lower_multiple:g}) and upper_multiple "
        f"({failsafe.upper_multiple:g}) give the same bound for the {_experiments(k)} of {whose}: "
        f"ceil(multiple x {k}) = {upper} noise experiments for both, so there is nothing to search; with "
        f"upper_multiple {failsafe.upper_multiple:g} the largest allowed lower_multiple is {largest:g}.",
        hint=f"Give a lower_multiple of at most {largest:g}, or a larger upper_multiple (Acar et al. 2018 use "
        "2 and 10).")


def validate_pair(spec: AnalysisSpecV2, spec_dir: Path) -> dict:
    """Read and check both groups of the version-2 ``spec``; each group's
    :class:`~ale_app.inputs.evidence.Evidence`, first group first (see :func:`validate_groups`)."""
    first, second = spec.contrast.groups
    return validate_groups(spec, [first, second], [((first, second), spec, "")], spec_dir)


def validate_groups(spec, names: list[str], contrasts: list[tuple[tuple[str, str], AnalysisSpecV2, str]],
                    spec_dir: Path) -> dict:
    """Read and check the groups ``names`` of a version-2 or version-3 ``spec`` and their
    ``contrasts`` (each: its two groups, its version-2 spec and the words that name it in a
    problem); return each group's :class:`~ale_app.inputs.evidence.Evidence` by name.

    Every problem of every group is collected into one :class:`InputDataError`: a group's
    input problems, a group below ``inference.min_experiments`` in inferential mode, the
    same experiment in both groups of a contrast, a balanced contrast's target_n.
    """
    from ale_app.inputs.evidence import load_evidence
    from ale_app.inputs.reading import shared_reads

    evidence, problems = {}, []
    with shared_reads():  # groups selecting from one shared input parse it once
        for name in names:
            try:
                own_file = spec.groups[name].path is not None
                evidence[name] = load_evidence(group_input(spec, name), spec_dir, spec.ale, field=f"groups.{name}",
                                               file_field=f"groups.{name}" if own_file else "input")
            except InputDataError as exc:
                problems.append(f"group {name!r}: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
    for (a, b), _pair, named in contrasts:
        if a in evidence and b in evidence:
            problems.extend(named + p for p in _overlap(a, b, evidence[a], evidence[b]))
    if spec.mode == "inferential":
        minimum = spec.inference.min_experiments
        for name, ev in evidence.items():
            if len(ev.ids) < minimum:
                problems.append(
                    f"mode: inferential needs at least {minimum} experiments per group (inference.min_experiments); "
                    f"group {name!r} has {len(ev.ids)}")
            else:
                try:
                    check_robustness(group_spec(spec, name), len(ev.ids), group=name)
                except InputDataError as exc:
                    problems.append(f"{exc.message} {exc.hint or ''}".strip())
        for (a, b), pair, named in contrasts:
            if a in evidence and b in evidence and pair.contrast.method == "balanced":
                problems.extend(named + p for p in balanced_problems(pair, {g: len(evidence[g].ids) for g in (a, b)}))
    if problems:
        raise InputDataError(
            "The groups cannot be compared:\n" + "\n".join(f"  - {p}" for p in problems),
            hint="Fix every problem listed. " + _few_hint(spec)
            if any("min_experiments" in p for p in problems) else "Fix every problem listed.")
    return evidence


def _few_hint(spec) -> str:
    """What to do about groups below ``inference.min_experiments``: in a spec, its mode or that
    setting; in a JALE project (which has neither), the rows of its analysis sheet."""
    if getattr(spec, "jale", None) is not None:
        return (f"A JALE project runs every row inferentially, as JALE does, and ale-app refuses inference on fewer "
                f"than {spec.inference.min_experiments} experiments per group (Eickhoff et al. 2016 recommend at "
                f"least 17-20): remove those rows from {spec.jale.analysis_info} or widen their tags.")
    return min_experiments_hint(spec.inference.min_experiments, per_group=True)


def _overlap(a: str, b: str, ev_a, ev_b) -> list[str]:
    """The experiments of groups ``a`` and ``b`` that are the same (a contrast compares two
    disjoint sets)."""
    shared = [i for i in ev_a.ids if i in set(ev_b.ids)]
    same_source = ev_a.source["sha256"] == ev_b.source["sha256"]
    if shared and same_source:
        shown = ", ".join(shared[:10]) + (f" and {len(shared) - 10} more" if len(shared) > 10 else "")
        return [f"{len(shared)} experiment(s) are in both groups {a!r} and {b!r}: {shown}. A contrast "
                "compares two disjoint sets of experiments"]
    if not same_source:
        dup = _same_foci(ev_a, ev_b)
        if dup:
            return [f"{len(dup)} experiment(s) of {a!r} have exactly the foci of an experiment of {b!r} "
                    f"(the same experiment in both groups?): " + ", ".join(f"{x} = {y}" for x, y in dup[:10])]
    return []


def balanced_problems(spec: AnalysisSpecV2, sizes: dict[str, int]) -> list[str]:
    """A ``contrast.balanced.target_n`` above the smaller group's number of experiments
    (``sizes``: experiments per group), as a problem naming that group and the largest value."""
    target = spec.contrast.balanced.target_n
    smaller = min(sizes, key=lambda name: sizes[name])
    largest = sizes[smaller]
    if target is None or target <= largest:
        return []
    return [f"contrast.balanced.target_n is {target}, but the smaller group {smaller!r} has {largest} "
            f"experiment{'' if largest == 1 else 's'}: the largest allowed value is {largest}. Give a target_n between 1 and {largest}, "
            "or null (the smaller group's size)"]


def _same_foci(ev1, ev2) -> list[tuple[str, str]]:
    """Pairs of experiments (one per group) whose foci are identical, to 0.01 mm."""
    def keys(ev):
        out = {}
        for aid, frame in ev.coordinates.groupby("analysis_id", sort=False):
            out[aid] = tuple(sorted(map(tuple, frame[["x", "y", "z"]].round(2).to_numpy().tolist())))
        return out

    k1, k2 = keys(ev1), keys(ev2)
    by_foci = {v: k for k, v in k2.items()}
    return [(a, by_foci[v]) for a, v in k1.items() if v in by_foci]


def analysis_lines(project: Project, evidence: dict, spec: str = "") -> list[str]:
    """``--validate-only``'s list of a JALE project's analyses (none for a spec written as one):
    every row of its analysis sheet, what it runs as, and its group's experiments and subjects
    (``evidence``: each group's :class:`~ale_app.inputs.evidence.Evidence` by name); then the
    config values ale-app applied and those it does not."""
    origin = getattr(project.source, "jale", None)
    if origin is None:
        return []
    lines = [f"JALE project {spec}: {len(origin.rows)} row(s) of {origin.analysis_info}, "
             f"experiments from {origin.experiment_info}:"]
    for row in origin.rows:
        what = f"row {row.row} {row.type.strip() or '-'} {row.name} ({' '.join(row.conditions)})"
        ev = evidence.get(row.group) if row.group else None
        counted = ""
        if ev is not None:
            sizes = [s for s in ev.sample_sizes.values() if s is not None]
            counted = f"; {len(ev.ids)} experiments, {int(sum(sizes)):,} subjects"
        lines.append(f"  {what}: {row.runs_as}{counted}")
    lines.append("config applied: " + "; ".join(f"{k} -> {v}" for k, v in origin.applied.items()))
    lines.append("config not applied: " + "; ".join(f"{k} ({v})" for k, v in origin.not_applied.items()))
    return lines


def header_lines(spec: str, project: Project, evidence: dict) -> list[str]:
    """The first lines of ``--validate-only``'s summary: the spec (``spec`` as given) and its
    contrasts, then a JALE project's analyses (:func:`analysis_lines`)."""
    said = "; ".join(f"contrast {c.label}: {c.first} minus {c.second}" for c in project.contrasts)
    first = f"spec: {spec} (valid)" if project.shape == "single" else f"spec: {spec} (valid; {said})"
    return [first, *analysis_lines(project, evidence, spec)]
