"""Fail-safe N (Acar et al. 2018) on planted evidence bases, and the robustness spec rules.

A cluster reported by every experiment must withstand more noise experiments than one reported
by three, and survive every test under both seeds; each cluster's staircase places its tests by
the rules docs/methods.md states; the same seed must give the same noise and the same table. The
fail-safe N is the 50% point of a logistic regression of survival over every test, each test
its own draw: the table must be what an independent fit of the tests table gives, recover a
known 50% point, and its 95% interval must cover it about 95% of the time, whatever the
executor. The ``robustness:`` block is refused outside inferential mode, through the real
command line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers.reports import failsafe_words_by_hand, fifty_by_hand, html_rows
from helpers.studysets import planted_dataset

from ale_app.cli import main

STEP = 4
ITERATIONS = 50
TESTS = 6  # per cluster
EVERY = (40, -20, 50)  # reported by every experiment
THREE = (-40, 20, 10)  # reported by the first three


def _fit():
    from ale_app.spec.models import ALESpec
    from ale_app.stats.ale import fit_ale

    dataset = planted_dataset(n_experiments=12, seed=11, planted=((*EVERY, None), (*THREE, 3)), n_random=(2, 5))
    return fit_ale(dataset, ALESpec())


def _cluster_at(fit, inference, xyz) -> int:
    """The FWE cluster label at the planted centre's nearest peak."""
    table = inference.clusters
    d = np.linalg.norm(table[["peak_x", "peak_y", "peak_z"]].to_numpy(float) - np.array(xyz), axis=1)
    assert d.min() < 8, f"no FWE cluster near {xyz}: {table}"
    return int(table["cluster_id"].iloc[int(np.argmin(d))])


def _failsafe(fit, seed):
    from ale_app.spec.models import ALESpec
    from ale_app.stats.failsafe import failsafe_n
    from ale_app.stats.montecarlo import montecarlo_fwe

    inference = montecarlo_fwe(fit=fit, n_iterations=ITERATIONS, seed=seed)
    labels = np.rint(fit.masker.transform(inference.label_img)).astype(int).ravel()
    result = failsafe_n(fit, labels, ALESpec(), n_iterations=ITERATIONS, seed=seed, lower_multiple=1,
                        upper_multiple=10, step=STEP, tests_per_cluster=TESTS)
    table = result.table.set_index("cluster_id")
    found = {name: _cluster_at(fit, inference, xyz) for name, xyz in (("every", EVERY), ("three", THREE))}
    return {name: (table.loc[c], c) for name, c in found.items()} | {"result": result}


@pytest.fixture(scope="module")
def small_fit():
    """The planted 12-experiment fit, made once for the tests of this module that read it."""
    return _fit()


@pytest.fixture(scope="module")
def by_seed(small_fit):
    fit = small_fit
    return {seed: _failsafe(fit, seed) for seed in (0, 1)}


@pytest.mark.slow
def test_a_cluster_of_every_experiment_withstands_more_noise_than_one_of_three(by_seed):
    """The cluster of every experiment survives every test up to the upper bound (120) under
    both seeds; the cluster of three does not, and its value is lower."""
    for rows in by_seed.values():
        (every, _), (three, _) = rows["every"], rows["three"]
        assert every["tests_survived"] == every["tests"] and every["failsafe_n"] == 120
        assert every["passes_upper"] and every["robust"]
        assert three["failsafe_n"] < every["failsafe_n"] and not three["passes_upper"]


