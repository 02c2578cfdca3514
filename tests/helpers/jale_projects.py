"""Small JALE project folders written by hand: ``config.yml``, ``experiment_info.xlsx`` in
either of JALE's layouts (the article on every row, or only on each experiment's first row)
and ``analysis_info.xlsx`` (no header: type, name, tag rules).

The experiments: four articles, each with 2-4 foci in MNI, one (``Dual``) with a ``low`` and a
``high`` experiment (18 subjects, shared). Tags: every experiment ``task``; ``low`` or
``high``; ``Beta`` also ``extra``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

#: (article, subjects, tags, foci) per experiment, in file order.
EXPERIMENTS = [
    ("Alpha", 10, ("task", "low"), [(-40, 20, 10), (38, 22, 8), (0, -50, 30)]),
    ("Beta", 12, ("task", "high", "extra"), [(-30, -60, 40), (30, -62, 42)]),
    ("Dual", 18, ("task", "low"), [(-44, 10, 30), (46, 12, 28)]),
    ("Dual", 18, ("task", "high"), [(-20, -80, 0), (22, -82, 2), (0, 40, 20)]),
    ("Gamma", 9, ("task", "high"), [(-10, 50, 10), (12, 48, 12), (-50, -20, 0), (52, -22, 2)]),
]
TAG_HEADERS = ["Task", "Level", "Other"]

#: The JALE config of the example project (JALE 0.2.10's keys), values as its example gives.
CONFIG = {
    "project": {"analysis_info": "analysis_info.xlsx", "experiment_info": "experiment_info.xlsx"},
    "parameters": {"pool_experiments": False, "tfce_enabled": True, "gm_masking": True, "bin_steps": 0.0001,
                   "cutoff_predict_enabled": False, "significance_threshold": 0.05,
                   "cluster_forming_threshold": 0.001, "monte_carlo_iterations": 500, "subsample_n": 300,
                   "contrast_permutations": 10000, "contrast_correction_method": "cFWE",
                   "difference_iterations": 200, "nprocesses": 2},
    "clustering_parameters": {"max_clusters": 10, "subsample_fraction": 0.9, "sampling_iterations": 1000,
                              "null_iterations": 5000, "correlation_type": "spearman",
                              "clustering_method": "hierarchical", "linkage_method": "complete",
                              "use_pooled_std": False},
}


def experiment_rows(first_row_only: bool = False) -> list[list]:
    """The experiment sheet's rows (header first): the article (with subjects, space and tags)
    on every row, or only on each experiment's first row."""
    rows: list[list] = [["Articles", "Subjects", "x", "y", "z", "Space", *TAG_HEADERS]]
    for article, subjects, tags, foci in EXPERIMENTS:
        tag_cells = list(tags) + [None] * (len(TAG_HEADERS) - len(tags))
        for i, (x, y, z) in enumerate(foci):
            if first_row_only and i:
                rows.append([None, None, x, y, z, None, None, None, None])
            else:
                rows.append([article, subjects, x, y, z, "MNI", *tag_cells])
    return rows


def write_workbook(path: Path, rows: list[list]) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)


def write_project(folder: Path, analyses: list[list], first_row_only: bool = False,
                  config: dict | None = None, experiments: list[list] | None = None) -> Path:
    """Write a JALE project into ``folder``; return its ``config.yml``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_workbook(folder / "experiment_info.xlsx", experiments or experiment_rows(first_row_only))
    write_workbook(folder / "analysis_info.xlsx", analyses)
    path = folder / "config.yml"
    path.write_text(yaml.safe_dump(CONFIG if config is None else config, sort_keys=False), encoding="utf-8")
    return path


def generated_experiment_rows(n_experiments: int = 40, seed: int = 3) -> list[list]:
    """A seeded experiment sheet in JALE's second layout: ``n_experiments`` articles of 5 foci
    near a few centres, alternately tagged ``low`` and ``high`` (``task`` on all), 10-25
    subjects each; large enough for inferential groups (17 experiments or more)."""
    import random

    rng = random.Random(seed)
    centres = [(-40, 20, 10), (38, 22, 8), (0, -50, 30), (-30, -60, 40), (20, -80, 0)]
    rows: list[list] = [["Articles", "Subjects", "x", "y", "z", "Space", "Task", "Level"]]
    for i in range(n_experiments):
        level = "low" if i % 2 else "high"
        subjects = rng.randint(10, 25)
        for j in range(5):
            x, y, z = (v + rng.randint(-6, 6) for v in rng.choice(centres[:4] if level == "low" else centres[1:]))
            rows.append([f"paper_{i}", subjects, x, y, z, "MNI", "task", level] if j == 0 else
                        [None, None, x, y, z, None, None, None])
    return rows


def small_config(iterations: int = 30, subsamples: int = 20) -> dict:
    """JALE's config with few iterations (a test's run), cutoff prediction off."""
    parameters = dict(CONFIG["parameters"], tfce_enabled=False, monte_carlo_iterations=iterations,
                      subsample_n=subsamples, difference_iterations=10)
    return {"project": CONFIG["project"], "parameters": parameters}
