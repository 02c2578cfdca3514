"""Run a contrast (a version-2 spec): read every group, run each group's own analysis, compare
them, write every derivative.

The same folder rules as a single-group run (:func:`ale_app.run.workflow.run`): the folder is
checked and locked first, files appear complete or not at all, ``provenance.json`` last.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

from ale_app.errors import InputDataError
from ale_app.outputs import folder as D
from ale_app.outputs import provenance as P
from ale_app.outputs import registry as O
from ale_app.result import AnalysisResult, ContrastResult
from ale_app.run.steps import StepContext, step_title, steps_of
from ale_app.run.workflow import (RunOptions, _Timer, check_memory, check_robustness, min_experiments_hint,
                                  run_in_folder, run_record, run_step)
from ale_app.spec.project import to_project
from ale_app.spec.v2 import AnalysisSpecV2, group_input, group_spec

LGR = logging.getLogger("ale_app")


def validate_contrast(spec: AnalysisSpecV2, spec_dir: Path) -> dict:
    """Read and check every group's input; return each group's
    :class:`~ale_app.inputs.evidence.Evidence`, first group first.

    Every problem of every group is collected into one :class:`InputDataError`: a group's
    input problems, a group below ``inference.min_experiments`` in inferential mode, and the
    same experiment in both groups.
    """
    from ale_app.inputs.evidence import load_evidence

    evidence, problems = {}, []
    for name in spec.contrast.groups:
        try:
            own_file = spec.groups[name].path is not None
            evidence[name] = load_evidence(group_input(spec, name), spec_dir, spec.ale, field=f"groups.{name}",
                                           file_field=f"groups.{name}" if own_file else "input")
        except InputDataError as exc:
            problems.append(f"group {name!r}: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
    if len(evidence) == 2:
        a, b = spec.contrast.groups
        shared = [i for i in evidence[a].ids if i in set(evidence[b].ids)]
        same_source = evidence[a].source["sha256"] == evidence[b].source["sha256"]
        if shared and same_source:
            shown = ", ".join(shared[:10]) + (f" and {len(shared) - 10} more" if len(shared) > 10 else "")
            problems.append(f"{len(shared)} experiment(s) are in both groups {a!r} and {b!r}: {shown}. A contrast "
                            "compares two disjoint sets of experiments")
        elif not same_source:
            dup = _same_foci(evidence[a], evidence[b])
            if dup:
                problems.append(f"{len(dup)} experiment(s) of {a!r} have exactly the foci of an experiment of {b!r} "
                                f"(the same experiment in both groups?): " + ", ".join(f"{x} = {y}" for x, y in dup[:10]))
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
        if len(evidence) == 2 and spec.contrast.method == "balanced":
            problems.extend(balanced_problems(spec, {name: len(ev.ids) for name, ev in evidence.items()}))
    if problems:
        raise InputDataError(
            "The groups cannot be compared:\n" + "\n".join(f"  - {p}" for p in problems),
            hint="Fix every problem listed. " + min_experiments_hint(spec.inference.min_experiments, per_group=True)
            if any("min_experiments" in p for p in problems) else "Fix every problem listed.")
    return evidence


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


class _GroupTimer(_Timer):
    """A timer whose log lines name the group."""

    def __init__(self, group: str, on_step=None, seconds: dict | None = None):
        super().__init__(on_step)
        self.group = group
        if seconds is not None:
            self.seconds = seconds

    @contextmanager
    def step(self, name: str, what: str):
        with super().step(name, f"[{self.group}] {what}"):
            yield


def compute_contrast(result: ContrastResult, options: RunOptions, timer: _Timer) -> ContrastResult:
    """Each group's own steps, then the contrast's and the run's
    (:func:`ale_app.run.steps.steps_of`)."""
    context = StepContext(executor=options.executor())
    for name, group in result.groups.items():
        timer.current = f"group {name}"
        group_timer = _GroupTimer(name, options.on_step, group.timings)
        for step in steps_of("group"):
            try:
                run_step(step, group, context, group_timer)
            except BaseException:
                timer.current = f"{name}: {step_title(step.name)}"
                raise
        timer.current = None
    for step in steps_of("contrast", "run"):
        run_step(step, result, context, timer)
    return result


def run_contrast(spec: AnalysisSpecV2, spec_dir: Path, spec_text: str, output_dir: Path,
                 options: RunOptions) -> ContrastResult:
    """Run a version-2 spec: as :func:`ale_app.run.workflow.run`, for two groups and their contrast."""
    timer = _Timer(options.on_step)
    record = run_record(spec_dir, spec_text, options)

    def make_result(evidence: dict) -> ContrastResult:
        groups = {}
        for name, ev in evidence.items():
            LGR.info("group %s: %d analyses, %d studies, %d foci", name, len(ev.ids), len(ev.study_ids),
                     len(ev.coordinates))
            groups[name] = AnalysisResult(spec=group_spec(spec, name), evidence=ev, record=record)
        check_memory(spec, list(evidence.values()), options, contrast=True)
        return ContrastResult(spec=spec, groups=groups, record=record, timings=timer.seconds)

    project = to_project(spec)
    return run_in_folder(output_dir, options, timer, O.registry_for(project), O.owned_names(project),
                         read=lambda: validate_contrast(spec, spec_dir),
                         what="Reading and checking the groups' inputs", make_result=make_result,
                         compute=lambda r: compute_contrast(r, options, timer), provenance=write_contrast_provenance)


def write_contrast_provenance(result: ContrastResult, out: D.OutputFolder) -> dict[str, str]:
    """``provenance.json`` of a contrast run, written last."""
    from ale_app.digests import sha256_bytes

    rec = result.record
    outputs = dict(out.digests)
    timings = dict(result.timings)
    for name, group in result.groups.items():
        timings.update({f"{name}:{k}": v for k, v in group.timings.items()})
    record = P.provenance_record(
        rec.argv, rec.started, sha256_bytes(rec.spec_text.encode("utf-8")),
        [f for g in result.groups.values() for f in g.evidence.input_files], outputs, rec.n_jobs, rec.backend, timings,
        spec_folder=rec.spec_dir, output_dir=out.destination, random_seed=result.random_seed)
    record["Mode"] = result.spec.mode
    record["Contrast"] = {"Groups": list(result.names), "Conjunction": result.spec.contrast.conjunction,
                          "Method": result.spec.contrast.method}
    if result.balanced is not None:
        bal = result.balanced
        record["Contrast"]["Balanced"] = {
            "Procedure": "NiMARE's BalancedALESubtraction(null_method='random-foci'), computed by ale-app's engine",
            "TargetN": bal.target_n, "Subsamples": bal.n_subsamples, "SubsamplesUsed": list(bal.n_subsamples_used),
            "DifferenceIterations": bal.difference_iterations, "NullIterations": bal.n_iterations,
            "MaskCoverage": bal.mask_coverage, "Seeds": {"FirstGroupAndDifferences": bal.seed,
                                                        "SecondGroup": bal.seed + 1}}
    record["InputFormat"] = {n: g.evidence.source["format"] for n, g in result.groups.items()}
    record["InputSpaceConversions"] = {n: g.evidence.conversions for n, g in result.groups.items()}
    out.write_json(O.PROVENANCE, record)
    return outputs