def _staircase_by_hand(outcomes: list[bool], lower: int, k: int, upper: int, min_step: int) -> list[int]:
    """The numbers one cluster's staircase tests, written out from docs/methods.md's words: start at
    the lower bound with a step of k; up after a survival, down after a failure; halve the step
    (not below the smallest step) when the direction reverses; stay within 0 and the upper bound."""
    m, step, last, placed = lower, k, None, []
    for survived in outcomes:
        placed.append(m)
        if last is not None and survived != last:
            step = max(min_step, step // 2)
        m = min(max(m + step if survived else m - step, 0), upper)
        last = survived
    return placed


@pytest.mark.slow
def test_each_clusters_staircase_places_its_tests_as_the_readme_says(by_seed):
    for rows in by_seed.values():
        ev = rows["result"].evaluations
        assert ev["test"].tolist() == list(range(1, len(ev) + 1))
        clusters = [int(c.split("_")[1]) for c in ev.columns if c.startswith("survives_")]
        assert ev["asked_by"].tolist() == [clusters[i % len(clusters)] for i in range(len(ev))]
        for c in clusters:
            mine = ev[ev["asked_by"] == c]
            assert mine["n_noise"].tolist() == _staircase_by_hand(mine[f"survives_{c}"].tolist(), 12, 12, 120, STEP)


def test_the_same_seed_draws_the_same_noise_and_another_seed_other_noise():
    import pandas as pd

    from ale_app.stats.failsafe import draw_noise

    coords = pd.DataFrame({"id": ["a", "a", "b"], "x": [0.0, 2, 4], "y": [0.0, 0, 0], "z": [0.0, 0, 0],
                           "sample_size": [10.0, 10, 20]})
    space = np.argwhere(np.ones((10, 10, 10), dtype=bool)).astype(np.int32)
    affine = np.diag([2.0, 2, 2, 1])
    foci1, noise1 = draw_noise(coords, 30, 5, space, affine)
    foci2, noise2 = draw_noise(coords, 30, 5, space, affine)
    foci3, _ = draw_noise(coords, 30, 6, space, affine)
    pd.testing.assert_frame_equal(foci1, foci2)
    pd.testing.assert_frame_equal(noise1, noise2)
    assert not foci1[["x", "y", "z"]].equals(foci3[["x", "y", "z"]])
    # Each noise experiment copies a real experiment's focus count and another's sample size.
    assert set(noise1["n_foci"]) <= {2, 1} and set(noise1["sample_size"]) <= {10.0, 20.0}
    # Fewer noise experiments are the first ones of the same sequence.
    _, fewer = draw_noise(coords, 10, 5, space, affine)
    _, other_test = draw_noise(coords, 30, 5, space, affine, test=2)
    assert not other_test.equals(noise1)
    pd.testing.assert_frame_equal(fewer, noise1.iloc[:10])


def test_focus_count_and_sample_size_are_drawn_independently_unless_paired():
    """Acar's GenerateNull.R draws a null study's peak count (``sample(p.r, k.null, replace=TRUE)``)
    apart from its subjects (``sample(n.r, 1)``), as the Python port does (two ``random.choices``):
    with two experiments of (2 foci, 10 subjects) and (1 focus, 20 subjects), all four pairs occur.
    ``paired`` keeps each noise experiment's two numbers from one experiment."""
    import pandas as pd

    from ale_app.stats.failsafe import draw_noise

    coords = pd.DataFrame({"id": ["a", "a", "b"], "x": [0.0, 2, 4], "y": 0.0, "z": 0.0,
                           "sample_size": [10.0, 10, 20]})
    space = np.argwhere(np.ones((10, 10, 10), dtype=bool)).astype(np.int32)
    affine = np.diag([2.0, 2, 2, 1])
    pairs = {"a": (2, 10.0), "b": (1, 20.0)}
    foci, noise = draw_noise(coords, 200, 0, space, affine)
    assert set(map(tuple, noise[["n_foci", "sample_size"]].to_numpy())) == {(2, 10.0), (1, 20.0), (2, 20.0), (1, 10.0)}
    for row in noise.itertuples():
        assert (row.n_foci, row.sample_size) == (pairs[row.foci_from][0], pairs[row.sample_size_from][1])
    assert (foci.groupby("id", sort=False).size().to_numpy() == noise["n_foci"].to_numpy()).all()
    assert (foci.groupby("id", sort=False)["sample_size"].first().to_numpy() == noise["sample_size"].to_numpy()).all()
    _, paired = draw_noise(coords, 200, 0, space, affine, "paired")
    assert set(map(tuple, paired[["n_foci", "sample_size"]].to_numpy())) == {(2, 10.0), (1, 20.0)}
    assert (paired["foci_from"] == paired["sample_size_from"]).all()
    with pytest.raises(ValueError):
        draw_noise(coords, 2, 0, space, affine, "shuffled")


def test_a_noise_experiment_puts_its_foci_on_distinct_voxels():
    """Acar's GenerateNull.R samples a null study's voxels without replacement (``sample(...,
    replace=FALSE)``; the Python port uses ``random.sample``): three foci on a space of three
    voxels must be those three voxels, in every noise experiment."""
    import pandas as pd

    from ale_app.stats.failsafe import draw_noise

    coords = pd.DataFrame({"id": ["a"] * 3, "x": [0.0, 2, 4], "y": 0.0, "z": 0.0, "sample_size": 10.0})
    space = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]], dtype=np.int32)
    foci, noise = draw_noise(coords, 40, 3, space, np.diag([2.0, 2, 2, 1]))
    assert len(noise) == 40
    for _, rows in foci.groupby("id"):
        assert sorted(rows["x"]) == [0.0, 2.0, 4.0]


