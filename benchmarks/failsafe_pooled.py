"""Measurement: the choices behind ale-app's fail-safe N (the number of noise experiments a
cluster survives in half of the noise draws), between two seeds.

The fail-safe N that ale-app reported before was the median over repeats of each repeat's first
failure; on the first 25 analyses of NiMARE's n-back/flanker studyset it differed by up to 57%
between seeds 3 and 4 at 5 repeats. This script measured the design ale-app now runs
(``stats/failsafe.py``; ``benchmarks/failsafe_seeds.py`` measures the product itself) against
other estimators and numbers of tests and iterations, with the FWE clusters held fixed:

- every test is its own noise draw (repeat ``t`` of ``stats.failsafe.draw_noise``) with its own
  Monte Carlo seed (``stats.failsafe.montecarlo_seed(seed, t)``), ``--iterations`` (1,000), the
  cluster-forming p 0.001 and alpha 0.05, exactly as one test of ale-app's search;
- the number of noise experiments of each test comes from one up-down staircase per FWE
  cluster, taken in turn (start at 2k with step k; step halved, down to 2, at each reversal;
  up after a survival, down after a failure), so the tests gather near each cluster's
  50% point;
- every test records the survival of every cluster, and a cluster's value is read off all tests:
  the 50% point of a logistic regression of survival on the number of noise experiments
  (``logit``) or on its logarithm (``logit-log``), or the first number at which an isotonic
  (non-increasing) fit of survival falls below one half (``iso``).

It prints, per number of tests T, each cluster's value under the two seeds and their relative
difference ``|a - b| / mean(a, b)``. The FWE clusters are the analysis's own at
``inference.seed`` 3 and 10,000 iterations for both seeds, so only the fail-safe N's draws
differ between the two columns.

Usage::

    python benchmarks/failsafe_pooled.py --seeds 3 4 --tests 240 --out /tmp/fsn-pooled
    python benchmarks/failsafe_pooled.py --seeds 3 4 --tests 240 --out /tmp/fsn-pooled --reuse

Each seed's tests are written to ``<out>/tests-seed<seed>.tsv`` (``t, m, asked_by`` and one
``s<cluster>`` survival column per cluster); ``--reuse`` reads them instead of testing again.
About 2 s per test at 25 experiments on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

SPEC = """spec_version: 1
title: pooled fail-safe N, first 25 n-back/flanker analyses
mode: inferential
input:
  path: nimare:nback_vs_flanker_studyset_2026-07
  outside_field_of_view: keep
  select:
    first: 25
ale:
  sample_size: 20
jackknife:
  enabled: false
inference:
  seed: 3
"""


def analysis(out: Path):
    """The analysis's fit and FWE clusters' peaks (in-mask indices), through ale-app's own steps."""
    from ale_app.result import AnalysisResult
    from ale_app.run import workflow as W
    from ale_app.run.steps import STEPS, StepContext
    from ale_app.run.validate import validate_group
    from ale_app.spec.load import load_spec
    from ale_app.stats import failsafe as F

    spec_path = out / "spec.yaml"
    spec_path.write_text(SPEC)
    spec, spec_dir, _ = load_spec(str(spec_path))
    options = W.RunOptions(n_jobs=2)
    result = AnalysisResult(spec=spec, evidence=validate_group(spec, spec_dir), record=None, timings={})
    context, timer = StepContext(executor=options.executor()), W._Timer(None)
    for step in STEPS:
        if step.name in ("ale", "inference", "fwe-clusters"):
            result = W.run_step(step, result, context, timer)
    fit = result.fit
    labels = np.rint(fit.masker.transform(result.fwe_clusters.label_img)).astype(np.int32).ravel()
    return spec, fit, F.cluster_peaks(fit.stat_values, labels), options.executor()


