"""Benchmark: ale-app's ALE subtraction against NiMARE's ALESubtraction + FWECorrector.

Groups come from NiMARE's bundled ``nback_vs_flanker_studyset_2026-07``, split by its
``comparison_task`` metadata (``n-back`` = group 1, ``flanker`` = group 2), the first N1 and
N2 analyses of each (``all`` = 500 vs 406); one sample size (20) for every experiment, as
most analyses have none. For each pair of sizes it runs, each in its own process:

- NiMARE: ``ALESubtraction(n_iters=k, random_state=seed, kernel__sample_size=20,
  n_cores=1).fit`` + ``FWECorrector(method="montecarlo", voxel_thresh=0.001, n_iters=k,
  n_cores=1)``, with ``k = --nimare-iterations`` (NiMARE takes ~0.1-0.5 s per permutation and
  size of group, twice: its fit and its correction run the same permutations). Its time at
  ``--iterations`` is extrapolated: the time of a fit with one permutation (MA maps, group
  main effects) plus (fit + correction - that) / k per permutation (rows marked ``*``). In
  the same process ale-app runs with NiMARE's k and seed, and ``max |diff|`` is the largest
  difference over the three nulls, the cluster-forming threshold and all 13 maps;
- ale-app, serial (``--n-jobs 1``, NiMARE's cores) and on ``--n-jobs`` workers: both groups'
  ALE fits (MA maps) and ``fit_subtraction`` with ``--iterations`` permutations; wall time
  and the peak RSS of that process.

Usage::

    python benchmarks/contrast.py                                    # 25 vs 25, 10,000 permutations
    python benchmarks/contrast.py --sizes 25:25 all --iterations 10000 1000 --nimare-iterations 40 3
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import time
import warnings

SEED = 0
SAMPLE_SIZE = 20
VOXEL_P = 0.001


def _quiet():
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    os.environ.setdefault("TQDM_DISABLE", "1")


def _groups(n1: int, n2: int):
    """The first ``n1`` n-back and first ``n2`` flanker analyses (0: all of them)."""
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    studyset = Studyset(os.path.join(get_resource_path(), "nback_vs_flanker_studyset_2026-07"), target="mni152_2mm")
    task = studyset.metadata.set_index("id")["comparison_task"]
    ids = [str(i) for i in studyset.ids]
    nback = [i for i in ids if task.get(i) == "n-back"]
    flanker = [i for i in ids if task.get(i) == "flanker"]
    return studyset.slice(nback[: n1 or None]), studyset.slice(flanker[: n2 or None])


def _ours(s1, s2, iterations: int, n_jobs: int):
    from ale_app.process.executor import Executor
    from ale_app.spec.models import ALESpec
    from ale_app.stats.ale import fit_ale
    from ale_app.stats.subtraction import fit_subtraction

    spec = ALESpec(sample_size=SAMPLE_SIZE)
    fit1, fit2 = fit_ale(s1, spec), fit_ale(s2, spec)
    return fit_subtraction(fit1, fit2, n_iterations=iterations, seed=SEED, voxel_p=VOXEL_P,
                           executor=Executor.from_options(n_jobs))


def run_ours(n1: int, n2: int, iterations: int, n_jobs: int) -> dict:
    _quiet()
    s1, s2 = _groups(n1, n2)
    start = time.perf_counter()
    result = _ours(s1, s2, iterations, n_jobs)
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return {"seconds": seconds, "rss_gib": rss, "n1": result.n1, "n2": result.n2,
            "threshold": result.cluster_forming_threshold}


def run_nimare(n1: int, n2: int, iterations: int) -> dict:
    _quiet()
    import numpy as np
    from nimare.correct import FWECorrector
    from nimare.meta.cbma.ale import ALESubtraction

    from ale_app.stats.subtraction import NIMARE_MAP_NAMES, NIMARE_NULL_KEYS, NIMARE_THRESHOLD_KEY

    s1, s2 = _groups(n1, n2)
    kernel = {"kernel__sample_size": SAMPLE_SIZE}
    start = time.perf_counter()
    result = ALESubtraction(n_iters=iterations, random_state=SEED, n_cores=1, **kernel).fit(s1, s2)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    corrected = FWECorrector(method="montecarlo", voxel_thresh=VOXEL_P, n_iters=iterations,
                             n_cores=1).transform(result)
    fwe_seconds = time.perf_counter() - start
    # The part of a fit that does not grow with the permutations (after the first fit, so
    # that start-up costs are not counted in it).
    start = time.perf_counter()
    ALESubtraction(n_iters=1, random_state=SEED, n_cores=1, **kernel).fit(s1, s2)
    fixed_seconds = time.perf_counter() - start
    ours = _ours(s1, s2, iterations, 1)
    nulls = corrected.estimator.null_distributions_
    diffs = [float(np.max(np.abs(ours.null[c].to_numpy(float) - np.asarray(nulls[k], float))))
             for c, k in NIMARE_NULL_KEYS.items()]
    diffs.append(abs(ours.cluster_forming_threshold - float(nulls[NIMARE_THRESHOLD_KEY])))
    diffs += [float(np.max(np.abs(np.asarray(getattr(ours, name + "_values"), float)
                                  - np.asarray(corrected.get_map(key, return_type="array"), float))))
              for name, key in NIMARE_MAP_NAMES.items()]
    return {"fixed_seconds": fixed_seconds, "fit_seconds": fit_seconds, "fwe_seconds": fwe_seconds,
            "iterations": iterations, "max_abs_diff": max(diffs)}


def _child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["failed"])[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _size(text: str) -> tuple[int, int]:
    if text == "all":
        return 0, 0
    a, _, b = text.partition(":")
    return int(a), int(b or a)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["25:25"],
                        help="N1:N2 (first N1 n-back vs first N2 flanker analyses) or 'all' (500 vs 406)")
    parser.add_argument("--iterations", type=int, nargs="+", default=[10000],
                        help="ale-app permutations, one for all sizes or one per size")
    parser.add_argument("--nimare-iterations", type=int, nargs="+", default=[40],
                        help="NiMARE permutations actually run (then extrapolated), one per size")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--ours", nargs=4, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--nimare", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.ours:
        print(json.dumps(run_ours(*args.ours)))
        return 0
    if args.nimare:
        print(json.dumps(run_nimare(*args.nimare)))
        return 0

    def per_size(values, i):
        return values[i] if len(values) > i else values[-1]

    from importlib.metadata import version

    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} CPUs usable, "
          f"load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}")
    print(f"nimare {version('nimare')}, ale-app {version('ale-app')}; seed {SEED}, voxel p < {VOXEL_P}, "
          f"sample size {SAMPLE_SIZE}; NiMARE n_cores=1")
    header = (f"{'groups':>9} {'perms':>6} {'NiMARE s':>10} {'ale-app 1 job s':>15} {'ratio':>7} "
              f"{f'ale-app {args.n_jobs} jobs s':>16} {'ratio':>7} {'max |diff|':>10} {'peak RSS GiB':>12}")
    print(header)
    print("-" * len(header))
    for i, text in enumerate(args.sizes):
        n1, n2 = _size(text)
        iterations = per_size(args.iterations, i)
        k = min(iterations, per_size(args.nimare_iterations, i))
        try:
            theirs = _child(["--nimare", str(n1), str(n2), str(k)])
            serial = _child(["--ours", str(n1), str(n2), str(iterations), "1"])
            parallel = _child(["--ours", str(n1), str(n2), str(iterations), str(args.n_jobs)])
        except RuntimeError as exc:
            print(f"{text:>9} failed: {exc}", flush=True)
            continue
        fixed = theirs["fixed_seconds"]
        per_perm = max(0.0, theirs["fit_seconds"] + theirs["fwe_seconds"] - fixed) / k
        nimare_s = fixed + per_perm * iterations
        label = f"{nimare_s:.1f}" + ("*" if k < iterations else "")
        groups = f"{serial['n1']}v{serial['n2']}"
        print(f"{groups:>9} {iterations:>6} {label:>10} {serial['seconds']:>15.1f} "
              f"{nimare_s / serial['seconds']:>7.1f} {parallel['seconds']:>16.1f} "
              f"{nimare_s / parallel['seconds']:>7.1f} {theirs['max_abs_diff']:>10.2g} "
              f"{max(serial['rss_gib'], parallel['rss_gib']):>12.2f}", flush=True)
        print(f"{'':>9} NiMARE: {k} permutations run; fit with 1 permutation {fixed:.1f} s, "
              f"fit {theirs['fit_seconds']:.1f} s + FWE {theirs['fwe_seconds']:.1f} s "
              f"= {per_perm:.3f} s per permutation", flush=True)
    print("* NiMARE extrapolated: (fit with 1 permutation) + (fit + FWECorrector at --nimare-iterations, "
          "less that) / those permutations x permutations; max |diff| compares nulls, threshold and all "
          "maps at NiMARE's permutation count; ale-app times include both groups' ALE fits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