def test_a_cluster_survives_only_while_its_peak_voxel_passes(monkeypatch):
    """Acar's simulations read the cluster-level FWE map at one voxel (the planted effect's centre,
    ``local_FSN_clunc.R``) and the Python port reads each cluster's FSN at its peak: a cluster
    whose other voxels still pass but whose peak does not has failed. The re-run analyses are
    replaced by one whose passing map is the original cluster without its peak voxel (any-voxel
    survival would make the fail-safe N the upper bound)."""
    from types import SimpleNamespace

    import pandas as pd

    from ale_app.spec.models import ALESpec
    from ale_app.stats import ale as ale_module
    from ale_app.stats import montecarlo
    from ale_app.stats.failsafe import cluster_peaks, failsafe_n

    n_vox = 50
    labels = np.zeros(n_vox, dtype=int)
    labels[10:20], labels[30:36] = 1, 2
    values = np.linspace(0.01, 0.02, n_vox)
    values[14] = values[33] = 0.5  # the peaks, inside each cluster
    assert cluster_peaks(values, labels) == {1: 14, 2: 33}
    passing = (labels > 0).astype(float)
    passing[14] = 0.0  # cluster 1 keeps every voxel but its peak; cluster 2 keeps all of its voxels
    masker = SimpleNamespace(transform=lambda img: img, mask_img=SimpleNamespace(affine=np.eye(4)))
    coords = pd.DataFrame({"id": [f"e{i}" for i in range(4)], "x": 0.0, "y": 0.0, "z": 0.0, "sample_size": 10.0})
    fit = SimpleNamespace(stat_values=values, masker=masker, ids=list(coords["id"]),
                          estimator=SimpleNamespace(inputs_={"coordinates": coords}))
    refit = SimpleNamespace(masker=masker)
    monkeypatch.setattr(ale_module, "fit_ale", lambda *_a, **_k: refit)
    monkeypatch.setattr(montecarlo, "montecarlo_fwe",
                        lambda **_k: SimpleNamespace(label_img=passing, clusters=[1]))
    from ale_app.stats import nimare_adapter

    space = np.argwhere(np.ones((5, 5, 2), dtype=bool)).astype(np.int32)
    monkeypatch.setattr(nimare_adapter, "null_space_ijk", lambda *_a, **_k: space)
    monkeypatch.setattr("ale_app.stats.failsafe._dataset", lambda coordinates: coordinates)
    table = failsafe_n(fit, labels, ALESpec(), n_iterations=10, seed=0, step=1,
                       tests_per_cluster=3).table.set_index("cluster_id")
    assert table.loc[1, "failsafe_n"] == 0 and table.loc[1, "tests_survived"] == 0 and not table.loc[1, "robust"]
    assert table.loc[2, "failsafe_n"] == 40 and table.loc[2, "passes_upper"]  # 10 x 4 experiments
    assert table.loc[2, "tests_survived"] == table.loc[2, "tests"] == 6


def test_the_peak_the_search_reads_is_the_fwe_cluster_tables_main_peak(small_fit):
    """The voxel whose survival decides is the one the FWE cluster table reports as the
    cluster's main peak (found independently, by nilearn-style peak finding on the image)."""
    from ale_app.stats.failsafe import cluster_peaks
    from ale_app.stats.fwe_clusters import fwe_clusters
    from ale_app.stats.montecarlo import montecarlo_fwe

    fit = small_fit
    inference = montecarlo_fwe(fit=fit, n_iterations=ITERATIONS, seed=0)
    labels = np.rint(fit.masker.transform(inference.label_img)).astype(int).ravel()
    peaks = cluster_peaks(fit.stat_values, labels)
    table = fwe_clusters(inference, fit.stat_img).table
    main = table[table["peak"] == "main"].set_index("cluster_id")
    assert len(peaks) == len(main) >= 2
    mask = np.asarray(fit.masker.mask_img.dataobj) > 0
    ijk = np.argwhere(mask)  # in-mask C order, the masker's order
    affine = fit.masker.mask_img.affine
    for c, i in peaks.items():
        xyz = affine[:3, :3] @ ijk[i] + affine[:3, 3]
        assert np.allclose(xyz, main.loc[c, ["x", "y", "z"]].to_numpy(float)), (c, xyz)


