"""Robustness in a two-group spec: ``robustness:`` (stability, fail-safe N) runs on each
group's own FWE clusters, beside a balanced contrast, so one run uses all three.

Each group's stability and fail-safe N files must be what a version-1 run of that group
alone writes (the same code path, the same seed); the contrast report shows each group's
one-row summary with both numbers, read back against the group's tables, and a checklist
of Müller et al. (2018) whose values are the run's."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers.reports import failsafe_words_by_hand, fifty_by_hand, html_rows
from helpers.runs import rerun_differences, run_rerun_script

from ale_app.cli import main
from ale_app.spec.v2 import AnalysisSpecV2, group_spec

SEED = 5
INFERENCE = {"min_experiments": 10, "n_iterations": 200, "seed": SEED}
ROBUSTNESS = {"stability": {"enabled": True},
              "failsafe": {"enabled": True, "n_iterations": 100, "step": 16, "tests_per_cluster": 2}}
BALANCED = {"subsamples": 5, "difference_iterations": 5, "null_iterations": 60}
ROBUST_FILES = ("desc-stability_table.tsv", "desc-stabilitynull_table.tsv", "desc-failsafe_table.tsv",
                "desc-failsafetests_table.tsv", "space-MNI152NLin6Asym_res-2_desc-stability_statmap.nii.gz")


def _pain_ids() -> list[str]:
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    return [str(i) for i in Studyset(str(Path(get_resource_path()) / "nidm_pain_studyset.json")).ids]


def _v2(ids, **extra) -> dict:
    return {"spec_version": 2, "mode": "inferential", "title": "early vs late, all three",
            "input": {"path": "nimare:nidm_pain_studyset.json"},
            "groups": {"early": {"select": {"ids": ids[:10]}}, "late": {"select": {"ids": ids[10:]}}},
            "contrast": {"groups": ["early", "late"], "method": "balanced", "balanced": BALANCED},
            "inference": INFERENCE, "robustness": ROBUSTNESS, "jackknife": {"enabled": True},
            "figures": {"formats": ["png"], "dpi": 50}, **extra}


def test_v2_robustness_reaches_each_group_and_needs_inference():
    ids = [f"s{i}" for i in range(20)]
    spec = AnalysisSpecV2.model_validate(_v2(ids))
    for name in ("early", "late"):
        own = group_spec(spec, name)
        assert own.robustness == spec.robustness and own.robustness.failsafe.step == 16
    assert spec.record()["robustness"]["stability"]["enabled"] is True
    # Without the section the record has no key (archived specs re-run to the same bytes).
    plain = _v2(ids)
    del plain["robustness"]
    assert "robustness" not in AnalysisSpecV2.model_validate(plain).record()
    with pytest.raises(ValueError, match="robustness .* runs only in inferential mode"):
        AnalysisSpecV2.model_validate({**_v2(ids), "mode": "descriptive", "contrast": {"groups": ["early", "late"]}})
    with pytest.raises(ValueError, match="per fail-safe test cannot give any cluster"):
        AnalysisSpecV2.model_validate({**_v2(ids), "robustness": {"failsafe": {"enabled": True, "n_iterations": 10}}})


def test_v2_stability_subset_larger_than_a_group_is_refused_before_computing(tmp_path, capsys):
    ids = _pain_ids()
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(_v2(ids, robustness={"stability": {"enabled": True, "subset_size": 11}})))
    assert main([str(spec), str(tmp_path / "out"), "-q"]) == 65
    err = capsys.readouterr().err
    assert "group 'early'" in err and "subset_size is 11" in err and "group 'late'" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The two-group run with all three, and a version-1 run of group ``early`` alone."""
    ids = _pain_ids()
    folder = tmp_path_factory.mktemp("contrast-robustness")
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump(_v2(ids), sort_keys=False))
    both = folder / "both"
    assert main([str(spec), str(both), "--n-jobs", "2", "-q"]) == 0
    one = folder / "one.yaml"
    one.write_text(yaml.safe_dump({
        "spec_version": 1, "mode": "inferential", "title": "early vs late, all three (early)",
        "input": {"path": "nimare:nidm_pain_studyset.json", "select": {"ids": ids[:10]}},
        "inference": INFERENCE, "robustness": ROBUSTNESS, "figures": {"formats": ["png"], "dpi": 50}}))
    alone = folder / "alone"
    assert main([str(one), str(alone), "--n-jobs", "2", "-q"]) == 0
    return both, alone


