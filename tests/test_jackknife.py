"""The closed-form and refit jackknife against NiMARE's Jackknife, run in the test."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest

from ale_app.stats import ale as A
from ale_app.process.executor import Executor
from ale_app.stats.jackknife import closed_form_contributions, refit_contributions
from ale_app.spec.models import ALESpec
from conftest import require


def _studyset(name, n, target="mni152_2mm"):
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        studyset = Studyset(os.path.join(get_resource_path(), name), target=target)
        return studyset.slice(list(studyset.ids[:n]))


def _ours(studyset, ale_spec, cluster_voxels):
    fit = A.fit_ale(studyset, ale_spec)
    threshold = A.display_threshold(fit.stat_values, 95)
    voxel_mm3 = float(np.prod(fit.stat_img.header.get_zooms()))
    clusters = A.find_clusters(fit.stat_img, threshold, cluster_voxels * voxel_mm3)
    labels = np.rint(fit.masker.transform(clusters.label_img)).astype(int).ravel()
    return fit, threshold, clusters, labels


def _nimare_jackknife(studyset, ale_kwargs, threshold, cluster_voxels):
    from nimare.diagnostics import Jackknife
    from nimare.meta.cbma.ale import ALE

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ALE(**ale_kwargs).fit(studyset)
        diag = Jackknife(target_image="stat", voxel_thresh=threshold, cluster_threshold=cluster_voxels,
                         n_cores=1).transform(result)
    table = diag.tables["stat_diag-Jackknife_tab-counts_tail-positive"]
    table = table.rename(columns={c: f"cluster_{c.split()[-1]}" for c in table.columns if c != "id"})
    return result, table


def _assert_tables_close(ours: pd.DataFrame, ref: pd.DataFrame, atol=1e-6):
    cols = [c for c in ref.columns if c.startswith("cluster_")]
    assert [c for c in ours.columns if c.startswith("cluster_")] == cols
    ours = ours.set_index("id").loc[ref["id"]]
    diff = np.max(np.abs(ours[cols].to_numpy(float) - ref[cols].to_numpy(float)))
    assert diff <= atol, diff
    return diff


@pytest.fixture(scope="module")
def nback50():
    studyset = _studyset("nback_vs_flanker_studyset_2026-07", 50)
    ale_spec = ALESpec(sample_size=20)
    return studyset, ale_spec, _ours(studyset, ale_spec, 100)


@pytest.mark.slow
def test_closed_form_equals_nimare_on_50_nback_analyses(nback50):
    studyset, ale_spec, (fit, threshold, clusters, labels) = nback50
    assert len(clusters.labels) >= 2
    result, ref = _nimare_jackknife(studyset, {"kernel__sample_size": 20}, threshold, 100)
    # The map ale-app computes is NiMARE's.
    np.testing.assert_array_equal(fit.stat_values, result.get_map("stat", return_type="array"))
    ours = closed_form_contributions(fit.ma, fit.ids, fit.stat_values, labels, clusters.labels, list(studyset.ids))
    diff = _assert_tables_close(ours, ref)
    print(f"closed form vs NiMARE, 50 n-back analyses, {len(clusters.labels)} clusters: max diff {diff:.3g}")


@pytest.mark.slow
def test_refit_equals_closed_form_and_jobs_do_not_matter():
    studyset = _studyset("nidm_pain_studyset.json", 8)
    ale_spec = ALESpec()
    fit, threshold, clusters, labels = _ours(studyset, ale_spec, 500)
    ids = list(studyset.ids)
    closed = closed_form_contributions(fit.ma, fit.ids, fit.stat_values, labels, clusters.labels, ids)
    refit1 = refit_contributions(studyset, ids, ale_spec, fit.stat_values, labels, clusters.labels, executor=Executor())
    refit2 = refit_contributions(studyset, ids, ale_spec, fit.stat_values, labels, clusters.labels,
                                 executor=Executor("processes", 2))
    threads = refit_contributions(studyset, ids, ale_spec, fit.stat_values, labels, clusters.labels,
                                  executor=Executor("threads", 2))
    pd.testing.assert_frame_equal(refit1, refit2, check_exact=True)
    pd.testing.assert_frame_equal(refit1, threads, check_exact=True)
    _assert_tables_close(closed, refit1)


def test_closed_form_handles_ma_of_one():
    """Where an experiment's MA is exactly 1, ALE is 1 and removing it needs the others' union."""
    import scipy.sparse as sp

    ma = np.array([[1.0, 0.2, 0.0], [0.5, 1.0, 0.3], [0.0, 1.0, 0.6]], dtype=np.float32)
    stat = (1 - np.prod(1 - ma.astype(np.float64), axis=0)).astype(np.float32)
    labels = np.array([1, 1, 2])
    table = closed_form_contributions(sp.csr_matrix(ma), ["a", "b", "c"], stat, labels, [1, 2], ["a", "b", "c"])
    for j, name in enumerate("abc"):
        rest = np.delete(ma, j, axis=0).astype(np.float64)
        loo = (1 - np.prod(1 - rest, axis=0)).astype(np.float32)
        red = 1 - np.nan_to_num(loo / stat)
        expected = [red[:2].mean(), red[2:].mean()]
        np.testing.assert_allclose(table.loc[j, ["cluster_1", "cluster_2"]].to_numpy(float), expected, atol=1e-7)


@pytest.mark.slow
def test_dask_cluster_equals_loky():
    distributed = require("distributed", "the dask backend; pip install 'ale-app[dask]'")
    studyset = _studyset("nidm_pain_studyset.json", 5)
    ale_spec = ALESpec()
    fit, threshold, clusters, labels = _ours(studyset, ale_spec, 60)
    ids = list(studyset.ids)
    loky = refit_contributions(studyset, ids, ale_spec, fit.stat_values, labels, clusters.labels,
                               executor=Executor("processes", 2))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        on_dask = refit_contributions(studyset, ids, ale_spec, fit.stat_values, labels, clusters.labels,
                                      executor=Executor("dask", 2, lc.scheduler_address))
    pd.testing.assert_frame_equal(loky, on_dask, check_exact=True)


def test_dask_backend_errors_are_usage_errors(capsys):
    from ale_app.cli import main

    assert main(["example:pain-qualitative", "unused-out", "--parallel-backend", "dask"]) == 64
    assert "--dask-scheduler" in capsys.readouterr().err
    assert main(["example:pain-qualitative", "unused-out", "--dask-scheduler", "tcp://127.0.0.1:1"]) == 64
    assert "--parallel-backend dask" in capsys.readouterr().err
    assert not os.path.exists("unused-out")