def test_fail_safe_bounds_follow_acar():
    from ale_app.stats.failsafe import bounds

    assert bounds(21) == (42, 210)
    with pytest.raises(ValueError):
        bounds(10, 3, 2)


# --------------------------------------------------------------------------- the spec


def _spec(folder: Path, body: str) -> Path:
    spec = folder / "spec.yaml"
    spec.write_text("spec_version: 1\ninput:\n  path: nimare:nidm_pain_studyset.json\n" + body, encoding="utf-8")
    return spec


def test_robustness_is_refused_outside_inferential_mode(tmp_path, capsys):
    spec = _spec(tmp_path, "robustness:\n  stability:\n    enabled: true\n")
    code = main([str(spec), str(tmp_path / "out"), "--n-jobs", "1"])
    err = capsys.readouterr().err
    assert code == 65
    assert "robustness" in err and "inferential" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("body, field", [
    ("  failsafe:\n    lower_multiple: 5\n    upper_multiple: 2\n", "lower_multiple"),
    ("  failsafe:\n    step: 0\n", "step"),
    ("  stability:\n    null_space: cortex\n", "null_space"),
    ("  failsafe:\n    noise_counts: shuffled\n", "noise_counts"),
    ("  stability:\n    subsets: 3\n", "subsets"),
])
def test_robustness_parameters_are_bounded(tmp_path, capsys, body, field):
    spec = _spec(tmp_path, "mode: inferential\nrobustness:\n" + body)
    code = main([str(spec), str(tmp_path / "out"), "--n-jobs", "1"])
    err = capsys.readouterr().err
    assert code == 65 and field in err and "Traceback" not in err


def test_robustness_defaults_are_off_and_left_out_of_the_record():
    from ale_app.spec.models import AnalysisSpec

    base = {"spec_version": 1, "mode": "inferential", "input": {"path": "x.tsv"}}
    assert "robustness" not in AnalysisSpec.model_validate(base).record()
    spec = AnalysisSpec.model_validate({**base, "robustness": {}})
    assert not spec.robustness.stability.enabled and not spec.robustness.failsafe.enabled
    assert spec.robustness.failsafe.lower_multiple == 2 and spec.robustness.failsafe.upper_multiple == 10
    assert spec.robustness.failsafe.noise_counts == "independent"  # as Acar et al.'s GenerateNull.R
    assert spec.record()["robustness"]["stability"]["n_subsets"] == 1000


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_a_run_with_both_parts_writes_their_tables_and_report_columns(tmp_path, capsys):
    import json

    import pandas as pd

    spec = _spec(tmp_path, "mode: inferential\ninference:\n  n_iterations: 100\nfigures:\n  formats: [png]\n"
                 "robustness:\n  stability:\n    enabled: true\n    subset_size: 18\n    n_subsets: 4\n"
                 "  failsafe:\n    enabled: true\n    n_iterations: 100\n    lower_multiple: 0.5\n"
                 "    upper_multiple: 2\n    step: 8\n    tests_per_cluster: 2\n")
    out = tmp_path / "out"
    assert main([str(spec), str(out), "--n-jobs", "2"]) == 0
    fwe = pd.read_csv(out / "desc-fweclusters_table.tsv", sep="\t")
    n_clusters = fwe["cluster_id"].nunique()
    stability = pd.read_csv(out / "desc-stability_table.tsv", sep="\t")
    failsafe = pd.read_csv(out / "desc-failsafe_table.tsv", sep="\t")
    assert list(stability["cluster_id"]) == list(failsafe["cluster_id"]) == sorted(fwe["cluster_id"].unique())
    assert len(stability) == n_clusters > 0
    assert stability["stability"].between(0, 1).all()
    assert ((failsafe["failsafe_n"] >= 0) & (failsafe["failsafe_n"] <= 42)).all()
    side = json.loads((out / "desc-failsafe_table.json").read_text())
    assert side["LowerBound"] == 11 and side["UpperBound"] == 42 and side["Step"] == 8
    assert side["TestsPerCluster"] == 2 and (failsafe["tests"] == 2 * n_clusters).all()
    assert json.loads((out / "spec.json").read_text())["robustness"]["failsafe"]["enabled"] is True
    report = (out / "report.html").read_text()
    assert "Fail-safe N" in report and "Stability (share of subsets)" in report
    assert "Acar et al., 2018" in (out / "CITATION.md").read_text()
    # The reviewer's one row per FWE cluster carries both numbers as the tables hold them.
    rows = html_rows(report, "<h3>Each FWE cluster in one row</h3>")
    assert [r[0] for r in rows] == [f"F{c}" for c in stability["cluster_id"]]
    for row, st, (_, fs) in zip(rows, stability.itertuples(), failsafe.iterrows()):
        assert row[-2] == f"{st.stability:.2f}"
        assert row[-1] == failsafe_words_by_hand(fs)
    checklist = {item: value for _, item, value in html_rows(report, "<h2>Reporting checklist")}
    assert "subsampling stability (4 subsets of 18 experiments)" in checklist["Contributions"]
    assert ("fail-safe N (Acar et al. 2018; 2 tests per cluster, each its own noise draw, staircases from 11 noise "
            "experiments, at most 42, smallest step 8)") in checklist["Contributions"]


