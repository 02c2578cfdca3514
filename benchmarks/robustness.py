"""Benchmark: ale-app's robustness analyses against NiMARE's, at equal cores, in one run.

``--part balanced`` runs ``benchmarks/robustness_balanced.py`` (the balanced contrast against
NiMARE's ``BalancedALESubtraction``); ``--part stability`` runs
``benchmarks/robustness_stability.py`` (subsampling stability against NiMARE's
``ResampledStability``); ``--part all`` (the default) runs both, one after the other. Every
other option is passed to the part's script (see its ``--help``); each prints its ratios
against NiMARE and the peak memory of each side.

Usage::

    python benchmarks/robustness.py --part balanced --no-full
    python benchmarks/robustness.py --part stability --iterations 10000 --subsets 1000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = {"balanced": HERE / "robustness_balanced.py", "stability": HERE / "robustness_stability.py"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    args, rest = parser.parse_known_args()
    status = 0
    for name in (list(PARTS) if args.part == "all" else [args.part]):
        print(f"== {name}", flush=True)
        status |= subprocess.run([sys.executable, str(PARTS[name]), "--part", name, *rest], check=False).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
