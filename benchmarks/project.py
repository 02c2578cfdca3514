"""Benchmark: one project run against the separate version-2 runs of its contrasts.

Issue 34: a project costs less than its parts. One seeded evidence table of three groups
(``a``, ``b``, ``c``; each built from ``tests/generate.py``'s ``make_case``, as
``tests/test_project_run.py`` builds its table, cut to ``--sizes`` experiments) is analysed
twice, each command a whole ``python -m ale_app SPEC OUT --n-jobs N -q`` process:

- the PROJECT: a version-3 spec of the three groups and two contrasts, ``a - b`` and
  ``a - c`` (group ``a`` is shared; every group is in a contrast, so the version-2 runs
  below together compute every file the project does);
- the PARTS: the version-2 spec of each contrast (``a - b``, then ``a - c``), which between
  them analyse group ``a`` twice and start the program twice.

The three commands run in turn (project, a-b, a-c), ``--repeats`` times after ``--warmup``
uncounted rounds (the first run of a fresh numba cache compiles the kernels); the median wall
time of each command is printed and the ratio project / (a-b + a-c) of the medians, with the
same ratio per round (its spread says how noisy the machine was). CPU seconds are the
process tree's user + system time (figures are drawn in forked processes). The last counted
round's ``StepSeconds`` (``provenance.json``) are summed by step: where the time goes in each.
The load average is printed at the start and the end (other jobs may share the machine).

Usage::

    python benchmarks/project.py                                   # descriptive, 20 per group
    python benchmarks/project.py --mode inferential --iterations 1000 --sizes 20 20 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
GROUPS = ("a", "b", "c")
CONTRASTS = (("a", "b"), ("a", "c"))
#: First ``make_case`` index of each group's cases (far apart, so no case is in two groups).
FIRST_CASE = {"a": 100, "b": 200, "c": 300}
INPUT = {"path": "evidence.tsv", "columns": {"group": "task"}}


def make_table(sizes: dict[str, int]) -> pd.DataFrame:
    """One table of the three groups (column ``task``), each of exactly ``sizes[group]``
    experiments, from seeded ``make_case`` cases (20 to 60 experiments each)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from generate import make_case, template_mask

    mask, affine = template_mask()
    frames = []
    for task, n in sizes.items():
        own, i, have = [], FIRST_CASE[task], 0
        while have < n:
            case = pd.DataFrame(make_case(i, mask, affine, slow=True).rows)
            case["study_id"] = f"{task}{i}_" + case["study_id"].astype(str)
            have += case.groupby(["study_id", "analysis_id"]).ngroups
            own.append(case)
            i += 1
        table = pd.concat(own, ignore_index=True)
        keys = table[["study_id", "analysis_id"]].drop_duplicates().head(n)
        table = table.merge(keys, on=["study_id", "analysis_id"])
        table["task"] = task
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def _select(task: str) -> dict:
    return {"select": {"where": {"column": "group", "values": [task]}}}


def shared_sections(mode: str, iterations: int) -> dict:
    """What every spec shares: the mode, its inference and PNG figures."""
    sections: dict = {"mode": mode, "figures": {"formats": ["png"]}}
    if mode == "inferential":
        sections["inference"] = {"n_iterations": iterations, "seed": 0}
    return sections


def project_spec(shared: dict) -> dict:
    return {"spec_version": 3, "title": "Three groups, two contrasts", "input": INPUT,
            "groups": {g: _select(g) for g in GROUPS},
            "contrasts": [{"groups": list(pair)} for pair in CONTRASTS], **shared}


def pair_spec(pair: tuple[str, str], shared: dict) -> dict:
    return {"spec_version": 2, "title": "Three groups, two contrasts", "input": INPUT,
            "groups": {g: _select(g) for g in pair}, "contrast": {"groups": list(pair)}, **shared}