@pytest.mark.parametrize("body, words", [
    ("    subset_size: 30\n", ["subset_size", "21 experiments"]),
    ("    subset_size: 10\n    n_subsets: null\n", ["n_subsets", "352,716"]),
])
def test_stability_settings_the_evidence_base_cannot_meet_are_refused(tmp_path, capsys, body, words):
    spec = _spec(tmp_path, "mode: inferential\nrobustness:\n  stability:\n    enabled: true\n" + body)
    code = main([str(spec), str(tmp_path / "out"), "--n-jobs", "1"])
    err = capsys.readouterr().err
    assert code == 65 and all(w in err for w in words) and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


def test_with_no_noise_the_rebuilt_evidence_base_gives_the_same_ale(small_fit):
    """The fail-safe tests rebuild the evidence base from the fit's prepared foci; with no noise
    added it must give the original ALE map exactly, so only the noise changes the answer."""
    from ale_app.spec.models import ALESpec
    from ale_app.stats.ale import fit_ale
    from ale_app.stats.failsafe import _dataset

    fit = small_fit
    coords = fit.estimator.inputs_["coordinates"][["id", "x", "y", "z", "sample_size"]]
    again = fit_ale(_dataset(coords), ALESpec())
    assert np.array_equal(again.stat_values, fit.stat_values)


# --------------------------------------------------------------------------- the definition and the tests


def test_the_fail_safe_n_does_not_assume_monotone_survival():
    """The issue's case: a cluster fails at 25, 43 and 46 and survives at 50 and 51. Its value is
    where its survival crosses one half over every test, not the largest number at which it
    survived (51) nor the last before its first failure (10)."""
    from ale_app.stats.failsafe import half_survival

    m = [10, 25, 43, 46, 50, 51, 80, 100, 5, 30]
    survived = [True, False, False, False, True, True, False, False, True, True]
    fit = half_survival(m, survived, 50, 250)
    assert fit["failsafe_n"] == pytest.approx(fifty_by_hand(m, survived), rel=1e-5)
    assert 10 < fit["failsafe_n"] < 51 and fit["ci_low"] < fit["failsafe_n"] < fit["ci_high"]
    assert 0 < fit["survival_at_upper"] < fit["survival_at_lower"] < 1
    # Every test survived: the upper bound; none: 0; survival rising with noise: no value.
    assert half_survival([50, 250], [True, True], 50, 250)["failsafe_n"] == 250
    assert half_survival([50, 25], [False, False], 50, 250)["failsafe_n"] == 0
    assert np.isnan(half_survival([10, 20, 30, 40], [False, True, False, True], 50, 250)["failsafe_n"])


def test_the_fifty_percent_point_is_recovered_and_its_interval_covers_it():
    """Outcomes drawn from a known survival curve (50% at 30 noise experiments, logistic in
    log(1 + m)): over 300 draws of 400 tests the values' median is within 10% of 30, and the 95%
    interval holds 30 in 90% to 99% of them."""
    from ale_app.stats.failsafe import half_survival

    rng = np.random.default_rng(2018)
    covered, values = 0, []
    for _ in range(300):
        m = rng.integers(0, 120, 400)
        p = 1.0 / (1.0 + np.exp(2.5 * (np.log1p(m) - np.log1p(30))))
        fit = half_survival(m, rng.random(400) < p, 50, 250)
        values.append(fit["failsafe_n"])
        covered += fit["ci_low"] <= 30 <= fit["ci_high"]
    assert abs(np.median(values) - 30) < 3
    assert 0.90 <= covered / 300 <= 0.99, covered


