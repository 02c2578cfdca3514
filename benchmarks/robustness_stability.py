"""Benchmark: ale-app's robustness analyses against NiMARE's, one run, at equal cores.

Parts (``--part``, repeatable; default: every part this file has):

- ``stability``: subsampling stability on a seeded generated evidence base of ``--experiments``
  experiments (default 25, a planted cluster plus random foci, sample sizes 8 to 40). Each side
  runs in its own process with ``--n-jobs`` cores:

  * NiMARE: ``ALE(random_state=seed).fit`` + ``FWECorrector(method="montecarlo",
    n_iters=iterations, n_cores=n_jobs)``, then, timed, ``ResampledStability(target_n=subset_size,
    n_resamples=subsets, random_state=seed, n_cores=n_jobs).transform``;
  * ale-app: what a run does before its stability step: the ALE fit and the Monte Carlo FWE
    (``iterations``, ``n_jobs`` threads); then, timed,
    :func:`ale_app.stats.stability.resampled_stability` with the same settings on ``--n-jobs``
    threads.

  It prints both times, their ratio, each process's peak RSS, and ``max |diff|`` between the two
  stability maps (they must be equal). Both timed regions start with no grey-matter prior in
  the process: NiMARE resamples the template's (about a second); ale-app reads the prior it
  ships (:mod:`ale_app.stats.gm_prior`, equal to NiMARE's) inside its timed region.

A later part (the balanced contrast) adds itself as another ``--part`` value: a function
``part_<name>(args) -> list[str]`` registered in :data:`PARTS`, with its own child commands.

Usage::

    python benchmarks/robustness_stability.py --part stability
    python benchmarks/robustness_stability.py --part stability --iterations 10000 --subsets 1000 --n-jobs 2
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
import tempfile
import time
import warnings
from pathlib import Path

SEED = 0
ROOT = Path(__file__).resolve().parent.parent


def _quiet():
    logging.disable(logging.INFO)
    warnings.simplefilter("ignore")


def _dataset(n_experiments: int):
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers.studysets import planted_dataset

    return planted_dataset(n_experiments=n_experiments, seed=7)


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


# --------------------------------------------------------------------------- stability


def stability_ours(n: int, iterations: int, subsets: int, subset_size: int, n_jobs: int, out: str) -> dict:
    import numpy as np

    from ale_app.process.executor import Executor
    from ale_app.spec.models import ALESpec
    from ale_app.stats.ale import fit_ale
    from ale_app.stats.mc_kernels import _compiled
    from ale_app.stats.montecarlo import montecarlo_fwe
    from ale_app.stats.stability import resampled_stability

    _quiet()
    _compiled()  # compiled (or loaded from numba's cache) before the clock starts
    executor = Executor.from_options(n_jobs=n_jobs, backend="threading")
    setup = time.perf_counter()
    fit = fit_ale(_dataset(n), ALESpec())
    montecarlo_fwe(fit=fit, voxel_p=0.001, n_iterations=iterations, seed=SEED, executor=executor)
    setup = time.perf_counter() - setup
    start = time.perf_counter()
    result = resampled_stability(fit, subset_size=subset_size, n_subsets=subsets, n_iterations=iterations,
                                 seed=SEED, executor=executor)
    seconds = time.perf_counter() - start
    np.save(out, result.frequency_values)
    return {"seconds": seconds, "peak_gib": _peak_gib(), "setup": setup}


def stability_nimare(n: int, iterations: int, subsets: int, subset_size: int, n_jobs: int, out: str) -> dict:
    import numpy as np
    from nimare.correct import FWECorrector
    from nimare.diagnostics import ResampledStability
    from nimare.meta.cbma.ale import ALE

    _quiet()
    setup = time.perf_counter()
    result = ALE(random_state=SEED).fit(_dataset(n))
    corrected = FWECorrector(method="montecarlo", voxel_thresh=0.001, n_iters=iterations,
                             n_cores=n_jobs).transform(result)
    setup = time.perf_counter() - setup
    start = time.perf_counter()
    stab = ResampledStability(target_n=subset_size, n_resamples=subsets, random_state=SEED, voxel_thresh=0.001,
                              n_cores=n_jobs).transform(corrected)
    seconds = time.perf_counter() - start
    name = [k for k in stab.maps if k.endswith("_diag-ResampledStability")][0]
    np.save(out, np.asarray(stab.get_map(name, return_type="array")).ravel())
    return {"seconds": seconds, "peak_gib": _peak_gib(), "setup": setup}


def part_stability(args) -> list[str]:
    import numpy as np

    settings = [str(args.experiments), str(args.iterations), str(args.subsets), str(args.subset_size),
                str(args.n_jobs)]
    with tempfile.TemporaryDirectory() as tmp:
        ours_map, nimare_map = os.path.join(tmp, "ours.npy"), os.path.join(tmp, "nimare.npy")
        ours = _child(["--child", "stability-ours", *settings, ours_map])
        nimare = _child(["--child", "stability-nimare", *settings, nimare_map])
        diff = float(np.abs(np.load(ours_map).astype(np.float64) - np.load(nimare_map)).max())
    return [
        f"stability: {args.experiments} experiments, subsets of {args.subset_size}, {args.subsets} subsets, "
        f"{args.iterations} null draws, seed {SEED}, {args.n_jobs} core(s) each",
        f"  NiMARE ResampledStability  {nimare['seconds']:9.2f} s   peak RSS {nimare['peak_gib']:.2f} GiB"
        f"   (untimed fit + FWE {nimare['setup']:.1f} s)",
        f"  ale-app resampled_stability {ours['seconds']:8.2f} s   peak RSS {ours['peak_gib']:.2f} GiB"
        f"   (untimed fit + FWE {ours['setup']:.1f} s)",
        f"  ratio (NiMARE / ale-app)   {nimare['seconds'] / ours['seconds']:9.1f} x   (goal: at least 30 x)",
        f"  max |diff| of the maps     {diff:.3g}",
    ]


#: Each part: its function, and the child commands it runs (name -> function).
PARTS = {"stability": part_stability}
CHILDREN = {"stability-ours": stability_ours, "stability-nimare": stability_nimare}


# --------------------------------------------------------------------------- driver


def _child(args: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"child {args[:2]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", action="append", choices=sorted(PARTS), help="which part(s) to run")
    parser.add_argument("--experiments", type=int, default=25)
    parser.add_argument("--iterations", type=int, default=1000, help="null draws (FWECorrector's n_iters)")
    parser.add_argument("--subsets", type=int, default=100)
    parser.add_argument("--subset-size", type=int, default=20)
    parser.add_argument("--n-jobs", type=int, default=1, help="cores for each side")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, *rest = args.child
        numbers, out = [int(v) for v in rest[:-1]], rest[-1]
        print(json.dumps(CHILDREN[name](*numbers, out)))
        return 0
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    for part in args.part or sorted(PARTS):
        for line in PARTS[part](args):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