@pytest.mark.slow
def test_each_groups_robustness_equals_its_own_run(runs):
    both, alone = runs
    for name in ROBUST_FILES:
        assert (both / f"group-early_{name}").read_bytes() == (alone / name).read_bytes(), name
    # The late group has no run of its own here: its files must describe its own FWE clusters,
    # and the stability map must give the table's frequency at each cluster's peak.
    import nibabel as nib
    import numpy as np

    fwe = pd.read_csv(both / "group-late_desc-fweclusters_table.tsv", sep="\t")
    peaks = fwe[fwe["peak"] == "main"].set_index("cluster_id")
    stability = pd.read_csv(both / "group-late_desc-stability_table.tsv", sep="\t").set_index("cluster_id")
    failsafe = pd.read_csv(both / "group-late_desc-failsafe_table.tsv", sep="\t").set_index("cluster_id")
    tests = pd.read_csv(both / "group-late_desc-failsafetests_table.tsv", sep="\t")
    assert len(peaks) > 0 and list(stability.index) == list(failsafe.index) == sorted(peaks.index)
    assert sorted(c.split("_")[1] for c in tests.columns if c.startswith("survives_")) == sorted(map(str, peaks.index))
    image = nib.load(both / "group-late_space-MNI152NLin6Asym_res-2_desc-stability_statmap.nii.gz")
    frequency, inverse = np.asarray(image.dataobj), np.linalg.inv(image.affine)
    assert frequency.min() >= 0 and frequency.max() <= 1
    for c, row in peaks.iterrows():
        i, j, k = np.rint(inverse @ [row.x, row.y, row.z, 1])[:3].astype(int)
        assert frequency[i, j, k] == pytest.approx(stability.loc[c, "peak_frequency"]), c
        assert stability.loc[c, "size_voxels"] == int(row.size_voxels), c
    null = pd.read_csv(both / "group-late_desc-stabilitynull_table.tsv", sep="\t")
    assert len(null) == INFERENCE["n_iterations"]
    side = json.loads((both / "group-late_desc-failsafe_table.json").read_text())
    assert side["Group"] == "late" and any(s.startswith("bids::group-late_") for s in side["Sources"])
    record = json.loads((both / "spec.json").read_text())
    assert record["robustness"]["failsafe"]["step"] == 16 and record["contrast"]["method"] == "balanced"


