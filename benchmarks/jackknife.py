"""Benchmark: ale-app's closed-form jackknife against NiMARE's Jackknife, same machine, one run.

For each N it fits ALE, defines descriptive clusters as ale-app does (95th percentile of the
nonzero ALE values, clusters of at least 500 voxels), then times NiMARE's
``Jackknife(target_image="stat")`` and ale-app's closed form on the same result, and
reports their ratio, the largest absolute difference between the two tables, and the
peak RSS of the process that ran that N (each N runs in its own process).

Where NiMARE's jackknife would take too long (``--extrapolate-above``, default 300
analyses), it times a few of NiMARE's leave-one-out refits and multiplies the mean by N;
those rows are marked "extrapolated" and their difference covers only the refitted rows.

Usage::

    python benchmarks/jackknife.py                 # N = 8, 21 (pain), 100, 200, 906 (n-back)
    python benchmarks/jackknife.py --sizes 8 100   # a subset
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings

CLUSTER_VOXELS = 500


def _studyset(n: int):
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    name = "nidm_pain_studyset.json" if n <= 21 else "nback_vs_flanker_studyset_2026-07"
    studyset = Studyset(os.path.join(get_resource_path(), name), target="mni152_2mm")
    return studyset.slice(list(studyset.ids[:n])), name


def run_one(n: int, extrapolate_above: int, n_refits: int) -> dict:
    import numpy as np
    from nimare.diagnostics import Jackknife
    from nimare.meta.cbma.ale import ALE

    from ale_app.stats import ale as A
    from ale_app.stats.jackknife import closed_form_contributions
    from ale_app.spec.models import ALESpec

    warnings.simplefilter("ignore")
    studyset, source = _studyset(n)
    ale_spec = ALESpec() if n <= 21 else ALESpec(sample_size=20)
    nimare_kwargs = {} if n <= 21 else {"kernel__sample_size": 20}

    start = time.perf_counter()
    result = ALE(**nimare_kwargs).fit(studyset)
    nimare_fit = time.perf_counter() - start

    start = time.perf_counter()
    fit = A.fit_ale(studyset, ale_spec)
    ours_fit = time.perf_counter() - start

    threshold = A.display_threshold(fit.stat_values, 95)
    clusters = A.find_clusters(fit.stat_img, threshold, CLUSTER_VOXELS * 8.0)
    labels = np.rint(fit.masker.transform(clusters.label_img)).astype(int).ravel()
    ids = list(studyset.ids)

    start = time.perf_counter()
    ours = closed_form_contributions(fit.ma, fit.ids, fit.stat_values, labels, clusters.labels, ids)
    ours_jk = time.perf_counter() - start
    cols = [c for c in ours.columns if c.startswith("cluster_")]

    extrapolated = n > extrapolate_above
    if not extrapolated:
        start = time.perf_counter()
        diag = Jackknife(target_image="stat", voxel_thresh=threshold, cluster_threshold=CLUSTER_VOXELS,
                         n_cores=1).transform(result)
        nimare_jk = time.perf_counter() - start
        ref = diag.tables["stat_diag-Jackknife_tab-counts_tail-positive"].set_index("id")
        ref.columns = [f"cluster_{c.split()[-1]}" for c in ref.columns]
        diff = float(np.max(np.abs(ours.set_index("id").loc[ref.index, cols].to_numpy(float)
                                   - ref[cols].to_numpy(float))))
    else:
        stat = fit.stat_values
        idx = [np.flatnonzero(labels == lab) for lab in clusters.labels]
        diffs, times = [], []
        for left in ids[:n_refits]:
            start = time.perf_counter()
            loo = ALE(**nimare_kwargs).fit(studyset.slice([i for i in ids if i != left]))
            loo_values = loo.get_map("stat", return_type="array")
            with np.errstate(divide="ignore", invalid="ignore"):
                red = 1 - np.nan_to_num(np.true_divide(loo_values, stat))
            row = np.array([np.mean(red[i]) for i in idx])
            times.append(time.perf_counter() - start)
            mine = ours.set_index("id").loc[left, cols].to_numpy(float)
            diffs.append(float(np.max(np.abs(mine - row))))
        nimare_jk = float(np.mean(times)) * n
        diff = max(diffs)
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return {
        "N": n, "source": source, "clusters": len(clusters.labels), "nimare_fit_s": nimare_fit,
        "ale_app_fit_s": ours_fit, "nimare_jackknife_s": nimare_jk, "ale_app_jackknife_s": ours_jk,
        "ratio": nimare_jk / ours_jk, "max_abs_diff": diff, "peak_rss_gib": rss_gib,
        "extrapolated": extrapolated,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 21, 100, 200, 906])
    parser.add_argument("--extrapolate-above", type=int, default=300)
    parser.add_argument("--refits", type=int, default=3, help="NiMARE refits timed when extrapolating")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one is not None:
        print(json.dumps(run_one(args.one, args.extrapolate_above, args.refits)))
        return 0

    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} CPUs usable, "
          f"Python {platform.python_version()}, {platform.platform()}")
    from importlib.metadata import version

    print(f"nimare {version('nimare')}, ale-app {version('ale-app')}; NiMARE Jackknife with n_cores=1; "
          f"clusters >= {CLUSTER_VOXELS} voxels above the 95th percentile")
    header = (f"{'N':>5} {'clusters':>8} {'NiMARE fit s':>12} {'ale-app fit s':>13} {'NiMARE jk s':>14} "
              f"{'ale-app jk s':>12} {'ratio':>9} {'max |diff|':>10} {'peak RSS GiB':>12}")
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        proc = subprocess.run([sys.executable, __file__, "--one", str(n), "--extrapolate-above",
                               str(args.extrapolate_above), "--refits", str(args.refits)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"{n:>5} failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        jk = f"{r['nimare_jackknife_s']:.1f}" + ("*" if r["extrapolated"] else "")
        print(f"{r['N']:>5} {r['clusters']:>8} {r['nimare_fit_s']:>12.2f} {r['ale_app_fit_s']:>13.2f} {jk:>14} "
              f"{r['ale_app_jackknife_s']:>12.3f} {r['ratio']:>9.0f} {r['max_abs_diff']:>10.2g} "
              f"{r['peak_rss_gib']:>12.2f}", flush=True)
    print(f"* extrapolated from {args.refits} NiMARE leave-one-out refits (mean x N); "
          "max |diff| then covers those rows only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
