"""Benchmark: ale-app's Monte Carlo FWE against NiMARE's ALE + FWECorrector, one run.

For each N it runs, each in its own process:

- ale-app: ``montecarlo_fwe`` (ale-app's one ALE fit included) with ``--iterations`` iterations
  and ``--n-jobs`` workers; its wall time and the peak RSS of that process;
- NiMARE: ``ALE(random_state=seed).fit`` + ``FWECorrector(method="montecarlo",
  n_cores=1)``. Where the full run would take too long it runs ``--nimare-iterations``
  iterations and extrapolates (fit + per-iteration time x iterations); those rows are
  marked ``*``. ale-app is then run again with NiMARE's iteration count and seed, and
  ``max |diff|`` is the largest difference between the two sets of null values (max ALE,
  max cluster size, max cluster mass). (With another iteration count NiMARE draws a
  differently shaped random matrix, so nulls are compared at equal counts.)

With ``--end-to-end`` it also times the whole ale-app run of the bundled example
``example:pain-inferential`` (21 analyses, 10,000 iterations, every output and figure) on
``--n-jobs`` workers, in a fresh process as a user runs it.

With ``--first-run`` it measures the compile pause: ``ale-app example:pain-inferential`` in a
fresh process with an empty numba cache (numba compiles the kernels, as the first run after a
pip install), again with that cache warm (as every later run), and once more with an empty
cache and a bundle made by ``ale-app --precompile`` (as every run in the images); the first
run's extra time is the difference between the first two.

Usage::

    python benchmarks/inference.py                      # 21 (pain), 100, 200, 906 (n-back)
    python benchmarks/inference.py --sizes 21 --iterations 10000 --nimare-iterations 10000 --end-to-end
    python benchmarks/inference.py --sizes --first-run     # the compile pause only
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


def _studyset(n: int):
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    name = "nidm_pain_studyset.json" if n <= 21 else "nback_vs_flanker_studyset_2026-07"
    studyset = Studyset(os.path.join(get_resource_path(), name), target="mni152_2mm")
    return studyset.slice(list(studyset.ids[:n])), name


def _kernel(n: int) -> dict:
    return {} if n <= 21 else {"sample_size": 20}


def _quiet():
    warnings.simplefilter("ignore")
    logging.disable(logging.INFO)
    os.environ.setdefault("TQDM_DISABLE", "1")


def run_ours(n: int, iterations: int, n_jobs: int) -> dict:
    _quiet()
    from ale_app.process.executor import Executor
    from ale_app.stats.montecarlo import montecarlo_fwe

    studyset, _ = _studyset(n)
    start = time.perf_counter()
    result = montecarlo_fwe(studyset, **_kernel(n), n_iterations=iterations, seed=SEED,
                           executor=Executor.from_options(n_jobs))
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return {"seconds": seconds, "rss_gib": rss, "n_foci": result.n_foci,
            "clusters": int(len(result.clusters))}


def run_nimare(n: int, iterations: int) -> dict:
    _quiet()
    import numpy as np
    from nimare.correct import FWECorrector

    from ale_app.stats.montecarlo import NIMARE_NULL_KEYS, fit_ale_estimator, montecarlo_fwe

    studyset, _ = _studyset(n)
    start = time.perf_counter()
    _, result = fit_ale_estimator(studyset, **_kernel(n), seed=SEED)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    corrected = FWECorrector(method="montecarlo", voxel_thresh=0.001, n_iters=iterations,
                             n_cores=1).transform(result)
    fwe_seconds = time.perf_counter() - start
    ours = montecarlo_fwe(studyset, **_kernel(n), n_iterations=iterations, seed=SEED)
    nulls = corrected.estimator.null_distributions_
    diff = max(float(np.max(np.abs(ours.null[col].to_numpy(float) - np.asarray(nulls[key], float))))
               for col, key in NIMARE_NULL_KEYS.items())
    return {"fit_seconds": fit_seconds, "fwe_seconds": fwe_seconds, "iterations": iterations,
            "max_abs_diff": diff}


def _child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["failed"])[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _timed_example(out: str, n_jobs: int, env: dict) -> tuple[float, str]:
    """Wall time of ``ale-app example:pain-inferential OUT`` in a fresh process, and its stderr."""
    command = [sys.executable, "-m", "ale_app", "example:pain-inferential", out, "--n-jobs", str(n_jobs)]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {(proc.stderr.strip().splitlines() or [''])[-1]}")
    return seconds, proc.stderr


def first_run(n_jobs: int) -> None:
    """The first inferential run's extra time: empty numba cache, warm cache, precompiled bundle."""
    import tempfile

    from ale_app.process.numba_cache import BUNDLE_ENV

    with tempfile.TemporaryDirectory() as tmp:
        base = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
        fresh = {**base, "NUMBA_CACHE_DIR": os.path.join(tmp, "cache"), BUNDLE_ENV: os.path.join(tmp, "none")}
        first, log = _timed_example(os.path.join(tmp, "first"), n_jobs, fresh)
        compiled = "Compiling the Monte Carlo kernels" in log
        second, log2 = _timed_example(os.path.join(tmp, "second"), n_jobs, fresh)
        bundle = os.path.join(tmp, "bundle")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ale_app", "--precompile", "-q"], check=True, capture_output=True,
                       env={**base, BUNDLE_ENV: bundle})
        precompile_s = time.perf_counter() - start
        seeded, log3 = _timed_example(os.path.join(tmp, "seeded"), n_jobs,
                                      {**base, "NUMBA_CACHE_DIR": os.path.join(tmp, "cache2"), BUNDLE_ENV: bundle})
    print(f"first-run compile pause, ale-app example:pain-inferential --n-jobs {n_jobs}, each in a fresh process:")
    print(f"  {'empty numba cache (first run, compiles)':<48} {first:6.1f} s{'' if compiled else ' (no compile logged!)'}")
    print(f"  {'same cache, warm (second run)':<48} {second:6.1f} s{'' if 'Compiling' not in log2 else ' (compiled!)'}")
    print(f"  {'first run extra time':<48} {first - second:6.1f} s")
    print(f"  {'empty cache + precompiled copy (as the images)':<48} {seeded:6.1f} s"
          f"{'' if 'Compiling' not in log3 else ' (compiled!)'}   ('ale-app --precompile': {precompile_s:.1f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[21, 100, 200, 906])
    parser.add_argument("--iterations", type=int, nargs="+", default=[10000],
                        help="ale-app iterations, one for all sizes or one per size")
    parser.add_argument("--nimare-iterations", type=int, nargs="+", default=[200, 50, 20, 5],
                        help="NiMARE iterations actually run (then extrapolated), one per size")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--end-to-end", action="store_true",
                        help="also time 'ale-app example:pain-inferential' end to end")
    parser.add_argument("--first-run", action="store_true",
                        help="also time the first inferential run in an empty numba cache against the "
                        "second, and one with a precompiled bundle (as in the images)")
    parser.add_argument("--ours", nargs=3, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--nimare", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.ours:
        print(json.dumps(run_ours(*args.ours)))
        return 0
    if args.nimare:
        print(json.dumps(run_nimare(*args.nimare)))
        return 0

    def per_size(values, i):
        return values[i] if len(values) > i else values[-1]

    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} CPUs usable, "
          f"load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}")
    from importlib.metadata import version

    print(f"nimare {version('nimare')}, ale-app {version('ale-app')}; seed {SEED}, voxel p < 0.001; "
          f"NiMARE FWECorrector n_cores=1, ale-app n_jobs={args.n_jobs}")
    if args.sizes:
        header = (f"{'N':>5} {'foci':>6} {'iterations':>10} {'NiMARE s':>12} {'ale-app s':>10} {'ratio':>7} "
                  f"{'max |diff|':>10} {'peak RSS GiB':>12}")
        print(header)
        print("-" * len(header))
        for i, n in enumerate(args.sizes):
            iterations = per_size(args.iterations, i)
            k = min(iterations, per_size(args.nimare_iterations, i))
            try:
                theirs = _child(["--nimare", str(n), str(k)])
                ours = _child(["--ours", str(n), str(iterations), str(args.n_jobs)])
            except RuntimeError as exc:
                print(f"{n:>5} failed: {exc}", flush=True)
                continue
            nimare_s = theirs["fit_seconds"] + theirs["fwe_seconds"] / k * iterations
            label = f"{nimare_s:.1f}" + ("*" if k < iterations else "")
            print(f"{n:>5} {ours['n_foci']:>6} {iterations:>10} {label:>12} {ours['seconds']:>10.1f} "
                  f"{nimare_s / ours['seconds']:>7.1f} {theirs['max_abs_diff']:>10.2g} {ours['rss_gib']:>12.2f}",
                  flush=True)
        print("* NiMARE extrapolated: fit time + (time of its FWECorrector at --nimare-iterations) / "
              "those iterations x iterations; max |diff| compares both at NiMARE's iteration count")
    if args.end_to_end:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            command = [sys.executable, "-m", "ale_app", "example:pain-inferential", os.path.join(tmp, "out"),
                       "--n-jobs", str(args.n_jobs), "-q"]
            start = time.perf_counter()
            proc = subprocess.run(command, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - start
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
        print(f"ale-app example:pain-inferential end to end (10,000 iterations, all outputs), "
              f"--n-jobs {args.n_jobs}: {seconds:.1f} s wall ({status}); "
              f"largest child peak RSS {usage.ru_maxrss / 1024**2:.2f} GiB")
    if args.first_run:
        first_run(args.n_jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