def run_once(spec: Path, out: Path, n_jobs: int) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the process tree) of one ``ale-app`` process."""
    cmd = [sys.executable, "-m", "ale_app", str(spec), str(out), "--n-jobs", str(n_jobs), "-q"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def step_seconds(out: Path) -> dict[str, float]:
    """``StepSeconds`` of a run, summed over its groups and contrasts by step name."""
    steps = json.loads((out / "provenance.json").read_text())["StepSeconds"]
    total: dict[str, float] = defaultdict(float)
    for key, seconds in steps.items():
        total[key.split(":", 1)[-1].strip()] += seconds
    return dict(total)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1, 5, 15 min)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["descriptive", "inferential"], default="descriptive")
    parser.add_argument("--sizes", type=int, nargs=3, default=[20, 20, 20], metavar=("A", "B", "C"),
                        help="experiments in groups a, b and c (inferential mode needs 17 or more)")
    parser.add_argument("--iterations", type=int, default=1000,
                        help="Monte Carlo iterations and contrast permutations (inferential mode)")
    parser.add_argument("--repeats", type=int, default=3, help="counted rounds; the median per command")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted rounds first")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="write the table, specs and outputs here (kept)")
    args = parser.parse_args()

    from importlib.metadata import version

    sizes = dict(zip(GROUPS, args.sizes))
    work = args.keep or Path(tempfile.mkdtemp(prefix="ale-app-project-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} CPUs usable, "
          f"load average at start {_load()}, Python {platform.python_version()}")
    print(f"nimare {version('nimare')}; mode {args.mode}"
          + (f", {args.iterations} iterations and permutations, seed 0" if args.mode == "inferential" else "")
          + f"; groups a, b, c of {args.sizes[0]}, {args.sizes[1]}, {args.sizes[2]} generated experiments; "
          f"--n-jobs {args.n_jobs}; {args.warmup} warm-up + {args.repeats} counted rounds", flush=True)

    make_table(sizes).to_csv(work / "evidence.tsv", sep="\t", index=False)
    shared = shared_sections(args.mode, args.iterations)
    specs = {"project": project_spec(shared)}
    specs.update({f"{a}-{b}": pair_spec((a, b), shared) for a, b in CONTRASTS})
    paths = {}
    for name, data in specs.items():
        paths[name] = work / f"{name}.json"
        paths[name].write_text(json.dumps(data, indent=2) + "\n")  # JSON is YAML

    walls: dict[str, list[float]] = defaultdict(list)
    cpus: dict[str, list[float]] = defaultdict(list)
    steps: dict[str, dict[str, float]] = {}
    for r in range(args.warmup + args.repeats):
        counted = r >= args.warmup
        for name, spec in paths.items():
            out = work / f"out-{name}-{r}"
            wall, cpu = run_once(spec, out, args.n_jobs)
            if counted:
                walls[name].append(wall)
                cpus[name].append(cpu)
                steps[name] = step_seconds(out)
            if not args.keep:
                shutil.rmtree(out, ignore_errors=True)
        if counted:
            parts = sum(walls[n][-1] for n in paths if n != "project")
            print(f"round {r - args.warmup + 1}: project {walls['project'][-1]:.2f} s, parts "
                  + " + ".join(f"{walls[n][-1]:.2f}" for n in paths if n != "project")
                  + f" = {parts:.2f} s, ratio {walls['project'][-1] / parts:.3f}", flush=True)

    names = list(paths)
    med = {n: statistics.median(walls[n]) for n in names}
    med_cpu = {n: statistics.median(cpus[n]) for n in names}
    parts = [n for n in names if n != "project"]
    print(f"\n{'command':>10} {'wall s (median)':>16} {'min':>7} {'max':>7} {'CPU s (median)':>15}")
    for n in names:
        print(f"{n:>10} {med[n]:>16.2f} {min(walls[n]):>7.2f} {max(walls[n]):>7.2f} {med_cpu[n]:>15.2f}")
    parts_wall = sum(med[n] for n in parts)
    parts_cpu = sum(med_cpu[n] for n in parts)
    print(f"{'parts sum':>10} {parts_wall:>16.2f} {'':>7} {'':>7} {parts_cpu:>15.2f}")
    per_round = [walls["project"][i] / sum(walls[n][i] for n in parts) for i in range(args.repeats)]
    print(f"ratio project / sum(parts), wall: {med['project'] / parts_wall:.3f} (per round "
          f"{min(per_round):.3f} to {max(per_round):.3f}); CPU: {med_cpu['project'] / parts_cpu:.3f}")

    print("\nStepSeconds of the last counted round, summed over groups and contrasts:")
    all_steps = list(dict.fromkeys(k for n in names for k in steps[n]))
    print(f"{'step':>28} {'project':>8} " + " ".join(f"{n:>7}" for n in parts) + f" {'parts':>7}")
    for step in all_steps:
        own = [steps[n].get(step, 0.0) for n in parts]
        print(f"{step[:28]:>28} {steps['project'].get(step, 0.0):>8.2f} "
              + " ".join(f"{s:>7.2f}" for s in own) + f" {sum(own):>7.2f}")
    totals = [sum(steps[n].values()) for n in parts]
    print(f"{'all steps':>28} {sum(steps['project'].values()):>8.2f} "
          + " ".join(f"{s:>7.2f}" for s in totals) + f" {sum(totals):>7.2f}")
    print(f"load average at end {_load()}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
