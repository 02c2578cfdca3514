"""Benchmark: ale-app end to end against NiMARE's walkthrough script, same machine, one run.

The walkthrough ("Qualitative interpretation of ALE statistic maps") fits ALE on the first
8 analyses of NiMARE's pain studyset, runs NiMARE's Jackknife on the descriptive clusters
and saves four figures. ale-app's bundled example does the same analysis; here both save
PNG only. They run alternately, each in a fresh process (imports included, as a user pays
them), and the medians and their ratio are printed. Then: the time ale-app takes to refuse
an output folder, to report a spec error, and to ``--validate-only`` the example, and the
whole 906-analysis example's wall time and peak RSS.

Usage::

    python benchmarks/end_to_end.py              # 3 alternating pairs
    python benchmarks/end_to_end.py --pairs 5 --skip-906
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WALKTHROUGH = r'''
import os, sys, warnings
warnings.simplefilter("ignore")
import matplotlib
matplotlib.use("Agg")
import numpy as np
from nilearn.plotting import plot_glass_brain, plot_stat_map
from nimare.diagnostics import Jackknife
from nimare.meta.cbma.ale import ALE
from nimare.nimads import Studyset
from nimare.utils import get_resource_path

out = sys.argv[1]
studyset = Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"), target="mni152_2mm")
studyset = studyset.slice(list(studyset.ids[:8]))
coords = studyset.to_dataset().coordinates
display = plot_glass_brain(None, title="All reported coordinates")
display.add_markers(coords[["x", "y", "z"]].to_numpy(), marker_color="r", marker_size=10)
display.savefig(os.path.join(out, "coordinates.png"), dpi=150)
display.close()
result = ALE().fit(studyset)
stat = result.get_map("stat")
values = result.get_map("stat", return_type="array")
thr = float(np.percentile(values[values > 0], 95))
display = plot_glass_brain(stat, threshold=1e-4, colorbar=True, cmap="viridis", title="ALE")
display.add_markers(coords[["x", "y", "z"]].to_numpy(), marker_color="r", marker_size=10)
display.savefig(os.path.join(out, "overlay.png"), dpi=150)
display.close()
peak = np.unravel_index(np.argmax(stat.get_fdata()), stat.shape)
xyz = stat.affine[:3, :3] @ np.array(peak) + stat.affine[:3, 3]
display = plot_stat_map(stat, threshold=thr, cut_coords=xyz, cmap="viridis", title="ALE peak")
display.savefig(os.path.join(out, "peak.png"), dpi=150)
display.close()
jk = Jackknife(target_image="stat", voxel_thresh=thr, cluster_threshold=500)
table = jk.transform(result).tables["stat_diag-Jackknife_tab-counts_tail-positive"]
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
means = table.set_index("id").mean(axis=1, numeric_only=True)
means.plot.bar(ax=ax)
fig.savefig(os.path.join(out, "jackknife.png"), dpi=150)
'''

PNG_SPEC = """\
spec_version: 1
title: Pain, qualitative ALE on eight analyses
input:
  path: nimare:nidm_pain_studyset.json
  select:
    first: 8
jackknife:
  cluster_threshold_mm3: 4000
figures:
  formats: [png]
"""

BAD_SPEC = "spec_version: 1\ninput: {path: nimare:nidm_pain_studyset.json}\nbogus_key: 1\n"


def ale_app_cmd() -> list[str]:
    exe = shutil.which("ale-app", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "ale_app"]


def bytecode_state() -> str:
    """Whether the installed NiMARE and ale-app have bytecode files (``pip install`` writes
    them; ``uv pip install`` only with ``--compile-bytecode``): without them every run
    compiles about 3,000 modules first, which this benchmark then measures."""
    import importlib.util

    found = []
    for name in ("nimare", "ale_app"):
        origin = importlib.util.find_spec(name).origin
        has = Path(importlib.util.cache_from_source(origin)).exists()
        found.append(f"{name} {'compiled' if has else 'NOT compiled'}")
    writes = "off" if sys.dont_write_bytecode else "on"
    return ", ".join(found) + f" (writing bytecode at import: {writes})"


def timed(cmd: list[str], expect: int = 0) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != expect:
        raise SystemExit(f"{cmd} exited {proc.returncode}, expected {expect}:\n{proc.stderr[-2000:]}")
    # ru_maxrss of children is the largest of any child so far: report it only where it grew.
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return took, max(after, before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--skip-906", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ale-app-bench-"))
    spec = work / "png.yaml"
    spec.write_text(PNG_SPEC)
    bad = work / "bad.yaml"
    bad.write_text(BAD_SPEC)
    script = work / "walkthrough.py"
    script.write_text(WALKTHROUGH)
    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} CPUs usable, "
          f"Python {platform.python_version()}, {platform.platform()}")
    print(f"bytecode: {bytecode_state()}")

    ours, theirs = [], []
    for i in range(args.pairs):
        out = work / f"ale-{i}"
        ours.append(timed([*ale_app_cmd(), str(spec), str(out), "-q"])[0])
        wt = work / f"wt-{i}"
        wt.mkdir()
        theirs.append(timed([sys.executable, str(script), str(wt)])[0])
        print(f"pair {i + 1}: ale-app {ours[-1]:.2f} s, walkthrough {theirs[-1]:.2f} s", flush=True)
    m_ours, m_theirs = statistics.median(ours), statistics.median(theirs)
    print(f"\nexample end to end (PNG), median of {args.pairs}: ale-app {m_ours:.2f} s, "
          f"walkthrough {m_theirs:.2f} s, ratio {m_ours / m_theirs:.2f}")

    refused = timed([*ale_app_cmd(), str(spec), str(work / "ale-0"), "-q"], expect=73)[0]
    spec_error = timed([*ale_app_cmd(), str(bad), str(work / "never"), "-q"], expect=65)[0]
    validate = timed([*ale_app_cmd(), str(spec), "--validate-only", "-q"])[0]
    print(f"refused output folder (exit 73): {refused:.2f} s")
    print(f"spec error (exit 65): {spec_error:.2f} s")
    print(f"--validate-only on the example: {validate:.2f} s")

    if not args.skip_906:
        # Peak RSS of the 906 run alone: run it through /usr/bin/time-like accounting in a child.
        code = ("import resource,subprocess,sys,time;s=time.perf_counter();"
                "r=subprocess.run(sys.argv[1:]).returncode;w=time.perf_counter()-s;"
                "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r)")
        proc = subprocess.run([sys.executable, "-c", code, *ale_app_cmd(), "example:nback-flanker-906",
                               str(work / "n906"), "-q"], capture_output=True, text=True)
        wall, rss, rc = proc.stdout.split()
        print(f"906 analyses end to end: {float(wall):.1f} s wall, peak RSS {int(rss) / 1024**2:.2f} GiB, exit {rc}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
