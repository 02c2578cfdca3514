"""A project (spec_version 3) of three groups selected from one generated table, and its specs.

Used by tests/test_project_run.py and tests/test_resume.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

#: Each group's first generator case and its number of experiments.
GROUPS = {"go": (30, 6), "stop": (35, 5), "flank": (60, 6)}
SHARED = {"figures": {"formats": ["png"], "dpi": 50}}
INPUT = {"path": "all.tsv", "columns": {"group": "task"}}


def write_table(folder: Path) -> Path:
    """``all.tsv``: the seeded generator's experiments of every group, with a ``task`` column."""
    from nimare.utils import get_template

    from generate import make_case

    img = get_template("mni152_2mm", mask="brain")
    mask, affine = np.asarray(img.dataobj) > 0, img.affine
    frames = []
    for task, (index, n) in GROUPS.items():
        own, i = [], index
        while sum(f.groupby(["study_id", "analysis_id"]).ngroups for f in own) < n:
            t = pd.DataFrame(make_case(i, mask, affine).rows)
            t["study_id"] = f"{task}{i}_" + t["study_id"].astype(str)
            own.append(t)
            i += 1
        table = pd.concat(own, ignore_index=True)
        table["task"] = task
        frames.append(table)
    path = folder / "all.tsv"
    pd.concat(frames, ignore_index=True).to_csv(path, sep="\t", index=False)
    return path


def select(task: str) -> dict:
    return {"select": {"where": {"column": "group", "values": [task]}}}


def write_spec(folder: Path, name: str, data: dict) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def project_spec(**extra) -> dict:
    """Three groups and two contrasts (go - stop with its conjunction, go - flank without)."""
    return {"spec_version": 3, "title": "Three tasks", "input": INPUT,
            "groups": {task: select(task) for task in GROUPS},
            "contrasts": [{"groups": ["go", "stop"]}, {"groups": ["go", "flank"], "conjunction": False}],
            **SHARED, **extra}
