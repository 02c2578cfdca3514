"""Benchmark: the run-time estimate (``ale_app.stats.runtime_estimate``) against small real runs.

Runs a few small analyses on NiMARE's bundled data (the pain studyset: 8 and 21 analyses,
two groups of 10 and 11; the 906-analysis n-back/flanker set), each in this process through
the same workflow the command line uses, and prints, step by step, the seconds measured
(``AnalysisResult.timings``) against the seconds estimated from the run's size alone. The
constants of the estimate come from this table; its comments quote the measured numbers.
A first line records the date, commit, machine and load; ``--results FILE`` appends the
table to a results file.

Usage::

    python benchmarks/runtime_estimate.py                 # the default cases, about 6 minutes on 2 cores
    python benchmarks/runtime_estimate.py --case pain21-inferential --n-jobs 2
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

#: Timing keys of a run (step names and the writing steps) -> the estimate's step names.
STEP_OF = {"ale": "ALE fit", "jackknife": "jackknife", "contrast-jackknife": "jackknife",
           "inference": "Monte Carlo inference", "stability": "subsampling stability", "failsafe": "fail-safe N",
           "subtraction": "ALE subtraction", "balanced": "balanced contrast"}
SETUP = "setup, figures and writing"
PAIN = "nimare:nidm_pain_studyset.json"
#: The cases run without --case (about 6 minutes on 2 cores); the others check one setting.
DEFAULT_CASES = ["pain8-descriptive", "pain21-refit", "pain21-mc5000", "906-mc200", "pain21-inferential",
                 "pain-subtraction", "pain-balanced"]
FIGURES = {"formats": ["png"], "dpi": 50}


def _pain_ids() -> list[str]:
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    return [str(i) for i in Studyset(str(Path(get_resource_path()) / "nidm_pain_studyset.json")).ids]


def cases_names() -> list[str]:
    """Every case's name (without reading the data)."""
    return [*DEFAULT_CASES, "pain21-mc1000", "906-descriptive", "pain-balanced-target1", "pain21-stability1"]


def cases() -> dict[str, dict]:
    """The benchmark's specs, by name."""
    ids = _pain_ids()
    inferential = {"mode": "inferential", "input": {"path": PAIN}, "figures": FIGURES}
    two = {"spec_version": 2, "input": {"path": PAIN}, "figures": FIGURES,
           "groups": {"early": {"select": {"ids": ids[:10]}}, "late": {"select": {"ids": ids[10:]}}}}
    return {
        "pain8-descriptive": {"spec_version": 1, "input": {"path": PAIN, "select": {"first": 8}},
                              "figures": {"formats": ["png", "svg"]}},
        "pain21-refit": {"spec_version": 1, "input": {"path": PAIN}, "jackknife": {"method": "refit"},
                         "figures": FIGURES},
        "906-descriptive": {"spec_version": 1, "input": {"path": "nimare:nback_vs_flanker_studyset_2026-07",
                                                         "outside_field_of_view": "keep"},
                            "ale": {"sample_size": 20}, "jackknife": {"cluster_threshold_mm3": 4000},
                            "figures": FIGURES},
        "pain21-mc1000": {"spec_version": 1, **inferential, "inference": {"n_iterations": 1000}},
        "pain21-mc5000": {"spec_version": 1, **inferential, "inference": {"n_iterations": 5000}},
        "906-mc200": {"spec_version": 1, "mode": "inferential", "figures": FIGURES, "ale": {"sample_size": 20},
                      "input": {"path": "nimare:nback_vs_flanker_studyset_2026-07", "outside_field_of_view": "keep"},
                      "inference": {"n_iterations": 200}, "jackknife": {"enabled": False}},
        "pain21-inferential": {"spec_version": 1, **inferential,
                               "inference": {"n_iterations": 2000, "min_experiments": 17},
                               "robustness": {"stability": {"enabled": True, "n_subsets": 100},
                                              "failsafe": {"enabled": True, "tests_per_cluster": 4, "n_iterations": 100}}},
        "pain-subtraction": {**two, "mode": "inferential", "contrast": {"groups": ["early", "late"]},
                             "inference": {"n_iterations": 500, "min_experiments": 10}},
        "pain-balanced": {**two, "mode": "inferential",
                          "contrast": {"groups": ["early", "late"], "method": "balanced",
                                       "balanced": {"subsamples": 50, "difference_iterations": 50,
                                                    "null_iterations": 50}},
                          "inference": {"n_iterations": 50, "min_experiments": 10}},
        "pain-balanced-target1": {**two, "mode": "inferential",
                                  "contrast": {"groups": ["early", "late"], "method": "balanced",
                                               "balanced": {"target_n": 1, "subsamples": 50,
                                                            "difference_iterations": 50, "null_iterations": 50}},
                                  "inference": {"n_iterations": 50, "min_experiments": 10}},
        "pain21-stability1": {"spec_version": 1, **inferential, "inference": {"n_iterations": 500},
                              "robustness": {"stability": {"enabled": True, "subset_size": 1, "n_subsets": 21}}},
    }


