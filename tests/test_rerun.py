"""Re-run elsewhere: every run's Sleuth export reads back (in ale-app and in NiMARE) to the
evidence base that ran, and its ``code/nimare_rerun.py`` re-runs the analysis with NiMARE
alone and finds NiMARE's maps equal to ale-app's (and says so when they are not).

The evidence bases are generated (:mod:`tests.generate`) or written here by hand; the
script runs as a user would run it, in a subprocess with no network.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import generate
from helpers.runs import rerun_differences, run_rerun_script

from ale_app.cli import main
from ale_app.inputs.readers.sleuth import read_sleuth
from ale_app.outputs import registry as O


def _talairach_sleuth(folder: Path, rng) -> Path:
    """Seven experiments in Talairach space written by hand, as a user's Sleuth file: CR-LF
    line ends, one name without a colon, decimals, two experiments of one study."""
    mask, affine = generate.template_mask()
    centre = generate._in_mask_points(rng, np.argwhere(generate._erode(mask, 8)), affine, 1)[0]
    lines = ["// Reference=Talairach"]
    names = ["Ito, 2003: words > rest", "Ito, 2003: faces > rest", "Berg 2011", "Osei, 2015: task",
             "Lund, 2018: recall", "Mora, 2019: 2-back > 0-back", "Kahn, 2021: load"]
    for i, name in enumerate(names):
        lines.append(f"// Subjects={12 + 3 * i}")
        lines.append(f"// {name}")
        for p in generate._near(rng, centre, 6, 3 + i % 3):
            lines.append("\t".join(f"{v + 0.25:.2f}" for v in p))
        lines.append("")
    path = folder / "tal.txt"
    path.write_bytes("\r\n".join(lines).encode())
    return path


@pytest.fixture(scope="module")
def talairach_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tal")
    _talairach_sleuth(folder, np.random.default_rng(3))
    (folder / "spec.yaml").write_text(json.dumps({
        "spec_version": 1, "input": {"path": "tal.txt", "format": "sleuth"},
        "jackknife": {"cluster_threshold_mm3": 100}, "figures": {"formats": ["png"], "dpi": 50}}))
    out = folder / "out"
    assert main([str(folder / "spec.yaml"), str(out), "-q", "--n-jobs", "1"]) == 0
    return out


def test_sleuth_export_reads_back_to_the_evidence_that_ran(talairach_run):
    """Ids, sample sizes and every focus (converted from Talairach, so not integers) read back
    from the export equal coordinates.tsv and the recorded sample sizes, exactly."""
    out = talairach_run
    coords = pd.read_csv(out / O.COORDINATES, sep="\t")
    sizes = json.loads((out / "coordinates.json").read_text())["Parameters"]["SampleSizes"]
    assert (coords[["x", "y", "z"]] % 1 != 0).to_numpy().any()  # the conversion made non-integers
    read = read_sleuth(out / O.SLEUTH)
    assert not read.problems
    assert read.ids == list(dict.fromkeys(coords["analysis_id"]))
    back = {(s["id"], a["id"]): a for s in read.source["studies"] for a in s["analyses"]}
    for aid, rows in coords.groupby("analysis_id", sort=False):
        study = rows["study_id"].iloc[0]
        analysis = back[(study, aid[len(study) + 1:])]
        # coordinates.tsv keeps 9 significant digits; the export keeps every digit that ran.
        np.testing.assert_allclose(np.array([p["coordinates"] for p in analysis["points"]]),
                                   rows[["x", "y", "z"]].to_numpy(float), rtol=0, atol=1e-6)
        assert {p["space"] for p in analysis["points"]} == {"MNI"}
        assert analysis["metadata"]["sample_sizes"] == [sizes[aid]]


def test_nimare_reads_the_sleuth_export(talairach_run):
    from nimare.io import convert_sleuth_to_dataset

    out = talairach_run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = convert_sleuth_to_dataset(str(out / O.SLEUTH), target="mni152_2mm")
    coords = pd.read_csv(out / O.COORDINATES, sep="\t")
    assert len(dataset.ids) == coords["analysis_id"].nunique()
    theirs = np.sort(dataset.coordinates[["x", "y", "z"]].to_numpy(float), axis=0)
    np.testing.assert_allclose(theirs, np.sort(coords[["x", "y", "z"]].to_numpy(float), axis=0), rtol=0,
                               atol=1e-6)


def test_script_rerun_equals_the_descriptive_run(talairach_run):
    proc = run_rerun_script(talairach_run)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    diffs = rerun_differences(proc.stdout)
    assert set(diffs) == {O.STATMAP, O.JACKKNIFE_TABLE}
    assert max(diffs.values()) <= 1e-6
    assert "equal" in proc.stdout.splitlines()[-1]


def test_script_says_when_a_map_differs(talairach_run, tmp_path):
    """A copy of the run whose ALE map was changed in one voxel: the script finds it (exit 1)."""
    import shutil

    copy = tmp_path / "changed"
    shutil.copytree(talairach_run, copy)
    img = nib.load(copy / O.STATMAP)
    data = np.asarray(img.dataobj).copy()
    data[tuple(np.argwhere(data > 0)[0])] += 0.01
    nib.Nifti1Image(data, img.affine, img.header).to_filename(copy / O.STATMAP)
    proc = run_rerun_script(copy, "--skip-jackknife")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert rerun_differences(proc.stdout)[O.STATMAP] == pytest.approx(0.01, rel=1e-3)
    assert "DIFFERENT" in proc.stdout


def test_script_rerun_equals_an_inferential_run(tmp_path):
    """Fourteen generated experiments (ten around two places, four scattered), 40 Monte Carlo
    iterations, seed 7: every inferential map equal."""
    mask, affine = generate.template_mask()
    rng = np.random.default_rng(14)
    centres = generate._in_mask_points(rng, np.argwhere(generate._erode(mask, 6)), affine, 2)
    rows = []
    for e in range(14):
        pts = (generate._near(rng, centres[e % 2], 5, 3) if e < 10
               else generate._in_mask_points(rng, np.argwhere(mask), affine, 5))
        pts = generate._keep_in_brain(rng, pts, mask, np.argwhere(mask), affine)
        rows += [{"study_id": f"s{e:02d}", "analysis_id": "c1", "x": int(x), "y": int(y), "z": int(z),
                  "space": "MNI", "sample_size": 10 + e} for x, y, z in np.asarray(pts, dtype=int)]
    case = generate.Case(index=0, seed=14, kind="generated", n_experiments=14, space="MNI", rows=rows,
                         spec_options={"mode": "inferential",
                                       "inference": {"n_iterations": 40, "seed": 7, "min_experiments": 5},
                                       "jackknife": {"cluster_threshold_mm3": 100},
                                       "figures": {"formats": ["png"], "dpi": 50}})
    spec = generate.write_case(case, tmp_path)
    out = tmp_path / "out"
    assert main([str(spec), str(out), "-q", "--n-jobs", "1"]) == 0
    proc = run_rerun_script(out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    diffs = rerun_differences(proc.stdout)
    assert {O.STAT_Z, O.STAT_P, O.LOGP_CLUSTER_FWE, O.LOGP_VOXEL_FWE, O.STATMAP} <= set(diffs)
    assert max(diffs.values()) <= 1e-6


@pytest.mark.slow
def test_script_rerun_equals_an_inferential_contrast(tmp_path):
    """Two groups (pain's 21 analyses split 11/10), 30 permutations: both groups' maps,
    the difference and every subtraction map equal NiMARE's."""
    ids = [f"pain_{i:02d}.nidm-1" for i in range(1, 22)]
    (tmp_path / "spec.yaml").write_text(json.dumps({
        "spec_version": 2, "mode": "inferential", "input": {"path": "nimare:nidm_pain_studyset.json"},
        "groups": {"hot": {"select": {"ids": ids[:11]}}, "cold": {"select": {"ids": ids[11:]}}},
        "contrast": {"groups": ["hot", "cold"]},
        "inference": {"n_iterations": 30, "seed": 4, "min_experiments": 5},
        "jackknife": {"cluster_threshold_mm3": 100}, "figures": {"formats": ["png"], "dpi": 50}}))
    out = tmp_path / "out"
    assert main([str(tmp_path / "spec.yaml"), str(out), "-q", "--n-jobs", "1"]) == 0
    assert (out / f"group-hot_{O.SLEUTH}").is_file() and (out / f"group-cold_{O.SLEUTH}").is_file()
    proc = run_rerun_script(out, "--skip-jackknife")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    diffs = rerun_differences(proc.stdout)
    assert any(name.startswith("contrast-hotMinusCold_") and "clusterFWE" in name for name in diffs)
    assert len([n for n in diffs if n.startswith("contrast-")]) == 6
    assert max(diffs.values()) <= 1e-6


def test_script_compares_only_in_the_order_ale_app_fitted(talairach_run, tmp_path):
    """The script's settings carry the order ale-app fitted the experiments (sorted ids, not the
    file's order, in this file); a copy whose recorded order differs from the order NiMARE fits
    them in is refused with a message, not compared."""
    import shutil

    coords = pd.read_csv(talairach_run / O.COORDINATES, sep="\t")
    file_order = list(dict.fromkeys(coords["analysis_id"]))
    script = (talairach_run / O.RERUN_SCRIPT).read_text()
    settings = json.loads(script.split('SETTINGS = json.loads(r"""', 1)[1].split('""")', 1)[0])
    fitted = settings["groups"][0]["fitted_order"]
    assert sorted(fitted) == sorted(file_order) and fitted != file_order
    copy = tmp_path / "reordered"
    shutil.copytree(talairach_run, copy)
    head, rest = script.split('SETTINGS = json.loads(r"""', 1)
    settings["groups"][0]["fitted_order"] = file_order
    (copy / O.RERUN_SCRIPT).write_text(head + 'SETTINGS = json.loads(r"""\n' + json.dumps(settings) + "\n"
                                       + '""")' + rest.split('""")', 1)[1])
    assert (copy / O.RERUN_SCRIPT).read_text() != script
    proc = run_rerun_script(copy, "--skip-jackknife")
    assert proc.returncode != 0
    assert "NiMARE orders these experiments differently from the run" in proc.stderr
