"""Benchmark: ale-app's robustness analyses against NiMARE's, at equal cores.

``--part balanced``: the balanced contrast (``contrast.method: balanced``) against NiMARE
0.22.1's ``BalancedALESubtraction(null_method="random-foci")`` on 25 vs 25 generated
experiments (tests/generate.py's seeded evidence bases, with sample sizes), same seed, both
given ``--n-jobs`` cores (NiMARE's ``n_cores``; ale-app's executor). Each run is its own
process; peak memory is the largest resident set of that process and its workers (sampled).

``--case`` picks the groups: ``25v25`` (the default: every subsample is the whole group),
or a SUBSAMPLED case, where the larger group's subsamples leave experiments out:
``25v30`` (25 vs 30 generated experiments, ``target_n`` 25) or ``pain`` (NiMARE's pain
dataset, its first 10 vs its last 11 analyses, as the tests split it).

NiMARE's defaults (2,500 subsamples, 1,000 balanced differences, 1,000 null draws) cost it
hours, so NiMARE runs at reduced sizes (``--reduced S D N``) and its time at the defaults is
EXTRAPOLATED per unit of work: its random-foci MA maps, approximate-null z maps and cluster
labellings are timed per call and its balanced differences per difference, each multiplied
by the count the defaults need, plus the rest (its ALE fits) as measured. ale-app runs at
the same reduced sizes (the ratio at equal work, and max |diff| against NiMARE's maps and
nulls), and with ``--full`` once at NiMARE's defaults, timed end to end (both groups' ALE
fits included). The machine may be shared: the load average is printed.

Usage::

    python benchmarks/robustness_balanced.py --part balanced                 # reduced sizes + defaults
    python benchmarks/robustness_balanced.py --part balanced --no-full --reduced 2500 20 10
    python benchmarks/robustness_balanced.py --part balanced --case pain --reduced 250 20 10
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

SEED = 0
#: The groups of each ``--case``: (label, sizes, target_n).
CASES = {"25v25": ("25 vs 25 generated experiments", (25, 25), None),
         "25v30": ("25 vs 30 generated experiments, target_n 25 (the 30 subsampled)", (25, 30), 25),
         "pain": ("NiMARE's pain dataset, first 10 vs last 11 analyses (the 11 subsampled)", (10, 11), None)}
DEFAULTS = (2500, 1000, 1000)  # subsamples, differences, null draws (NiMARE's)

#: Which parts ``--part all`` runs, in order; each part is a function ``part(args) -> int``.
PARTS: dict = {}


def _quiet():
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    os.environ.setdefault("TQDM_DISABLE", "1")


class PeakMemory:
    """The largest resident set of this process and its children, sampled every 0.2 s, and
    the CPU seconds they used (the children's as last sampled): on a shared machine the
    CPU time, not the wall time, says what the run costs."""

    def __init__(self):
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        total = self.proc.memory_info().rss
        for proc in [self.proc, *self.proc.children(recursive=True)]:
            try:
                if proc is not self.proc:
                    total += proc.memory_info().rss
                t = proc.cpu_times()
                self.cpu[proc.pid] = max(self.cpu.get(proc.pid, 0.0), t.user + t.system)
            except Exception:  # a worker that just ended
                pass
        self.peak = max(self.peak, total)

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())

    def _run(self):
        while not self._stop.wait(0.2):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def gib(self) -> float:
        return self.peak / 1024**3


# --------------------------------------------------------------------------- balanced


def _balanced_groups(case: str):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers.studysets import generated_groups, pain_groups

    n1, n2 = CASES[case][1]
    return pain_groups(n1, n2) if case == "pain" else generated_groups(n1, n2, first_case=3)


def _ours_balanced(s1, s2, sizes, n_jobs: int, target_n=None):
    from ale_app.process.executor import Executor
    from ale_app.spec.models import ALESpec
    from ale_app.stats.ale import fit_ale
    from ale_app.stats.balanced import fit_balanced

    spec = ALESpec()
    fit1, fit2 = fit_ale(s1, spec), fit_ale(s2, spec)
    executor = Executor.from_options(n_jobs)
    try:
        return fit_balanced(fit1, fit2, target_n=target_n, n_subsamples=sizes[0], difference_iterations=sizes[1],
                            n_iterations=sizes[2], seed=SEED, executor=executor)
    finally:
        executor.release()


def run_ours_balanced(sizes, n_jobs: int, case: str) -> dict:
    _quiet()
    s1, s2 = _balanced_groups(case)
    with PeakMemory() as mem:
        start = time.perf_counter()
        result = _ours_balanced(s1, s2, sizes, n_jobs, CASES[case][2])
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_gib": mem.gib, "cpu_seconds": mem.cpu_seconds, "n1": result.n1,
            "n2": result.n2, "used": list(result.n_subsamples_used)}


def run_nimare_balanced(sizes, n_jobs: int, case: str) -> dict:
    """NiMARE at ``sizes``, its parts timed per call; then ale-app (same process, same
    groups, same sizes and seed) for max |diff|."""
    _quiet()
    import numpy as np
    from nimare.meta.cbma import ale as nimare_ale

    from ale_app.stats import balanced as B

    s1, s2 = _balanced_groups(case)
    target_n = CASES[case][2]
    timers = {}

    def timed(name, fn):
        timers[name] = [0, 0.0]

        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                timers[name][0] += 1
                timers[name][1] += time.perf_counter() - t
        return wrapper

    for name in ("_random_ale_ma_from_metadata", "_ale_approximate_z_from_ma", "_threshold_z_clusters"):
        setattr(nimare_ale, name, timed(name, getattr(nimare_ale, name)))
    cls = nimare_ale.BalancedALESubtraction
    cls._mean_balanced_difference = timed("_mean_balanced_difference", cls._mean_balanced_difference)
    est = cls(target_n=target_n, n_subsamples=sizes[0], difference_iterations=sizes[1], n_iters=sizes[2],
              random_state=SEED, n_cores=n_jobs)
    with PeakMemory() as mem:
        start = time.perf_counter()
        result = est.fit(s1, s2)
        seconds = time.perf_counter() - start
    ours = _ours_balanced(s1, s2, sizes, 1, target_n)
    diffs = [float(np.max(np.abs(np.asarray(getattr(ours, f"{a}_values"), float)
                                 - np.asarray(result.get_map(k, return_type="array"), float))))
             for a, k in B.NIMARE_MAP_NAMES.items()]
    diffs += [float(np.max(np.abs(ours.null[c].to_numpy(float) - np.asarray(est.null_distributions_[k], float))))
              for c, k in B.NIMARE_NULL_KEYS.items()]
    from math import comb

    from nimare.meta.cbma.utils import generate_subset_schedule

    used_full = [len(generate_subset_schedule(n, ours.target_n, n_samples=DEFAULTS[0], random_state=SEED,
                                              exhaustive_limit=10000)) if comb(n, ours.target_n) <= 10000
                 else DEFAULTS[0] for n in (ours.n1, ours.n2)]
    return {"seconds": seconds, "peak_gib": mem.gib, "cpu_seconds": mem.cpu_seconds, "timers": timers,
            "max_abs_diff": max(diffs), "used": list(ours.n_subsamples_used), "used_full": used_full}


def _extrapolate(theirs: dict, reduced, full, used_full) -> tuple[float, dict]:
    """NiMARE's time at ``full`` sizes from its per-call (per-difference) times at ``reduced``."""
    t = theirs["timers"]
    _, d_small, n_small = reduced
    _, d_full, n_full = full
    counts = {  # calls at the full sizes
        "_random_ale_ma_from_metadata": 4 * n_full,  # 2 probabilistic-map nulls + 2 groups per null draw
        "_ale_approximate_z_from_ma": 2 * n_full + sum(used_full),
        "_threshold_z_clusters": 2 * n_full + sum(used_full),
    }
    parts = {}
    measured = 0.0
    for name, n_calls in counts.items():
        calls, secs = t[name]
        measured += secs
        parts[name] = secs / max(calls, 1) * n_calls
    calls, secs = t["_mean_balanced_difference"]
    measured += secs
    per_difference = secs / max(calls * d_small, 1)
    parts["_mean_balanced_difference"] = per_difference * d_full * (n_full + 1)
    parts["rest (ALE fits, as measured)"] = max(0.0, theirs["seconds"] - measured)
    parts["per_difference_ms"] = per_difference * 1000
    total = sum(v for k, v in parts.items() if k != "per_difference_ms")
    return total, parts


def _child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["failed"])[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def part_balanced(args) -> int:
    reduced = tuple(args.reduced)
    print(f"== balanced contrast: {CASES[args.case][0]}, seed {SEED}, {args.n_jobs} cores each; "
          f"load average {os.getloadavg()[0]:.1f} (the machine may be shared)", flush=True)
    theirs = _child(["--nimare-balanced", *map(str, reduced), str(args.n_jobs), "--case", args.case])
    ours_small = _child(["--ours-balanced", *map(str, reduced), str(args.n_jobs), "--case", args.case])
    s, d, n = reduced
    print(f"reduced sizes ({s} subsamples, {d} differences, {n} null draws; subsamples used {theirs['used']}):")
    print(f"  NiMARE   {theirs['seconds']:8.1f} s wall, {theirs['cpu_seconds']:8.1f} CPU s, "
          f"peak {theirs['peak_gib']:.2f} GiB")
    print(f"  ale-app  {ours_small['seconds']:8.1f} s wall, {ours_small['cpu_seconds']:8.1f} CPU s, "
          f"peak {ours_small['peak_gib']:.2f} GiB; ratio {theirs['seconds'] / ours_small['seconds']:.1f}x wall, "
          f"{theirs['cpu_seconds'] / ours_small['cpu_seconds']:.1f}x CPU; max |diff| vs NiMARE "
          f"{theirs['max_abs_diff']:.2g}")
    for name, (calls, secs) in theirs["timers"].items():
        print(f"  NiMARE {name}: {calls} calls, {secs:.1f} s")
    used_full = theirs["used_full"]  # the subsamples each group's probabilistic map takes at the defaults
    total, parts = _extrapolate(theirs, reduced, DEFAULTS, used_full)
    print(f"NiMARE at its defaults {DEFAULTS} EXTRAPOLATED per unit of work: {total:,.0f} s "
          f"({total / 3600:.1f} h); {parts['per_difference_ms']:.1f} ms per balanced difference")
    for name, secs in parts.items():
        if name != "per_difference_ms":
            print(f"  {name}: {secs:,.0f} s")
    if args.full:
        full = _child(["--ours-balanced", *map(str, DEFAULTS), str(args.n_jobs), "--case", args.case])
        print(f"ale-app at NiMARE's defaults, end to end (ALE fits included): {full['seconds']:.1f} s wall "
              f"({full['seconds'] / 60:.1f} min), {full['cpu_seconds']:.0f} CPU s (at most "
              f"{full['cpu_seconds'] / args.n_jobs / 60:.1f} min of wall on {args.n_jobs} idle cores), "
              f"peak {full['peak_gib']:.2f} GiB; ratio to NiMARE (extrapolated, single-threaded) "
              f"{total / full['seconds']:.0f}x wall, {total / full['cpu_seconds']:.0f}x CPU (goal >= 100x)",
              flush=True)
    else:
        est = ours_small["seconds"]
        print(f"(--no-full: ale-app not run at the defaults; reduced-size ratio {theirs['seconds'] / est:.1f}x)")
    return 0


PARTS["balanced"] = part_balanced


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["balanced", "all"], default="all")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--case", choices=list(CASES), default="25v25",
                        help="balanced: the groups (25v30 and pain subsample the larger group)")
    parser.add_argument("--reduced", nargs=3, type=int, default=[2500, 20, 10], metavar=("S", "D", "N"),
                        help="balanced: NiMARE's subsamples, differences and null draws actually run")
    parser.add_argument("--full", action=argparse.BooleanOptionalAction, default=True,
                        help="balanced: also run ale-app at NiMARE's defaults (minutes)")
    parser.add_argument("--ours-balanced", nargs=4, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--nimare-balanced", nargs=4, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ours_balanced:
        print(json.dumps(run_ours_balanced(args.ours_balanced[:3], args.ours_balanced[3], args.case)))
        return 0
    if args.nimare_balanced:
        print(json.dumps(run_nimare_balanced(args.nimare_balanced[:3], args.nimare_balanced[3], args.case)))
        return 0
    from importlib.metadata import version

    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} CPUs usable, Python "
          f"{platform.python_version()}; nimare {version('nimare')}")
    parts = list(PARTS) if args.part == "all" else [args.part]
    status = 0
    for name in parts:
        if name not in PARTS:
            print(f"part {name!r} is not in this branch")
            continue
        status |= PARTS[name](args)
    return status


if __name__ == "__main__":
    sys.exit(main())