FAKE_LOWER, FAKE_UPPER = 8, 40  # 2 and 10 x the fake's 4 experiments


def _fake_search(monkeypatch, oracle, *, tests_per_cluster, seed=0, step=1):
    """``failsafe_n`` on a fake 50-voxel analysis of 4 experiments with clusters 1 and 2 whose
    survival in test t at m noise experiments is ``oracle(cluster, m, t)``: the re-run ALE and
    FWE are replaced, the noise draw, the staircases and the table are the real ones."""
    from types import SimpleNamespace

    import pandas as pd

    from ale_app.spec.models import ALESpec
    from ale_app.stats import ale as ale_module
    from ale_app.stats import montecarlo, nimare_adapter
    from ale_app.stats.failsafe import failsafe_n

    n_vox = 50
    labels = np.zeros(n_vox, dtype=int)
    labels[10:20], labels[30:36] = 1, 2
    values = np.linspace(0.01, 0.02, n_vox)
    values[14] = values[33] = 0.5
    masker = SimpleNamespace(transform=lambda img: img, mask_img=SimpleNamespace(affine=np.eye(4)))
    coords = pd.DataFrame({"id": [f"e{i}" for i in range(4)], "x": 0.0, "y": 0.0, "z": 0.0, "sample_size": 10.0})
    fit = SimpleNamespace(stat_values=values, masker=masker, ids=list(coords["id"]),
                          estimator=SimpleNamespace(inputs_={"coordinates": coords}))
    space = np.argwhere(np.ones((5, 5, 2), dtype=bool)).astype(np.int32)
    noises, seeds = [], []

    def refit(data, _spec):
        noise = data[data["id"].str.startswith("failsafe-noise")]
        noises.append(noise.reset_index(drop=True))
        return SimpleNamespace(masker=masker, m=noise["id"].nunique(), t=len(noises))

    def fwe(**k):
        seeds.append(k["seed"])
        passing = np.zeros(n_vox)
        for c in (1, 2):
            passing[labels == c] = float(oracle(c, k["fit"].m, k["fit"].t))
        return SimpleNamespace(label_img=passing, clusters=[1])

    monkeypatch.setattr(ale_module, "fit_ale", refit)
    monkeypatch.setattr(montecarlo, "montecarlo_fwe", fwe)
    monkeypatch.setattr(nimare_adapter, "null_space_ijk", lambda *_a, **_k: space)
    monkeypatch.setattr("ale_app.stats.failsafe._dataset", lambda coordinates: coordinates)
    result = failsafe_n(fit, labels, ALESpec(), n_iterations=10, seed=seed, step=step,
                        tests_per_cluster=tests_per_cluster)
    result.null_seeds, result.noises = seeds, noises  # every test's Monte Carlo seed and noise foci, in order
    result.coords, result.space = coords, space
    return result


def _thresholds(c, m, t):
    """Cluster 1 survives up to 20 noise experiments, cluster 2 everywhere but at 14 and 15."""
    return m <= 20 if c == 1 else m not in (14, 15)


def test_the_reported_fail_safe_n_is_the_definition_on_the_tests_table(monkeypatch):
    """The table follows from the tests table: each cluster's value, by an independent fit of
    every test (the other cluster's tests included); the counts and bounds; and each staircase
    placed its tests by docs/methods.md's rules from its own cluster's outcomes."""
    result = _fake_search(monkeypatch, _thresholds, tests_per_cluster=12)
    ev, table = result.evaluations, result.table.set_index("cluster_id")
    assert ev["test"].tolist() == list(range(1, 25)) and ev["asked_by"].tolist() == [1, 2] * 12
    for c in (1, 2):
        mine = ev[ev["asked_by"] == c]
        assert mine["n_noise"].tolist() == _staircase_by_hand(mine[f"survives_{c}"].tolist(), FAKE_LOWER, 4,
                                                               FAKE_UPPER, 1)
        row = table.loc[c]
        assert row["tests"] == 24 and row["tests_survived"] == ev[f"survives_{c}"].sum()
        assert row["passes_lower"] == (row["failsafe_n"] >= FAKE_LOWER)
        assert row["passes_upper"] == (row["failsafe_n"] >= FAKE_UPPER)
    # Cluster 1's outcomes separate at 20: its value lies between its last survival and first failure.
    assert table.loc[1, "failsafe_n"] == pytest.approx(fifty_by_hand(ev["n_noise"], ev["survives_1"]), rel=1e-5)
    assert 20 <= table.loc[1, "failsafe_n"] <= ev.loc[ev.n_noise > 20, "n_noise"].min()
    assert table.loc[1, "robust"] == (table.loc[1, "ci_low"] >= FAKE_LOWER)
    # Cluster 2 failed only where cluster 1's staircase went (14 or 15), if it did at all.
    failed = ev.loc[~ev["survives_2"], "n_noise"]
    assert set(failed) <= {14, 15}