@pytest.mark.slow
def test_contrast_report_shows_each_groups_robustness_and_the_checklist(runs):
    both, _ = runs
    page = (both / "report.html").read_text()
    checked = 0
    for name in ("early", "late"):
        fwe = pd.read_csv(both / f"group-{name}_desc-fweclusters_table.tsv", sep="\t")
        main_rows = fwe[fwe["peak"] == "main"]
        stability = pd.read_csv(both / f"group-{name}_desc-stability_table.tsv", sep="\t").set_index("cluster_id")
        failsafe = pd.read_csv(both / f"group-{name}_desc-failsafe_table.tsv", sep="\t").set_index("cluster_id")
        if not len(main_rows):
            assert f"Each FWE cluster of group {name} in one row" not in page
            continue
        rows = html_rows(page, f"<h3>Each FWE cluster of group {name} in one row</h3>")
        assert len(rows) == len(main_rows)
        for row, cluster in zip(rows, main_rows.itertuples()):
            cid = int(cluster.cluster_id)
            assert row[0] == f"F{cid}" and row[1] == str(int(cluster.size_mm3)) and row[3] == cluster.region
            assert row[-2] == f"{stability.loc[cid, 'stability']:.2f}"
            fs = failsafe.loc[cid]
            assert row[-1] == failsafe_words_by_hand(fs)
            checked += 1
    assert checked >= 2
    checklist = {item: value for _, item, value in html_rows(page, "<h2>Reporting checklist")}
    n = {g: len(pd.read_csv(both / f"group-{g}_desc-fweclusters_table.tsv", sep="\t").query("peak == 'main'"))
         for g in ("early", "late")}
    assert checklist["Clusters that passed"] == (f"early: {n['early']}; late: {n['late']}" if n["early"] != n["late"]
                                                 else str(n["early"]))
    contrast = pd.read_csv(both / "contrast-earlyMinusLate_desc-clusters_table.tsv", sep="\t")
    assert checklist["Contrast clusters"] == str(contrast["cluster_id"].nunique())
    assert checklist["Contrast test"].startswith("balanced contrast early - late (subsamples of 10; 5 subsamples")
    assert "subsampling stability (10 subsets of 9 experiments)" in checklist["Contributions"]
    assert ("fail-safe N (Acar et al. 2018; 2 tests per cluster, each its own noise draw, staircases from 22 noise "
            "experiments, at most 110, smallest step 16)") in checklist["Contributions"]
    for text in (page, (both / "CITATION.md").read_text()):
        assert "Acar, F., Seurinck, R., Eickhoff, S. B., &amp; Moerkerke, B. (2018)" in text.replace(" & ", " &amp; ")
        assert "Frahm, L., Monimu, &amp; Hoffstaedter, F. JALE" in text.replace(" & ", " &amp; ")
    import html

    # Both groups ran the same parts with the same settings: said once, each group's numbers
    # (leave-one-out subsets; fail-safe bounds 2 and 10 times its experiments) named.
    words = html.unescape(page)
    assert words.count("Robustness of each group's own FWE clusters:") == 1 and "Robustness of group" not in words
    assert f"drew 10 subsets of 9 experiments in early and 11 subsets of 10 experiments in late (seed {SEED})" in words
    assert "(20 and 100 (early) or 22 and 110 (late) noise experiments;" in words
    assert "estimated from 2 tests per cluster" in words
    assert "a cluster whose 95% interval lies at or above 20 (early) or 22 (late) is robust" in words


@pytest.mark.slow
def test_failsafe_table_is_what_the_tests_table_gives_by_the_definition(runs):
    """Each cluster's value, interval, counts and bounds are what every test of the tests table
    gives under the definition (an independent fit, scipy's minimiser), for every cluster of
    both groups; every test of a group is its own, numbered in order, placed in turn."""
    both, _ = runs
    for name, k in (("early", 10), ("late", 11)):
        table = pd.read_csv(both / f"group-{name}_desc-failsafe_table.tsv", sep="\t")
        tests = pd.read_csv(both / f"group-{name}_desc-failsafetests_table.tsv", sep="\t")
        assert tests["test"].tolist() == list(range(1, 2 * len(table) + 1))
        assert tests["asked_by"].tolist() == list(table["cluster_id"]) * 2
        for row in table.itertuples():
            survived = tests[f"survives_{row.cluster_id}"]
            assert (row.tests, row.tests_survived) == (len(tests), survived.sum())
            if survived.all():
                assert row.failsafe_n == 10 * k
            elif not survived.any():
                assert row.failsafe_n == 0
            else:
                assert row.failsafe_n == pytest.approx(min(max(fifty_by_hand(tests["n_noise"], survived), 0), 10 * k),
                                                       rel=1e-4, abs=1e-6) or pd.isna(row.failsafe_n)
            assert row.passes_lower == (row.failsafe_n >= 2 * k) and row.passes_upper == (row.failsafe_n >= 10 * k)