def measure(name: str, data: dict, n_jobs: int, folder: Path) -> tuple[dict, dict]:
    """Run one case; return its measured and estimated seconds per step."""
    from ale_app.run import pipeline, workflow
    from ale_app.spec.load import load_spec
    from ale_app.spec.project import to_project
    from ale_app.stats.runtime_estimate import estimate_runtime

    spec_path = folder / f"{name}.yaml"
    spec_path.write_text(yaml.safe_dump(data, sort_keys=False))
    spec, spec_dir, text = load_spec(str(spec_path))
    options = workflow.RunOptions(n_jobs=n_jobs, backend="loky")
    start = time.perf_counter()
    result = pipeline.run(to_project(spec), spec_dir, text, folder / name, options)
    if hasattr(result, "groups"):
        timings = {**result.timings}
        for group in result.groups.values():
            for key, value in group.timings.items():
                timings[f"group:{key}"] = timings.get(f"group:{key}", 0.0) + value
        sizes = [(len(g.evidence.ids), len(g.evidence.coordinates)) for g in result.groups.values()]
    else:
        timings = dict(result.timings)
        sizes = [(len(result.evidence.ids), len(result.evidence.coordinates))]
    wall = time.perf_counter() - start
    measured: dict[str, float] = {}
    for key, value in timings.items():
        step = STEP_OF.get(key.removeprefix("group:"), SETUP)
        measured[step] = measured.get(step, 0.0) + value
    measured[SETUP] = measured.get(SETUP, 0.0) + max(0.0, wall - sum(timings.values()))
    estimate = estimate_runtime(spec, sizes, n_jobs)
    print(f"\n{name}: {' vs '.join(f'{n} experiments, {f} foci' for n, f in sizes)}; {n_jobs} worker(s); "
          f"{wall:.1f} s wall in this process (imports of a fresh process not included)")
    return measured, estimate.steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=list(cases_names()),
                        help="run only these cases (repeatable)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--results", type=Path, help="append the table to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    header = (f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}, "
              f"{platform.machine()} {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(header)
    lines = [header, f"{'case':<20} {'step':<28} {'measured s':>11} {'estimated s':>12} {'ratio':>6}"]
    all_cases = cases()
    chosen = args.case or DEFAULT_CASES
    with tempfile.TemporaryDirectory() as tmp:
        for name in chosen:
            measured, estimated = measure(name, all_cases[name], args.n_jobs, Path(tmp))
            for step in sorted(set(measured) | set(estimated), key=lambda s: -measured.get(s, 0.0)):
                m, e = measured.get(step, 0.0), estimated.get(step, 0.0)
                ratio = f"{e / m:6.2f}" if m > 0.05 else "     -"
                line = f"{name:<20} {step:<28} {m:11.2f} {e:12.2f} {ratio}"
                print(line)
                lines.append(line)
            m, e = sum(measured.values()), sum(estimated.values())
            line = f"{name:<20} {'whole run':<28} {m:11.2f} {e:12.2f} {e / m:6.2f}"
            print(line)
            lines.append(line)
    if args.results:
        with open(args.results, "a", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