def _known_curve(c, m, t):
    """Survival drawn for test t from a known curve: cluster 1 survives half of the draws at 12
    noise experiments, cluster 2 at 30 (logistic in log(1 + m))."""
    half = 12 if c == 1 else 30
    p = 1.0 / (1.0 + np.exp(3.0 * (np.log1p(m) - np.log1p(half))))
    return np.random.default_rng([t, c]).random() < p


def test_the_staircases_and_the_regression_recover_a_known_fifty_percent_point(monkeypatch):
    result = _fake_search(monkeypatch, _known_curve, tests_per_cluster=150)
    table = result.table.set_index("cluster_id")
    for c, half in ((1, 12), (2, 30)):
        # (whether a 95% interval holds the truth is a 95% event, tested over many draws above)
        assert table.loc[c, "ci_low"] < table.loc[c, "failsafe_n"] < table.loc[c, "ci_high"], table
        assert abs(table.loc[c, "failsafe_n"] - half) < 0.15 * half, table
    # The tests gathered near each cluster's 50% point.
    ev = result.evaluations
    assert abs(np.median(ev.loc[ev.asked_by == 2, "n_noise"]) - 30) < 8


def test_each_test_draws_its_own_stream_whatever_the_number_of_tests(monkeypatch):
    """Test t's noise is the first m of ``SeedSequence(seed, spawn_key=(0x4653, t))``'s draw and
    its Monte Carlo seed ``SeedSequence(seed, spawn_key=(0x4653, t, 0x4D43))``'s: the tests
    differ, and the first tests of a run with more tests per cluster are those of a run with fewer."""
    import pandas as pd

    from ale_app.stats.failsafe import FAILSAFE_STREAM, draw_noise, montecarlo_seed, noise_seed_sequence

    assert noise_seed_sequence(7, 2).spawn_key == (FAILSAFE_STREAM, 2) and noise_seed_sequence(7, 2).entropy == 7
    with pytest.raises(ValueError):
        noise_seed_sequence(7, 0)
    five = _fake_search(monkeypatch, _known_curve, tests_per_cluster=5, seed=5)
    three = _fake_search(monkeypatch, _known_curve, tests_per_cluster=3, seed=5)
    pd.testing.assert_frame_equal(three.evaluations, five.evaluations.iloc[:6])
    assert five.null_seeds == [montecarlo_seed(5, t) for t in range(1, 11)]
    assert len(set(five.null_seeds)) == 10 and montecarlo_seed(6, 1) not in five.null_seeds
    assert montecarlo_seed(5, 1) == int(np.random.SeedSequence(5, spawn_key=(0x4653, 1, 0x4D43)).generate_state(1)[0])
    for t, (noise, m) in enumerate(zip(five.noises, five.evaluations["n_noise"]), start=1):
        expected, _ = draw_noise(five.coords, m, 5, five.space, np.eye(4), test=t)
        pd.testing.assert_frame_equal(noise[["id", "x", "y", "z"]], expected[["id", "x", "y", "z"]],
                                      check_dtype=False)
    other = _fake_search(monkeypatch, _known_curve, tests_per_cluster=1, seed=6)
    assert not other.noises[0][["x", "y", "z"]].equals(five.noises[0][["x", "y", "z"]])