def test_checklist_keeps_rule_order_and_says_which_group_lacks_an_item(monkeypatch):
    """An item only one group has (Subjects when the other has no sample sizes) stays in its
    rule's place and names the group without it, as on the 906-analysis n-back/flanker split."""
    from types import SimpleNamespace

    from ale_app.present import reviewer

    own = {"nback": [("2: sufficient power", "Experiments", "500"), ("9: diagnostics", "Contributions", "jk")],
           "flanker": [("2: sufficient power", "Experiments", "406"),
                       ("3: collect and organise the data", "Subjects", "27"),
                       ("9: diagnostics", "Contributions", "jk")]}
    monkeypatch.setattr(reviewer, "reporting_checklist", lambda r: own[r.name])
    result = SimpleNamespace(spec=SimpleNamespace(display=SimpleNamespace(threshold_percentile=95)),
                             names=("nback", "flanker"), inferential=False, balanced=None, contrast_clusters=None,
                             contrast_jackknife=None)
    inputs = {name: SimpleNamespace(name=name, robustness=None) for name in ("nback", "flanker")}
    items = reviewer.contrast_reporting_checklist(result, inputs)
    assert [item for _, item, _ in items] == ["Experiments", "Subjects", "Contrast test", "Contributions",
                                             "Data and re-run"]
    assert dict((item, value) for _, item, value in items)["Subjects"] == "nback: not recorded; flanker: 27"


def test_groups_with_different_robustness_are_described_one_by_one():
    """When the groups did not run the same parts (here: fail-safe N only in ``late``, as when
    ``early`` has no FWE cluster to test), each group gets its own sentences."""
    from types import SimpleNamespace as NS

    from ale_app.present.methods_words import group_robustness_methods

    def stability(n):
        return NS(clusters=pd.DataFrame(), subset_size=n - 1, n_subsets=n, n_iterations=100, null_space="gm",
                  cluster_size_threshold=3.0, seed=1, alpha=0.05)

    failsafe = NS(table=pd.DataFrame(), lower=22, upper=110, step=16, n_iterations=100, noise_space="brain", seed=1,
                  noise_counts="independent", n_experiments=11, tests_per_cluster=3)
    result = NS(groups={"early": NS(stability=stability(10), failsafe=None),
                        "late": NS(stability=stability(11), failsafe=failsafe)})
    text = group_robustness_methods(result)
    assert "Robustness of each group" not in text
    early, late = text.split(" Robustness of group late's own FWE clusters:")
    assert early.startswith(" Robustness of group early's own FWE clusters:")
    assert "10 subsets of 9 experiments" in early and "fail-safe" not in early
    assert "11 subsets of 10 experiments" in late and "(22 and 110 noise experiments;" in late
    assert "estimated from 3 tests per cluster" in late
    # The same parts with the same settings: once, both groups' numbers named.
    result.groups["early"].failsafe = NS(**{**vars(failsafe), "lower": 20, "upper": 100, "n_experiments": 10})
    once = group_robustness_methods(result)
    assert once.count("Robustness of") == 1 and "(20 and 100 (early) or 22 and 110 (late) noise" in once


@pytest.mark.slow
def test_rerun_script_reruns_each_groups_stability_with_nimare(runs):
    """code/nimare_rerun.py re-runs NiMARE's ResampledStability with each group's subsets and
    seed: both groups' stability maps equal to ale-app's (and, with --skip-stability, not
    re-run); the checklist says the fail-safe N is not re-run."""
    both, alone = runs
    proc = run_rerun_script(both, "--skip-jackknife")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    diffs = rerun_differences(proc.stdout)
    for prefix in ("group-early_", "group-late_"):
        assert diffs[f"{prefix}space-MNI152NLin6Asym_res-2_desc-stability_statmap.nii.gz"] == 0.0, proc.stdout
    skipped = run_rerun_script(alone, "--skip-jackknife", "--skip-stability")
    assert skipped.returncode == 0 and "_statmap.nii.gz: max" in skipped.stdout
    assert "desc-stability_statmap" not in skipped.stdout
    checklist = {item: value for _, item, value in html_rows((both / "report.html").read_text(),
                                                              "<h2>Reporting checklist")}
    assert ("re-runs the analysis with NiMARE alone (the subsampling stability too, not the fail-safe N, which "
            "NiMARE does not have)") in checklist["Data and re-run"]


@pytest.mark.slow
def test_matches_golden(runs):
    """Both runs are byte-identical to tests/golden (conftest): the version-2 run with every
    robustness analysis, and the version-1 run of its group ``early``."""
    from conftest import assert_matches_golden

    both, alone = runs
    assert_matches_golden(both, "v2-robustness")
    assert_matches_golden(alone, "v1-robustness")
