"""One analysis written as Sleuth, TSV, CSV, NiMARE JSON and NIMADS JSON gives byte-identical
derivatives apart from the recorded input; and the same in Talairach converts identically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from ale_app.cli import main
from ale_app.inputs.evidence import load_evidence
from ale_app.spec.models import ALESpec, InputSpec

#: (study, analysis, sample size, foci) in file order.
EXPERIMENTS = [
    ("Smith 2010", "faces", 12, [(-42.0, -52.0, -18.0), (44.0, -48.0, -20.0), (-22.0, -6.0, -18.0)]),
    ("Lee 2014", "emotion", 20, [(40.0, -50.0, -18.0), (-38.5, -56.0, -16.0), (20.0, -4.0, -16.0)]),
    ("Garcia 2017", "faces", 30, [(-40.0, -46.0, -20.0), (42.0, -54.0, -16.0), (46.0, 14.0, 24.0)]),
    ("Okafor 2020", "dynamic faces", 25, [(50.0, -58.0, 6.0), (-48.0, -62.0, 4.0), (42.0, -50.0, -22.0)]),
]


def write_sleuth(path: Path, space: str) -> None:
    lines = [f"// Reference={'MNI' if space == 'MNI' else 'Talairach'}"]
    for study, analysis, n, foci in EXPERIMENTS:
        lines += [f"// {study}: {analysis}", f"// Subjects={n}"]
        lines += ["\t".join(f"{v:g}" for v in xyz) for xyz in foci]
        lines.append("")
    path.write_text("\n".join(lines))


def write_table(path: Path, space: str, sep: str) -> None:
    rows = [sep.join(["study_id", "analysis_id", "x", "y", "z", "space", "sample_size"])]
    for study, analysis, n, foci in EXPERIMENTS:
        rows += [sep.join([study, analysis, *(f"{v:g}" for v in xyz), space, str(n)]) for xyz in foci]
    path.write_text("\n".join(rows) + "\n")


def write_nimare_json(path: Path, space: str) -> None:
    data: dict = {}
    for study, analysis, n, foci in EXPERIMENTS:
        data.setdefault(study, {"contrasts": {}})["contrasts"][analysis] = {
            "coords": {"space": space, "x": [f[0] for f in foci], "y": [f[1] for f in foci],
                       "z": [f[2] for f in foci]},
            "metadata": {"sample_sizes": [n]},
        }
    path.write_text(json.dumps(data))


def write_nimads(path: Path, space: str) -> None:
    studies = [{"id": study, "name": study, "analyses": [{
        "id": analysis, "name": analysis, "metadata": {"sample_sizes": [n]},
        "points": [{"space": space, "coordinates": list(xyz)} for xyz in foci]}]}
        for study, analysis, n, foci in EXPERIMENTS]
    path.write_text(json.dumps({"id": "faces", "name": "faces", "studies": studies}))


WRITERS = {
    "experiments.txt": write_sleuth,
    "experiments.tsv": lambda p, s: write_table(p, s, "\t"),
    "experiments.csv": lambda p, s: write_table(p, s, ","),
    "experiments_nimare.json": write_nimare_json,
    "experiments_nimads.json": write_nimads,
}
FORMATS = {"experiments.txt": "sleuth", "experiments.tsv": "tsv", "experiments.csv": "tsv",
           "experiments_nimare.json": "nimare-json", "experiments_nimads.json": "nimads"}
RECORDS_INPUT = {"coordinates.json", "spec.json", "provenance.json", "dataset_description.json",
                 "report.html", "CITATION.md"}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_every_format_gives_identical_derivatives(tmp_path):
    outputs = {}
    for name, writer in WRITERS.items():
        writer(tmp_path / name, "MNI")
        spec = {"spec_version": 1, "title": "Faces", "input": {"path": name},
                "jackknife": {"enabled": True, "cluster_threshold_mm3": 0}, "figures": {"formats": ["png"]}}
        spec_path = tmp_path / f"{name}.yaml"
        spec_path.write_text(yaml.safe_dump(spec))
        out = tmp_path / f"out-{name}"
        assert main([str(spec_path), str(out), "-q", "--n-jobs", "1"]) == 0
        assert json.loads((out / "coordinates.json").read_text())["Parameters"]["InputFormat"] == FORMATS[name]
        outputs[name] = {k: v for k, v in _files(out).items() if k not in RECORDS_INPUT}
    reference = outputs.pop("experiments.txt")
    assert {k for k in reference if k.endswith((".nii.gz", ".tsv", ".png"))} >= {
        "coordinates.tsv", "desc-clusters_table.tsv", "desc-jackknife_table.tsv"}
    for name, files in outputs.items():
        assert files.keys() == reference.keys(), name
        differing = [k for k in files if files[k] != reference[k]]
        assert not differing, (name, differing)


@pytest.mark.parametrize("space", ["TAL", "MNI"])
def test_talairach_converted_the_same_in_every_format(tmp_path, space):
    results = {}
    for name, writer in WRITERS.items():
        writer(tmp_path / name, space)
        ev = load_evidence(InputSpec(path=name), tmp_path, ALESpec())
        assert ev.source["format"] == FORMATS[name]
        results[name] = ev
        assert ev.ids == [f"{s}-{a}" for s, a, _, _ in EXPERIMENTS]
        n_foci = sum(len(f) for *_, f in EXPERIMENTS)
        assert (ev.conversions[0]["Foci"] if ev.conversions else 0) == (n_foci if space == "TAL" else 0)
    reference = results.pop("experiments.txt").coordinates
    for name, ev in results.items():
        assert ev.coordinates.equals(reference), name
    if space == "TAL":
        from nimare.utils import tal2mni

        raw = [xyz for *_, foci in EXPERIMENTS for xyz in foci]
        np.testing.assert_array_equal(reference[["x", "y", "z"]].to_numpy(), tal2mni(np.array(raw)))
