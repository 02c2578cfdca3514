"""Measurement: how much fail-safe N's reported value moves between seeds, per number of repeats.

Runs ``ale-app`` (inferential mode, ``robustness.failsafe`` enabled) on a real evidence base of
25 experiments (the first 25 analyses of NiMARE's bundled n-back/flanker studyset, as in
``examples/nback-flanker-906.yaml``) once per seed, with ``--max-repeats`` repeats of the noise
draw. Repeat r's noise comes from the run's seed and r only (spawn key (0x4653, r)), and each
repeat's search uses only its own tests, so the first R repeats of a run are exactly what a run
with ``repeats: R`` computes: the script recomputes, from each run's tests table
(``desc-failsafetests_table.tsv``), the per-repeat fail-safe N by the table's definition and the
median over the first R repeats, for every R, and prints per FWE cluster (matched across seeds
by their peak) the medians of the two seeds and their relative difference
``|a - b| / ((a + b) / 2)``. It also checks that the medians over all repeats equal the
written ``desc-failsafe_table.tsv``.

Usage::

    python benchmarks/failsafe_repeats.py --seeds 3 4 --max-repeats 5 --out /tmp/fsn-bench

Every setting not named here is the spec's default (10,000 FWE iterations for the analysis
itself, fail-safe N bounds 2k and 10k, step 1, 1,000 Monte Carlo iterations per test).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

SPEC = """spec_version: 1
title: fail-safe N between seeds, first {first} n-back/flanker analyses
mode: inferential
input:
  path: nimare:nback_vs_flanker_studyset_2026-07
  outside_field_of_view: keep
  select:
    first: {first}
ale:
  sample_size: 20
jackknife:
  enabled: false
figures:
  formats: [png]
  dpi: 50
