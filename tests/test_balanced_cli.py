"""A balanced contrast through the command line (``contrast.method: balanced``): every
written balanced map and the null against NiMARE's BalancedALESubtraction run in the test
on the same two groups, seed and sizes; the sidecars, provenance and report say what ran."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from helpers.oracles import nimare_balanced
from helpers.studysets import pain_groups

from ale_app.cli import main

SPACE = "space-MNI152NLin6Asym_res-2"
C = "contrast-earlyMinusLate_"
SEED = 3
SIZES = {"subsamples": 3, "difference_iterations": 8, "null_iterations": 12}
ALPHA = 0.2


@pytest.fixture(scope="module")
def balanced_run(tmp_path_factory):
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    ids = [str(i) for i in Studyset(str(Path(get_resource_path()) / "nidm_pain_studyset.json")).ids]
    folder = tmp_path_factory.mktemp("contrast-balanced")
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "spec_version": 2, "mode": "inferential", "title": "pain, early vs late, balanced",
        "input": {"path": "nimare:nidm_pain_studyset.json"},
        "groups": {"early": {"select": {"ids": ids[:10]}}, "late": {"select": {"ids": ids[10:]}}},
        "contrast": {"groups": ["early", "late"], "method": "balanced", "balanced": SIZES},
        "inference": {"min_experiments": 10, "n_iterations": 20, "seed": SEED, "fwe_alpha": ALPHA},
        "figures": {"formats": ["png"], "dpi": 50}}, sort_keys=False))
    out = folder / "out"
    assert main([str(spec), str(out), "--n-jobs", "2", "-q"]) == 0
    return out


@pytest.mark.slow
def test_balanced_maps_and_null_equal_nimare(balanced_run):
    s1, s2 = pain_groups(10, 11)
    est, result = nimare_balanced(s1, s2, SEED, SIZES["subsamples"], SIZES["difference_iterations"],
                                  SIZES["null_iterations"], alpha=ALPHA)
    masker = est.masker
    files = {
        f"{C}{SPACE}_stat-aledifference_statmap.nii.gz": "stat_desc-balancedGroup1MinusGroup2",
        f"{C}{SPACE}_stat-z_desc-balanced_statmap.nii.gz": "z_desc-balancedGroup1MinusGroup2",
        f"{C}{SPACE}_stat-p_desc-balanced_statmap.nii.gz": "p_desc-balancedGroup1MinusGroup2",
        f"{C}{SPACE}_stat-logp_desc-balanced_statmap.nii.gz": "logp_desc-balancedGroup1MinusGroup2",
        f"{C}{SPACE}_stat-prob_desc-balancedEarly_statmap.nii.gz": "prob_desc-group1",
        f"{C}{SPACE}_stat-prob_desc-balancedLate_statmap.nii.gz": "prob_desc-group2",
        f"{C}{SPACE}_stat-prob_desc-balancedConjunction_statmap.nii.gz": "stat_desc-conjunction",
    }
    for file, key in files.items():
        ours = masker.transform(nib.load(balanced_run / file)).ravel()
        theirs = np.asarray(result.get_map(key, return_type="array"), dtype=np.float64)
        assert np.max(np.abs(ours - theirs)) <= 1e-6, file
    null = pd.read_csv(balanced_run / f"{C}desc-balancednull_table.tsv", sep="\t")
    for column, key in (("min_diff", "values_desc-balancedMinNull_corr-none"),
                        ("max_diff", "values_desc-balancedMaxNull_corr-none")):
        assert np.max(np.abs(null[column].to_numpy(float) - est.null_distributions_[key])) <= 1e-6
    # The subtraction's files are not written for a balanced contrast.
    assert not (balanced_run / f"{C}desc-permnull_table.tsv").exists()
    assert not (balanced_run / f"{C}{SPACE}_stat-z_statmap.nii.gz").exists()


@pytest.mark.slow
def test_balanced_run_says_what_ran(balanced_run):
    side = json.loads((balanced_run / f"{C}{SPACE}_stat-z_desc-balanced_statmap.json").read_text())
    assert "BalancedALESubtraction" in side["Method"]
    assert (side["Subsamples"], side["DifferenceIterations"], side["NullIterations"]) == (
        SIZES["subsamples"], SIZES["difference_iterations"], SIZES["null_iterations"])
    assert (side["RandomSeed"], side["SecondGroupSeed"], side["TargetN"]) == (SEED, SEED + 1, 10)
    prov = json.loads((balanced_run / "provenance.json").read_text())
    assert prov["Contrast"]["Method"] == "balanced"
    assert prov["Contrast"]["Balanced"]["NullIterations"] == SIZES["null_iterations"]
    assert "balanced" in prov["StepSeconds"] and "subtraction" not in prov["StepSeconds"]
    report = (balanced_run / "report.html").read_text()
    assert "Balanced contrast: what ran" in report
    assert "matched-size subsampling" in report  # the methods paragraph
    assert f"{SIZES['null_iterations']} random-foci null draws" in report
    assert "Balanced p (null extremes)" in report  # the contrast table (the groups keep their FWE p)


@pytest.mark.slow
def test_rerun_script_runs_balanced_nimare(balanced_run):
    """The run's code/nimare_rerun.py re-runs BalancedALESubtraction with the run's sizes and
    seed, and finds every balanced map equal."""
    import subprocess

    from conftest import offline

    from ale_app.outputs import registry as O

    cmd, env = offline([sys.executable, str(balanced_run / O.RERUN_SCRIPT), "--skip-jackknife"])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "desc-balancedConjunction" in proc.stdout and "stat-z_desc-balanced" in proc.stdout
    assert ": equal" in proc.stdout.splitlines()[-1]


@pytest.mark.slow
def test_matches_golden(balanced_run):
    """The run's files are byte-identical to tests/golden/v2-balanced.json (conftest)."""
    from conftest import assert_matches_golden

    assert_matches_golden(balanced_run, "v2-balanced")