def test_the_fail_safe_n_does_not_depend_on_the_executor(small_fit):
    """Serial and two threads give the same tables (real ALE and Monte Carlo FWE, a small base)."""
    import pandas as pd

    from ale_app.process.executor import Executor
    from ale_app.spec.models import ALESpec
    from ale_app.stats.failsafe import failsafe_n
    from ale_app.stats.montecarlo import montecarlo_fwe

    fit = small_fit
    inference = montecarlo_fwe(fit=fit, n_iterations=ITERATIONS, seed=0)
    labels = np.rint(fit.masker.transform(inference.label_img)).astype(int).ravel()
    runs = [failsafe_n(fit, labels, ALESpec(), n_iterations=ITERATIONS, seed=0, lower_multiple=0,
                       upper_multiple=0.25, step=3, tests_per_cluster=1, executor=executor)
            for executor in (Executor("serial", 1), Executor("threads", 2))]
    n_clusters = len(runs[0].table)
    assert runs[0].evaluations["n_noise"].tolist() == [0] * n_clusters  # every staircase starts at 0 here
    for name in ("table", "evaluations"):
        pd.testing.assert_frame_equal(getattr(runs[0], name), getattr(runs[1], name))


def test_the_noise_of_a_base_without_sample_sizes_keeps_the_one_sample_size():
    """With ``ale.sample_size`` for every experiment (no sample sizes in the data, as the n-back
    set), the prepared foci have no sample size: the fail-safe N reads them with NaN (the re-run
    applies the spec's again) and finds its noise space without NiMARE's sample-size metadata
    (this stopped the run with a KeyError before)."""
    import pandas as pd

    from ale_app.spec.models import ALESpec
    from ale_app.stats import nimare_adapter as NA
    from ale_app.stats.ale import fit_ale
    from ale_app.stats.failsafe import _dataset, draw_noise, prepared_foci

    coords = pd.DataFrame({"id": ["a", "a", "b"], "x": [40.0, 42, -40], "y": [-20.0, -20, 20], "z": [50.0, 48, 10],
                           "sample_size": np.nan})
    fit = fit_ale(_dataset(coords), ALESpec(sample_size=20))
    foci = prepared_foci(fit)
    assert list(foci.columns) == ["id", "x", "y", "z", "sample_size"] and foci["sample_size"].isna().all()
    space = NA.null_space_ijk(fit.estimator, "brain")
    assert space.ndim == 2 and len(space) > 100_000
    _, noise = draw_noise(foci, 5, 0, space, fit.masker.mask_img.affine)
    assert noise["sample_size"].isna().all()


def test_readme_sidecar_and_methods_state_the_same_definition():
    """The definition and the placement of the tests are one text each: docs/methods.md's, the
    fail-safe table's sidecar's and the methods text's, word for word."""
    from types import SimpleNamespace as NS

    import pandas as pd

    from ale_app.outputs.sidecars import failsafe_info
    from ale_app.present.methods_words import robustness_methods
    from ale_app.stats.failsafe import DEFINITION, SEARCH

    text = (Path(__file__).resolve().parents[1] / "docs" / "methods.md").read_text(encoding="utf-8")
    readme = " ".join(text.replace("\n> ", "\n").split())  # docs/methods.md quotes it as a block
    assert DEFINITION in readme and SEARCH in readme
    assert "Acar et al. 2018" in readme and "e0208177" in readme
    fs = NS(n_experiments=25, lower=50, upper=250, step=2, tests_per_cluster=80, n_iterations=200,
            noise_space="brain", noise_counts="independent", seed=3, table=pd.DataFrame())
    result = NS(failsafe=fs, spec=NS(inference=NS(voxel_p=0.001, fwe_alpha=0.05)))
    info = failsafe_info(result)
    assert info["Definition"] == DEFINITION and info["TestsPerCluster"] == 80 and SEARCH in info["Method"]
    assert "e0208177" in info["Method"]
    methods = robustness_methods({"failsafe": {**vars(fs), "lower": 50, "upper": 250}})
    assert DEFINITION in methods and "80 tests per cluster" in methods and "Acar et al., 2018" in methods
    assert "200 Monte Carlo iterations" in methods and "(50 and 250 noise experiments" in methods


def test_a_spec_with_the_old_repeats_setting_is_refused_with_what_replaced_it(tmp_path, capsys):
    spec = _spec(tmp_path, "mode: inferential\nrobustness:\n  failsafe:\n    enabled: true\n    repeats: 5\n")
    code = main([str(spec), str(tmp_path / "out"), "--validate-only"])
    err = capsys.readouterr().err
    assert code == 65 and "repeats was replaced by tests_per_cluster" in err and "Traceback" not in err, err