inference:
  seed: {seed}
{iterations}robustness:
  failsafe:
    enabled: true
    repeats: {repeats}
{fs_iterations}"""


def failsafe_per_repeat(tests: pd.DataFrame) -> pd.DataFrame:
    """Per repeat and cluster, the fail-safe N by the definition, read off the tests table: the
    largest tested m such that the cluster survived at every tested number up to m (0 counts as
    survived)."""
    rows = []
    for r, block in tests.groupby("repeat", sort=True):
        block = block.sort_values("n_noise")
        for col in [c for c in tests.columns if c.startswith("survives_")]:
            fsn = 0
            for m, ok in zip(block["n_noise"], block[col].astype(str).str.lower() == "true"):
                if not ok:
                    break
                fsn = int(m)
            rows.append({"repeat": int(r), "cluster_id": int(col.split("_")[1]), "failsafe_n": fsn})
    return pd.DataFrame(rows)


def run(seed: int, args) -> Path:
    out = Path(args.out) / f"seed-{seed}"
    if args.reuse and (out / "desc-failsafetests_table.tsv").is_file():
        return out
    Path(args.out).mkdir(parents=True, exist_ok=True)
    spec = Path(args.out) / f"seed-{seed}.yaml"
    spec.write_text(SPEC.format(
        first=args.first, seed=seed, repeats=args.max_repeats,
        iterations=f"  n_iterations: {args.iterations}\n" if args.iterations else "",
        fs_iterations=f"    n_iterations: {args.failsafe_iterations}\n" if args.failsafe_iterations else ""))
    command = ["ale-app", str(spec), str(out), "--n-jobs", str(args.n_jobs), "--overwrite"]
    print("$", " ".join(command), flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True)
    print(f"  seed {seed}: {time.perf_counter() - started:.0f} s", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs=2, default=(3, 4))
    parser.add_argument("--first", type=int, default=25)
    parser.add_argument("--max-repeats", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=None, help="inference.n_iterations (default: the spec's)")
    parser.add_argument("--failsafe-iterations", type=int, default=None,
                        help="robustness.failsafe.n_iterations (default: the spec's)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default="failsafe-repeats-bench")
    parser.add_argument("--reuse", action="store_true", help="read earlier runs in --out instead of re-running")
    parser.add_argument("--resample", type=int, default=2000,
                        help="draws of the resampling estimate per number of repeats (0: none)")
    parser.add_argument("--min-value", type=float, default=10,
                        help="clusters whose pooled median fail-safe N is below this are left out of the resampling")
    args = parser.parse_args()

    import os
    import platform
    from datetime import datetime, timezone

    commit = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit or '?'}, {platform.node()}, "
          f"{os.cpu_count()} CPUs, load {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    per_seed = {}
    for seed in args.seeds:
        out = run(seed, args)
        tests = pd.read_csv(out / "desc-failsafetests_table.tsv", sep="\t")
        per_repeat = failsafe_per_repeat(tests)
        table = pd.read_csv(out / "desc-failsafe_table.tsv", sep="\t").set_index("cluster_id")
        medians = per_repeat.groupby("cluster_id")["failsafe_n"].median()
        assert np.allclose(medians.sort_index().to_numpy(), table.sort_index()["failsafe_n"].to_numpy()), \
            "the written table disagrees with the tests table"
        fwe = pd.read_csv(out / "desc-fweclusters_table.tsv", sep="\t").query("peak == 'main'")
        peaks = {int(r.cluster_id): (float(r.x), float(r.y), float(r.z)) for r in fwe.itertuples()}
        per_seed[seed] = (per_repeat, peaks, len(tests))
        print(f"seed {seed}: {len(peaks)} FWE clusters, {len(tests)} tests over {per_repeat['repeat'].nunique()} "
              f"repeats", flush=True)
    (a_rep, a_peaks, _), (b_rep, b_peaks, _) = (per_seed[s] for s in args.seeds)
    pairs = [(ca, cb) for ca, pa in a_peaks.items() for cb, pb in b_peaks.items() if pa == pb]
    print(f"clusters with the same peak under both seeds: {len(pairs)} "
          f"(of {len(a_peaks)} and {len(b_peaks)})")
    sa, sb = args.seeds
    print(f"\nper-repeat fail-safe N (repeats 1..{args.max_repeats})")
    for ca, cb in pairs:
        va = a_rep[a_rep.cluster_id == ca].sort_values("repeat")["failsafe_n"].tolist()
        vb = b_rep[b_rep.cluster_id == cb].sort_values("repeat")["failsafe_n"].tolist()
        print(f"  cluster at {a_peaks[ca]}: seed {sa} {va}; seed {sb} {vb}")
    print(f"\nreported value (median over the first R repeats), seed {sa} vs seed {sb}, "
          "relative difference |a - b| / mean(a, b)")
    for n in range(1, args.max_repeats + 1):
        worst, cells = 0.0, []
        for ca, cb in pairs:
            ma = float(a_rep[(a_rep.cluster_id == ca) & (a_rep.repeat <= n)]["failsafe_n"].median())
            mb = float(b_rep[(b_rep.cluster_id == cb) & (b_rep.repeat <= n)]["failsafe_n"].median())
            rel = abs(ma - mb) / ((ma + mb) / 2) if ma + mb else 0.0
            worst = max(worst, rel)
            cells.append(f"{ma:g} vs {mb:g} ({100 * rel:.1f}%)")
        print(f"  R={n}: " + "; ".join(cells) + f"  -> max {100 * worst:.1f}%")
    if args.resample:
        resampled(a_rep, b_rep, pairs, a_peaks, args)
    return 0


def resampled(a_rep, b_rep, pairs, peaks, args) -> None:
    """Each repeat is an independent run of the whole procedure (its own noise and its own Monte
    Carlo seed), so both seeds' per-repeat values of a cluster are draws from one distribution:
    pool them and draw, with replacement, two runs of R repeats many times; print per R the
    median and the 90th percentile over draws of the largest relative difference between the two
    runs' medians (over the clusters with values of at least ``--min-value``, since a difference
    of one noise experiment is already 29% at 3 vs 4)."""
    rng = np.random.default_rng(0)
    pools = {}
    for ca, cb in pairs:
        values = np.concatenate([a_rep[a_rep.cluster_id == ca]["failsafe_n"].to_numpy(float),
                                 b_rep[b_rep.cluster_id == cb]["failsafe_n"].to_numpy(float)])
        if np.median(values) >= args.min_value:
            pools[peaks[ca]] = values
    print(f"\nresampled (pooled per-repeat values of both seeds, {args.resample} draws per R; clusters whose "
          f"pooled median is at least {args.min_value}: {len(pools)}): largest relative difference between two "
          "runs' medians")
    for n in (1, 3, 5, 7, 9, 11, 15, 21, 31):
        worst = np.zeros(args.resample)
        for values in pools.values():
            a = np.median(rng.choice(values, (args.resample, n)), axis=1)
            b = np.median(rng.choice(values, (args.resample, n)), axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = np.where(a + b > 0, np.abs(a - b) / ((a + b) / 2), 0.0)
            worst = np.maximum(worst, rel)
        print(f"  R={n:2d}: median {100 * np.median(worst):5.1f}%, "
              f"90th percentile {100 * np.quantile(worst, 0.9):5.1f}%")


if __name__ == "__main__":
    sys.exit(main())
