"""The bad-input corpus: tests/data/bad/cases.yaml and its data files, each case's spec
written next to a copy of its data file. Read by tests/test_bad_inputs.py,
tests/test_startup.py and ``python tests/list_bad_cases.py``."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

BAD = Path(__file__).parent.parent / "data" / "bad"
CASES = yaml.safe_load((BAD / "cases.yaml").read_text())


def write_case_spec(case: dict, folder: Path) -> Path:
    """Write the case's spec into ``folder``, next to a copy of its data file."""
    spec = {"spec_version": 1, "title": case["name"], "jackknife": {"enabled": False},
            "figures": {"formats": ["png"]}}
    spec.update({k: v for k, v in case.items() if k not in ("name", "code", "message")})
    source = BAD / spec["input"]["path"]
    if source.is_dir():
        shutil.copytree(source, folder / source.name)
    elif source.is_file():
        shutil.copy(source, folder / source.name)
    out = folder / "spec.yaml"
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out
