"""Benchmark: how much of a run is drawing, in one run, with the machine's load stated.

Prints, each from fresh processes on this machine:

(a) the bundled descriptive example (PNG only) against NiMARE's walkthrough script, as a
    ratio of medians over alternating pairs (the pairing and the script are
    ``benchmarks/end_to_end.py``'s, imported, not copied); goal: at most 0.4;
(b) the share of the figures step in the wall time of two inferential runs, read from each
    run's ``provenance.json`` (``StepSeconds``, ``DurationSeconds``): a 25 vs 25 contrast
    (the first 25 n-back and the first 25 flanker analyses of NiMARE's bundled
    ``nback_vs_flanker_studyset_2026-07``, one sample size of 20, 500 permutations, seed 0)
    and the bundled inferential example (``ale_app/examples/pain-inferential.yaml``, 21
    analyses, 10,000 Monte Carlo iterations); goal: at most 25% each;

and ``os.getloadavg()`` before and after: other processes on a shared machine slow both
sides of every ratio, and the figures share less reliably (drawing is CPU-bound).

``--per-figure SPEC`` prints instead each figure's CPU seconds (``time.process_time``, which
other processes' load does not inflate), building and rendering apart, from one in-process run
of SPEC with ``--n-jobs 1``: the measure to compare two versions of the code on a busy machine.

Usage::

    python benchmarks/figures.py                      # 3 pairs, both inferential runs
    python benchmarks/figures.py --pairs 5 --iterations 10000
    python benchmarks/figures.py --per-figure ale_app/examples/pain-inferential.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import end_to_end as E  # noqa: E402 - the walkthrough pairing, reused

EXAMPLES = Path(__file__).resolve().parents[1] / "ale_app" / "examples"

#: Run in a child process: ale-app's main in-process with --n-jobs 1, each figure timed.
PER_FIGURE = r'''
import sys, time
import ale_app.outputs.writing as W
from ale_app.cli import main
render_figure, draw, last, total = W.render_figure, W.draw, {}, [0.0, 0.0]
def timed_render(fig, formats, dpi):
    start = time.process_time()
    try:
        return render_figure(fig, formats, dpi)
    finally:
        last["render"] = time.process_time() - start
def timed_draw(name, result, registry=W.REGISTRY):
    last["render"] = 0.0
    start = time.process_time()
    drawn = draw(name, result, registry)
    spent = time.process_time() - start
    build = spent - last["render"]
    total[0] += build
    total[1] += last["render"]
    print(f"  {name.split('/')[-1]:62s} cpu build {build:5.2f} s  render {last['render']:5.2f} s", flush=True)
    return drawn
W.render_figure, W.draw = timed_render, timed_draw
code = main([sys.argv[1], sys.argv[2], "--n-jobs", "1", "-q"])
print(f"exit {code}; figures cpu: build {total[0]:.2f} s + render {total[1]:.2f} s = {sum(total):.2f} s")
'''


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} (1, 5, 15 min) on {os.cpu_count()} CPUs"


def contrast_spec(n_per_group: int, iterations: int) -> str:
    """A version-2 inferential spec of the first ``n_per_group`` n-back and flanker analyses."""
    import warnings

    warnings.simplefilter("ignore")
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    studyset = Studyset(os.path.join(get_resource_path(), "nback_vs_flanker_studyset_2026-07"), target="mni152_2mm")
    task = studyset.metadata.set_index("id")["comparison_task"]
    ids = [str(i) for i in studyset.ids]
    groups = {name: [i for i in ids if task.get(i) == value][:n_per_group]
              for name, value in (("nback", "n-back"), ("flanker", "flanker"))}
    return json.dumps({
        "spec_version": 2, "title": f"n-back vs flanker, {n_per_group} vs {n_per_group}, inferential",
        "mode": "inferential",
        "input": {"path": "nimare:nback_vs_flanker_studyset_2026-07", "outside_field_of_view": "keep"},
        "groups": {name: {"select": {"ids": chosen}} for name, chosen in groups.items()},
        "contrast": {"groups": ["nback", "flanker"], "conjunction": True},
        "ale": {"sample_size": 20}, "inference": {"n_iterations": iterations, "seed": 0},
        "figures": {"formats": ["png"]},
    }, indent=1)


def figure_share(spec: Path, out: Path) -> tuple[float, float, int]:
    """(figures seconds, wall seconds, number of figures) of one run of ``spec``."""
    E.timed([*E.ale_app_cmd(), str(spec), str(out), "-q"])
    provenance = json.loads((out / "provenance.json").read_text())
    n_figures = len(list((out / "figures").glob("*.png")))
    return float(provenance["StepSeconds"]["figures"]), float(provenance["DurationSeconds"]), n_figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=500, help="permutations of the contrast")
    parser.add_argument("--per-group", type=int, default=25)
    parser.add_argument("--skip-example", action="store_true")
    parser.add_argument("--per-figure", metavar="SPEC", help="print each figure's CPU seconds for SPEC instead")
    args = parser.parse_args()

    if args.per_figure:
        with tempfile.TemporaryDirectory(prefix="ale-app-bench-figures-") as work:
            print(f"{args.per_figure}: CPU seconds per figure (--n-jobs 1); {load()}", flush=True)
            subprocess.run([sys.executable, "-c", PER_FIGURE, args.per_figure, str(Path(work) / "out")], check=True)
        return

    work = Path(tempfile.mkdtemp(prefix="ale-app-bench-figures-"))
    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} CPUs usable, "
          f"Python {platform.python_version()}, {platform.platform()}")
    print(f"bytecode: {E.bytecode_state()}")
    print(f"before: {load()}", flush=True)

    if not args.skip_example:
        spec = work / "png.yaml"
        spec.write_text(E.PNG_SPEC)
        script = work / "walkthrough.py"
        script.write_text(E.WALKTHROUGH)
        ours, theirs = [], []
        for i in range(args.pairs):
            ours.append(E.timed([*E.ale_app_cmd(), str(spec), str(work / f"ale-{i}"), "-q"])[0])
            (work / f"wt-{i}").mkdir()
            theirs.append(E.timed([sys.executable, str(script), str(work / f"wt-{i}")])[0])
            print(f"pair {i + 1}: ale-app {ours[-1]:.2f} s, walkthrough {theirs[-1]:.2f} s", flush=True)
        m_ours, m_theirs = statistics.median(ours), statistics.median(theirs)
        fig_s = json.loads((work / "ale-0" / "provenance.json").read_text())["StepSeconds"]["figures"]
        print(f"(a) example end to end (PNG), median of {args.pairs}: ale-app {m_ours:.2f} s, walkthrough "
              f"{m_theirs:.2f} s, ratio {m_ours / m_theirs:.2f} (goal <= 0.40); figures step of the first "
              f"ale-app run {fig_s:.2f} s", flush=True)

    contrast = work / "contrast.json"
    contrast.write_text(contrast_spec(args.per_group, args.iterations))
    runs = [(f"(b) {args.per_group} vs {args.per_group} inferential contrast, {args.iterations} permutations",
             contrast), ("(b) inferential example (pain-inferential, 21 analyses, 10,000 iterations)",
                         EXAMPLES / "pain-inferential.yaml")]
    for i, (label, spec_path) in enumerate(runs):
        figures, wall, n = figure_share(spec_path, work / f"inf-{i}")
        print(f"{label}: figures {figures:.1f} s of {wall:.1f} s = {100 * figures / wall:.0f}% "
              f"({n} figures; goal <= 25%)", flush=True)
    print(f"after: {load()}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
