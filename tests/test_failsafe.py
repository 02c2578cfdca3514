"""Fail-safe N (Acar et al. 2018) on planted evidence bases, and the robustness spec rules.

A cluster reported by every experiment must withstand more noise experiments than one reported
by three, and survive the upper bound in every repeat under both seeds; each repeat's search
closes its gap to the step; the same seed must give the same noise and the same table. The
fail-safe N follows one definition that does not assume monotone survival, over repeats of
the noise draw each with its own stream: the table must be what the tests table gives under
that definition, whatever the executor. The ``robustness:`` block is refused outside
inferential mode, through the real command line.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ale_app.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from test_stability import planted_dataset  # noqa: E402

STEP = 4
ITERATIONS = 50
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
                        upper_multiple=10, step=STEP, repeats=3)
    table, per = result.table.set_index("cluster_id"), result.repeats_table
    found = {name: _cluster_at(fit, inference, xyz) for name, xyz in (("every", EVERY), ("three", THREE))}
    return {name: (table.loc[c], per[per.cluster_id == c]) for name, c in found.items()}


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
    """The cluster of every experiment survives the upper bound (120) in every repeat under both
    seeds; the cluster of three does not, and its median is lower. (Whether the cluster of three
    passes the lower bound depends on the seed at 50 Monte Carlo iterations per test: one draw of
    noise and null is not a stable answer, which is why the draw is repeated.)"""
    for rows in by_seed.values():
        (every, _), (three, _) = rows["every"], rows["three"]
        assert every["failsafe_n"] == every["failsafe_n_min"] == 120 and every["passes_upper"] and every["robust"]
        assert three["failsafe_n"] < every["failsafe_n"] and not three["passes_upper"]


@pytest.mark.slow
def test_each_repeats_search_closes_the_gap_to_the_step(by_seed):
    for rows in by_seed.values():
        for _, per in rows.values():
            gap = per["first_failure"] - per["failsafe_n"]
            assert (gap.isna() | ((gap > 0) & (gap <= STEP))).all(), per  # the search narrowed it to the step


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
    table = failsafe_n(fit, labels, ALESpec(), n_iterations=10, seed=0, step=1, repeats=2).table.set_index("cluster_id")
    assert table.loc[1, "failsafe_n"] == 0 and not table.loc[1, "robust"]
    assert table.loc[2, "failsafe_n"] == 40 and table.loc[2, "passes_upper"]  # 10 x 4 experiments


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
                 "    upper_multiple: 2\n    step: 8\n    repeats: 2\n")
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
    assert side["LowerBound"] == 11 and side["UpperBound"] == 42 and side["Step"] == 8 and side["Repeats"] == 2
    assert json.loads((out / "spec.json").read_text())["robustness"]["failsafe"]["enabled"] is True
    report = (out / "report.html").read_text()
    assert "Fail-safe N" in report and "Stability (share of subsets)" in report
    assert "Acar et al., 2018" in (out / "CITATION.md").read_text()
    # The reviewer's one row per FWE cluster carries both numbers as the tables hold them.
    from test_inferential import _html_rows

    rows = _html_rows(report, "<h3>Each FWE cluster in one row</h3>")
    assert [r[0] for r in rows] == [f"F{c}" for c in stability["cluster_id"]]
    for row, st, (_, fs) in zip(rows, stability.itertuples(), failsafe.iterrows()):
        assert row[-2] == f"{st.stability:.2f}"
        assert row[-1] == (f"\u2265 {int(fs['failsafe_n_min'])} in every repeat (survived the upper bound)"
                           if fs["passes_upper"] else
                           f"{fs['failsafe_n']:g} (median of 2 repeats; range {int(fs['failsafe_n_min'])} to "
                           f"{int(fs['failsafe_n_max'])})")
    checklist = {item: value for _, item, value in _html_rows(report, "<h2>Reporting checklist")}
    assert "subsampling stability (4 subsets of 18 experiments)" in checklist["Contributions"]
    assert "noise experiments between 11 and 42, step 8; 2 repeats of the noise draw" in checklist["Contributions"]


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


# --------------------------------------------------------------------------- the definition and the repeats


def test_failsafe_of_does_not_assume_monotone_survival():
    """The issue's case: a cluster fails at 25, 43 and 46 and survives at 50 and 51; its fail-safe
    N is the largest tested m with survival at every tested number up to m, not the largest
    number at which it survived."""
    from ale_app.stats.failsafe import failsafe_of, next_test

    outcomes = {10: True, 25: False, 43: False, 46: False, 50: True, 51: True}
    assert failsafe_of(outcomes) == (10, 25)
    assert failsafe_of({50: True, 250: True}) == (250, None)
    assert failsafe_of({50: False}) == (0, 50)
    assert failsafe_of({}) == (0, None)
    # The search: lower bound, upper bound while nothing failed, then midpoints of the gap.
    assert next_test({}, 50, 250, 1) == 50
    assert next_test({50: True}, 50, 250, 1) == 250
    assert next_test({50: True, 250: False}, 50, 250, 1) == 150
    assert next_test({50: False}, 50, 250, 1) == 25
    assert next_test({50: True, 250: True}, 50, 250, 1) is None
    # A failure below the lower bound (another cluster's test) reopens the search there.
    assert next_test({30: False, 50: True, 250: True}, 50, 250, 1) == 15
    assert next_test({50: True, 60: False, 250: True}, 50, 250, 10) is None


FAKE_LOWER, FAKE_UPPER = 8, 40  # 2 and 10 x the fake's 4 experiments


def _fake_search(monkeypatch, oracle, *, repeats, seed=0, step=1):
    """``failsafe_n`` on a fake 50-voxel analysis of 4 experiments with clusters 1 and 2 whose
    survival at m noise experiments in repeat r is ``oracle(cluster, m, r)``: the re-run ALE and
    FWE are replaced, the noise draw and the search are the real ones."""
    from types import SimpleNamespace

    import pandas as pd

    from ale_app.spec.models import ALESpec
    from ale_app.stats import ale as ale_module
    from ale_app.stats import montecarlo, nimare_adapter
    from ale_app.stats.failsafe import draw_noise, failsafe_n

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
    # Which repeat a re-run belongs to, told by its first noise focus (each repeat its own draw).
    first_focus = {}
    for r in range(1, repeats + 1):
        foci, _ = draw_noise(coords, FAKE_UPPER, seed, space, np.eye(4), repeat=r)
        first_focus[tuple(foci.iloc[0][["x", "y", "z"]])] = r
    assert len(first_focus) == repeats

    def refit(data, _spec):
        noise = data[data["id"].str.startswith("failsafe-noise")]
        r = first_focus[tuple(noise.iloc[0][["x", "y", "z"]])] if len(noise) else 0
        return SimpleNamespace(masker=masker, m=noise["id"].nunique(), r=r)

    def fwe(**k):
        seeds.append((k["fit"].r, k["seed"]))
        passing = np.zeros(n_vox)
        for c in (1, 2):
            passing[labels == c] = float(oracle(c, k["fit"].m, k["fit"].r))
        return SimpleNamespace(label_img=passing, clusters=[1])

    seeds = []
    monkeypatch.setattr(ale_module, "fit_ale", refit)
    monkeypatch.setattr(montecarlo, "montecarlo_fwe", fwe)
    monkeypatch.setattr(nimare_adapter, "null_space_ijk", lambda *_a, **_k: space)
    monkeypatch.setattr("ale_app.stats.failsafe._dataset", lambda coordinates: coordinates)
    result = failsafe_n(fit, labels, ALESpec(), n_iterations=10, seed=seed, step=step, repeats=repeats)
    result.null_seeds = seeds  # (repeat, Monte Carlo seed) of every test, in order
    return result


def _definition_from_tests(evaluations, cluster_id: int) -> dict[int, int]:
    """Per repeat, written out independently of the module: walk the tested numbers upwards and
    stop at the first failure; the fail-safe N is the last number passed before it (0: none)."""
    values = {}
    for r, rows in evaluations.groupby("repeat"):
        fsn = 0
        rows = rows.sort_values("n_noise")
        for m, survived in zip(rows["n_noise"], rows[f"survives_{cluster_id}"]):
            if not survived:
                break
            fsn = int(m)
        values[int(r)] = fsn
    return values


def _non_monotone(c, m, r):
    """Cluster 1 passes up to 9, fails 10 to 13 (never tested), passes 14 to 30 + r, fails above;
    cluster 2 passes everywhere but at 28 (a number only cluster 1's search tests)."""
    if c == 1:
        return m <= 9 or 14 <= m <= 30 + r
    return m != 28


def test_the_reported_fail_safe_n_is_the_definition_on_the_tests_table(monkeypatch):
    """Each repeat's value is the largest tested m with survival at every tested number up to m,
    whichever cluster's search tested it; the table's median, range and bounds follow from the
    tests table. Cluster 2 fails at 28 (tested for cluster 1) and survives the upper bound: before,
    the table reported it as surviving the upper bound although the tests table shows it failing."""
    result = _fake_search(monkeypatch, _non_monotone, repeats=3)
    ev, per = result.evaluations, result.repeats_table
    assert list(ev["repeat"].unique()) == [1, 2, 3]
    assert not ev.duplicated(["repeat", "n_noise"]).any()
    table = result.table.set_index("cluster_id")
    for c in (1, 2):
        by_repeat = _definition_from_tests(ev, c)
        assert per[per.cluster_id == c].set_index("repeat")["failsafe_n"].to_dict() == by_repeat
        values = np.array(list(by_repeat.values()))
        row = table.loc[c]
        assert row["failsafe_n"] == np.median(values)
        assert (row["failsafe_n_min"], row["failsafe_n_max"]) == (values.min(), values.max())
        assert row["passes_lower"] == (values >= FAKE_LOWER).all() == row["robust"]
        assert row["passes_upper"] == (values >= FAKE_UPPER).all()
        assert row["repeats_passing_lower"] == (values >= FAKE_LOWER).sum() and row["repeats"] == 3
    # Step 1: the search closed every gap, so each value is its first tested failure minus one.
    assert (per["first_failure"] - per["failsafe_n"]).dropna().eq(1).all()
    # By hand: cluster 1's search tests 8, 40, 24, 32, then 28, 30, 31 (repeat 1) or 36, 34, 33
    # (repeats 2 and 3), ending at its last pass 30 + r. Only repeat 1 tests 28, where cluster 2
    # fails; its search then tests 26 and 27. In repeats 2 and 3 it passed every tested number.
    assert per[per.cluster_id == 1]["failsafe_n"].tolist() == [31, 32, 33]
    assert per[per.cluster_id == 2]["failsafe_n"].tolist() == [27, 40, 40]
    assert ev[ev.repeat == 1]["n_noise"].tolist() == [8, 24, 26, 27, 28, 30, 31, 32, 40]
    assert table.loc[2, "failsafe_n"] == 40 and table.loc[2, "repeats_passing_upper"] == 2
    assert not table.loc[2, "passes_upper"] and table.loc[1, "passes_lower"]


def test_each_repeat_draws_its_own_stream_whatever_the_number_of_repeats(monkeypatch):
    """Repeat r's noise is ``SeedSequence(seed, spawn_key=(0x4653, r))``'s and its Monte Carlo
    seed ``SeedSequence(seed, spawn_key=(0x4653, r, 0x4D43))``'s: the repeats differ, and the
    first repeats of a run with more repeats are those of a run with fewer."""
    import pandas as pd

    from ale_app.stats.failsafe import FAILSAFE_STREAM, montecarlo_seed, noise_seed_sequence

    assert noise_seed_sequence(7, 2).spawn_key == (FAILSAFE_STREAM, 2) and noise_seed_sequence(7, 2).entropy == 7
    with pytest.raises(ValueError):
        noise_seed_sequence(7, 0)
    three = _fake_search(monkeypatch, _non_monotone, repeats=3, seed=5)
    two = _fake_search(monkeypatch, _non_monotone, repeats=2, seed=5)
    noise = three.noise
    assert list(noise.columns[:2]) == ["repeat", "noise_id"] and len(noise) == 3 * FAKE_UPPER
    by_repeat = [noise[noise.repeat == r].drop(columns="repeat").reset_index(drop=True) for r in (1, 2, 3)]
    assert not by_repeat[0].equals(by_repeat[1]) and not by_repeat[1].equals(by_repeat[2])
    pd.testing.assert_frame_equal(two.noise, noise[noise.repeat <= 2].reset_index(drop=True))
    pd.testing.assert_frame_equal(two.evaluations, three.evaluations[three.evaluations.repeat <= 2])
    pd.testing.assert_frame_equal(two.repeats_table, three.repeats_table[three.repeats_table.repeat <= 2])
    other = _fake_search(monkeypatch, _non_monotone, repeats=1, seed=6)
    assert not other.noise.drop(columns="repeat").equals(by_repeat[0])
    # Each repeat's tests share their own Monte Carlo seed, another in each repeat and each run seed.
    assert {r: s for r, s in three.null_seeds} == {r: montecarlo_seed(5, r) for r in (1, 2, 3)}
    assert len({montecarlo_seed(5, r) for r in (1, 2, 3)} | {montecarlo_seed(6, 1)}) == 4
    assert montecarlo_seed(5, 1) == int(np.random.SeedSequence(5, spawn_key=(0x4653, 1, 0x4D43)).generate_state(1)[0])


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
                       upper_multiple=0.25, step=3, repeats=1, executor=executor)
            for executor in (Executor("serial", 1), Executor("threads", 2))]
    assert runs[0].evaluations["n_noise"].tolist() == [3]  # one test (of each repeat: the stream test above)
    for name in ("table", "evaluations", "repeats_table", "noise"):
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
    """The definition is one sentence: the README's, the fail-safe table's sidecar's and the
    methods text's, word for word."""
    from types import SimpleNamespace as NS

    import pandas as pd

    from ale_app.outputs.registry import failsafe_info
    from ale_app.present.report import _robustness_methods
    from ale_app.stats.failsafe import DEFINITION, SEARCH

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    readme = " ".join(text.replace("\n> ", "\n").split())  # the README quotes it as a block
    assert DEFINITION in readme and SEARCH in readme
    assert "Acar et al. 2018" in readme and "e0208177" in readme
    fs = NS(n_experiments=25, lower=50, upper=250, step=1, repeats=5, n_iterations=1000, noise_space="brain",
            noise_counts="independent", seed=3, table=pd.DataFrame())
    result = NS(failsafe=fs, spec=NS(inference=NS(voxel_p=0.001, fwe_alpha=0.05)))
    assert failsafe_info(result)["Definition"] == DEFINITION and failsafe_info(result)["Repeats"] == 5
    assert "e0208177" in failsafe_info(result)["Method"]
    methods = _robustness_methods({"failsafe": {**vars(fs), "lower": 50, "upper": 250}})
    assert DEFINITION in methods and "repeated 5 times" in methods and "Acar et al., 2018" in methods