def staircase(seed: int, n_tests: int, spec, fit, peaks, executor, n_iterations: int = 1000) -> pd.DataFrame:
    from ale_app.stats import failsafe as F
    from ale_app.stats import nimare_adapter as NA
    from ale_app.stats.ale import fit_ale
    from ale_app.stats.montecarlo import montecarlo_fwe

    coords = F.prepared_foci(fit)
    space = NA.null_space_ijk(fit.estimator, "brain")
    affine = fit.masker.mask_img.affine
    k = len(fit.ids)

    def test(m: int, t: int) -> dict[int, bool]:
        noise_foci, _ = F.draw_noise(coords, m, seed, space, affine, "independent", repeat=t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_m = fit_ale(F._dataset(pd.concat([coords, noise_foci], ignore_index=True)), spec.ale)
        inf = montecarlo_fwe(fit=fit_m, voxel_p=0.001, n_iterations=n_iterations, seed=F.montecarlo_seed(seed, t),
                             alpha=0.05, executor=executor)
        passing = np.rint(fit_m.masker.transform(inf.label_img)).astype(np.int64).ravel() > 0
        return {c: bool(passing[i]) for c, i in peaks.items()}

    state = {c: {"m": 2 * k, "step": k, "last": None} for c in peaks}
    rows, started = [], time.perf_counter()
    for t in range(1, n_tests + 1):
        c = list(peaks)[(t - 1) % len(peaks)]
        m = state[c]["m"]
        out = test(m, t)
        rows.append({"t": t, "m": m, "asked_by": c, **{f"s{cc}": v for cc, v in out.items()}})
        st, ok = state[c], out[c]
        if st["last"] is not None and ok != st["last"]:
            st["step"] = max(2, st["step"] // 2)
        st["last"] = ok
        st["m"] = max(0, m + st["step"] if ok else m - st["step"])
        if t % 20 == 0:
            print(f"  seed {seed}: {t} tests, {time.perf_counter() - started:.0f} s", flush=True)
    return pd.DataFrame(rows)


def logit50(m, y, transform=lambda v: v, inverse=lambda v: v) -> float:
    """The 50% point of a logistic regression of ``y`` on ``transform(m)`` (a small ridge on the
    slope keeps it finite when the outcomes separate); 0 below 0, inf when every test survived."""
    from scipy.optimize import minimize

    x, y = transform(np.asarray(m, float)), np.asarray(y, float)
    if y.all():
        return np.inf
    if not y.any():
        return 0.0
    mu, sc = x.mean(), max(x.std(), 1e-9)

    def nll(p):
        z = p[0] + p[1] * (x - mu) / sc
        return np.sum(np.logaddexp(0, z) - y * z) + 1e-3 * p[1] ** 2

    a, b = minimize(nll, [0.0, -1.0], method="BFGS").x
    return max(0.0, float(inverse(mu - a / b * sc))) if b < 0 else np.nan


def iso50(m, y) -> float:
    """The first whole number at which a non-increasing isotonic fit of survival is below 1/2."""
    from sklearn.isotonic import IsotonicRegression

    m, y = np.asarray(m, float), np.asarray(y, float)
    grid = np.arange(0, m.max() + 1)
    below = np.flatnonzero(IsotonicRegression(increasing=False).fit(m, y).predict(grid) < 0.5)
    return float(grid[below[0]]) if len(below) else np.inf


ESTIMATORS = {"logit": logit50, "logit-log": lambda m, y: logit50(m, y, np.log1p, np.expm1), "iso": iso50}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs=2, default=(3, 4))
    parser.add_argument("--tests", type=int, default=240)
    parser.add_argument("--out", default="failsafe-pooled-bench")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--iterations", type=int, default=1000, help="Monte Carlo iterations per test")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tables, context = {}, None
    for seed in args.seeds:
        path = out / f"tests-seed{seed}.tsv"
        if not (args.reuse and path.is_file()):
            context = context or analysis(out)
            staircase(seed, args.tests, *context, n_iterations=args.iterations).to_csv(path, sep="\t", index=False)
        tables[seed] = pd.read_csv(path, sep="\t")
    (sa, a), (sb, b) = tables.items()
    clusters = [int(c[1:]) for c in a.columns if c.startswith("s") and c[1:].isdigit()]
    print(f"{len(clusters)} FWE clusters; {len(a)} and {len(b)} tests; value seed {sa}/seed {sb} (relative difference)")
    for name, estimate in ESTIMATORS.items():
        print(name)
        for n in [n for n in (60, 120, 180, 240, 360, 480, 720, 960) if n <= min(len(a), len(b))]:
            cells = []
            for c in clusters:
                x = estimate(a.m[a.t <= n], a[f"s{c}"][a.t <= n])
                y = estimate(b.m[b.t <= n], b[f"s{c}"][b.t <= n])
                rel = abs(x - y) / ((x + y) / 2) if x + y > 0 and np.isfinite(x + y) else 0.0
                cells.append(f"C{c} {x:.1f}/{y:.1f} ({100 * rel:.0f}%)")
            print(f"  T={n}: " + ", ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
