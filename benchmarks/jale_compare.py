"""Oracle: how JALE 0.2.10 and ale-app read a JALE project, row by row.

For every row of the project's ``analysis_info`` sheet, the experiments (and their subjects)
its tag rules select, as JALE reads them (its own ``read_experiment_info``,
``load_analysis_file`` and ``compile_experiments``, run in JALE's own virtual environment by
a subprocess) and as ale-app reads them (``ale-app CONFIG --validate-only``'s reading: the
project's groups and their evidence). A row whose type JALE would skip (``"C "``) is read by
both as meant (its type without spaces), so that its selection is compared too.

JALE pins numpy 1.26 and nilearn 0.10, so it lives in its own environment::

    python3 -m venv /work/jale-venv && /work/jale-venv/bin/pip install jale==0.2.10

Usage::

    python benchmarks/jale_compare.py                         # JALE's bundled example project
    python benchmarks/jale_compare.py path/to/config.yml --jale-python /work/jale-venv/bin/python

Prints one line per row (JALE's experiments and subjects, ale-app's, and whether they are
equal) and exits 1 when any row differs, 2 when JALE cannot be run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

DEFAULT_JALE_PYTHON = "/work/jale-venv/bin/python"

#: Run in JALE's environment: its reading of the project, as JSON on stdout.
JALE_SCRIPT = r"""
import json, logging, sys
from pathlib import Path
import numpy as np
import yaml
from jale.core.utils.input import read_experiment_info, load_analysis_file
from jale.core.utils.compile_experiments import compile_experiments

logging.disable(logging.CRITICAL)
config_path = Path(sys.argv[1])
folder = config_path.parent
config = yaml.safe_load(config_path.read_text())
exp_df, tasks = read_experiment_info(folder / config["project"]["experiment_info"],
                                     config["parameters"]["pool_experiments"])
analysis = load_analysis_file(folder / config["project"]["analysis_info"])
rows = []
for position in range(analysis.shape[0]):
    kind = analysis.iloc[position, 0]
    name = analysis.iloc[position, 1]
    conditions = [c for c in analysis.iloc[position, 2:].dropna().to_list()]
    try:
        idx, _, _ = compile_experiments(conditions, tasks)
        chosen = exp_df.loc[idx]
        rows.append({"type": kind if isinstance(kind, str) else "", "name": str(name),
                     "experiments": int(len(chosen)), "subjects": int(np.sum(chosen["Subjects"].values)),
                     "foci": int(np.sum(chosen["NumberOfFoci"].values))})
    except Exception as exc:
        rows.append({"type": kind if isinstance(kind, str) else "", "name": str(name), "error": str(exc)})
print(json.dumps({"experiments": int(len(exp_df)), "rows": rows}))
"""


def jale_reading(config: Path, python: str) -> dict:
    """JALE's reading of the project (see :data:`JALE_SCRIPT`)."""
    done = subprocess.run([python, "-c", JALE_SCRIPT, str(config)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"JALE failed ({python}): {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ale_app_reading(config: Path) -> dict:
    """ale-app's reading of the project: each row's group's experiments and subjects."""
    import logging

    from ale_app.run.pipeline import validate
    from ale_app.spec.load import load_spec
    from ale_app.spec.project import to_project

    logging.disable(logging.WARNING)
    spec, spec_dir, _ = load_spec(str(config))
    project = to_project(spec)
    evidence = validate(project, spec_dir)
    rows = []
    for row in spec.jale.rows:
        ev = evidence.get(row.group) if row.group else None
        if ev is None:
            rows.append({"type": row.type, "name": row.name, "error": "no group"})
            continue
        rows.append({"type": row.type, "name": row.name, "group": row.group, "experiments": len(ev.ids),
                     "subjects": int(sum(s for s in ev.sample_sizes.values() if s is not None)),
                     "foci": len(ev.coordinates)})
    whole = max(evidence.values(), key=lambda e: len(e.read_ids))
    return {"experiments": len(whole.read_ids), "rows": rows}


def bundled_example(python: str) -> Path:
    """The folder of JALE's bundled example project (in JALE's environment)."""
    done = subprocess.run([python, "-c", "import jale, pathlib; print(pathlib.Path(jale.__file__).parent / 'assets' / "
                           "'examples' / 'config.yml')"], capture_output=True, text=True, check=True)
    return Path(done.stdout.strip())


def compare(jale: dict, ours: dict) -> tuple[list[str], bool]:
    """The side-by-side lines and whether every row agrees."""
    lines = [f"experiments read: JALE {jale['experiments']}, ale-app {ours['experiments']}",
             f"{'row':>4} {'type':<5} {'name':<28} {'JALE exp':>9} {'subj':>6} {'foci':>5} {'ale-app exp':>12} "
             f"{'subj':>6} {'foci':>5}  same"]
    same = jale["experiments"] == ours["experiments"] and len(jale["rows"]) == len(ours["rows"])
    for number, (theirs, mine) in enumerate(zip(jale["rows"], ours["rows"]), start=1):
        keys = ("experiments", "subjects", "foci")
        ok = "error" not in theirs and "error" not in mine and all(theirs[k] == mine[k] for k in keys)
        same &= ok
        lines.append(f"{number:>4} {theirs['type']!r:<5} {theirs['name'][:28]:<28} "
                     f"{theirs.get('experiments', '-'):>9} {theirs.get('subjects', '-'):>6} {theirs.get('foci', '-'):>5} "
                     f"{mine.get('experiments', '-'):>12} {mine.get('subjects', '-'):>6} {mine.get('foci', '-'):>5}  "
                     f"{'yes' if ok else 'NO'}")
    return lines, same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", help="the project's config.yml (default: JALE's bundled example)")
    parser.add_argument("--jale-python", default=DEFAULT_JALE_PYTHON, help="the Python of JALE's environment")
    args = parser.parse_args(argv)
    try:
        config = Path(args.config) if args.config else bundled_example(args.jale_python)
        jale = jale_reading(config, args.jale_python)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"JALE cannot be run: {exc}", file=sys.stderr)
        return 2
    ours = ale_app_reading(config)
    lines, same = compare(jale, ours)
    print(f"project: {config}")
    print("\n".join(lines))
    print("every row agrees" if same else "ROWS DIFFER")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
