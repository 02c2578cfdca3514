"""Measurement: how much fail-safe N's reported value moves between two seeds.

Runs ``ale-app`` (inferential mode, ``robustness.failsafe`` enabled at its defaults unless
``--tests-per-cluster``/``--iterations`` say otherwise) on a real evidence base of 25
experiments (the first 25 analyses of NiMARE's bundled n-back/flanker studyset,
``ale.sample_size: 20``) once per seed, both runs side by side with ``--n-jobs 1``. It prints,
per FWE cluster (matched across seeds by its peak), the two seeds' fail-safe N as the written
``desc-failsafe_table.tsv`` gives it, with its 95% interval, and their relative difference
``|a - b| / ((a + b) / 2)``. The first T x C tests of a run (C clusters) are exactly what a run
with ``tests_per_cluster: T`` computes (the staircases take the clusters in turn and each test
has its own stream), so it also prints the values read off the first T tests per cluster for
smaller T, and checks that all tests give the written table.

Usage::

    python benchmarks/failsafe_seeds.py --seeds 5 6 --out /tmp/fsn-seeds
    python benchmarks/failsafe_seeds.py --seeds 5 6 --out /tmp/fsn-seeds --reuse   # read the folders again
    python benchmarks/failsafe_seeds.py --seeds 7 8 --step 1 --out /tmp/fsn-seeds-step1

Every setting not named here is the spec's default (10,000 FWE iterations for the analysis
itself; fail-safe bounds 2k and 10k, smallest step 2, 80 tests per cluster of 200 iterations).
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
robustness:
  failsafe:
    enabled: true
{extra}"""


def start(seed: int, args) -> tuple[Path, subprocess.Popen | None]:
    out = Path(args.out) / f"seed{seed}"
    if args.reuse and (out / "desc-failsafe_table.tsv").is_file():
        return out, None
    extra = "".join(f"    {k}: {v}\n" for k, v in (("tests_per_cluster", args.tests_per_cluster),
                                                    ("n_iterations", args.iterations), ("step", args.step)) if v is not None)
    spec = Path(args.out) / f"seed{seed}.yaml"
    spec.write_text(SPEC.format(first=args.first, seed=seed, extra=extra))
    command = [sys.executable, "-m", "ale_app", str(spec), str(out), "--n-jobs", "1", "--overwrite"]
    return out, subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(f"{out}.log", "w"))


def peaks(out: Path) -> dict[int, tuple]:
    fwe = pd.read_csv(out / "desc-fweclusters_table.tsv", sep="\t")
    main = fwe[fwe["peak"] == "main"] if "peak" in fwe.columns else fwe
    return {int(r.cluster_id): (r.x, r.y, r.z) for r in main.itertuples()}


def main() -> int:
    from ale_app.stats.failsafe import summarize_tests

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs=2, default=(5, 6))
    parser.add_argument("--first", type=int, default=25)
    parser.add_argument("--tests-per-cluster", type=int, default=None)
    parser.add_argument("--iterations", type=int, default=None, help="Monte Carlo iterations per test")
    parser.add_argument("--step", type=int, default=None, help="smallest staircase step")
    parser.add_argument("--out", default="failsafe-seeds-bench")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    runs = [start(seed, args) for seed in args.seeds]
    for out, proc in runs:
        if proc is not None and proc.wait() != 0:
            print(f"ale-app failed for {out} (see {out}.log)")
            return 1
    print(f"both runs done in {time.perf_counter() - started:.0f} s (side by side, --n-jobs 1 each)")
    (out_a, _), (out_b, _) = runs
    tables = [pd.read_csv(o / "desc-failsafe_table.tsv", sep="\t").set_index("cluster_id") for o in (out_a, out_b)]
    tests = [pd.read_csv(o / "desc-failsafetests_table.tsv", sep="\t") for o in (out_a, out_b)]
    side = pd.read_json(out_a / "desc-failsafe_table.json", typ="series")
    lower, upper = int(side["LowerBound"]), int(side["UpperBound"])
    pa, pb = peaks(out_a), peaks(out_b)
    pairs = [(a, b) for a, xyz in pa.items() for b, xyz_b in pb.items() if np.allclose(xyz, xyz_b)]
    print(f"{len(pa)} and {len(pb)} FWE clusters, {len(pairs)} with the same peak; {len(tests[0])} and "
          f"{len(tests[1])} tests; bounds {lower} and {upper}")
    for table, t in zip(tables, tests):
        ids = [int(c.split("_")[1]) for c in t.columns if c.startswith("survives_")]
        again = summarize_tests(t, ids, lower, upper).set_index("cluster_id")
        pd.testing.assert_frame_equal(again, table, check_dtype=False)
    print("the written tables are what all tests give")
    print(f"value seed {args.seeds[0]} [95% CI] / seed {args.seeds[1]} [95% CI] (relative difference)")
    n_per = min(len(tests[0]) // len(pa), len(tests[1]) // len(pb))
    for per in sorted({p for p in (10, 20, 40, 60, n_per) if p <= n_per}):
        cells = []
        for a, b in pairs:
            fits = []
            for t, c, n_clusters in ((tests[0], a, len(pa)), (tests[1], b, len(pb))):
                head = t.iloc[:per * n_clusters]
                fits.append(summarize_tests(head, [c], lower, upper).iloc[0])
            x, y = fits[0]["failsafe_n"], fits[1]["failsafe_n"]
            rel = abs(x - y) / ((x + y) / 2) if x + y > 0 else 0.0
            cells.append(f"F{a} {x:.1f} [{fits[0]['ci_low']:.1f}-{fits[0]['ci_high']:.1f}] / {y:.1f} "
                         f"[{fits[1]['ci_low']:.1f}-{fits[1]['ci_high']:.1f}] ({100 * rel:.0f}%)")
        print(f"  {per} tests per cluster: " + "; ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
