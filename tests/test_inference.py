"""Oracle tests: ale-app's Monte Carlo FWE equals NiMARE's ALE + FWECorrector(montecarlo).

NiMARE runs inside the tests, on the same input, seed and iterations; the null values and
every map must agree within 1e-6, and the results must not depend on ``n_jobs``.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from helpers.oracles import assert_montecarlo_equals_nimare, nimare_montecarlo
from helpers.studysets import pain_studyset

from ale_app.process.executor import Executor
from ale_app.stats import montecarlo as I
from ale_app.stats import montecarlo_draws
from ale_app.stats import montecarlo_plan

TOL = 1e-6


def _generated_dataset(n_experiments=30, seed=12345):
    """A seeded random dataset: foci on in-mask voxels, 3 to 15 foci and 8 to 40 subjects."""
    from nimare.dataset import Dataset
    from nimare.utils import get_template

    rng = np.random.default_rng(seed)
    mask = get_template("mni152_2mm", mask="brain")
    ijk = np.argwhere(np.asanyarray(mask.dataobj) > 0)
    data = {}
    for e in range(n_experiments):
        n_foci = int(rng.integers(3, 16))
        xyz = ijk[rng.integers(0, len(ijk), n_foci)] @ mask.affine[:3, :3].T + mask.affine[:3, 3]
        data[f"study{e:02d}"] = {"contrasts": {"1": {
            "coords": {"space": "MNI", "x": xyz[:, 0].tolist(), "y": xyz[:, 1].tolist(),
                       "z": xyz[:, 2].tolist()},
            "metadata": {"sample_sizes": [int(rng.integers(8, 41))]},
        }}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Dataset(data, target="mni152_2mm")


def _assert_consistent(ours: I.InferenceResult):
    """The cluster table, label image and logp map tell the same story."""
    labels = np.asanyarray(ours.label_img.dataobj)
    assert sorted(np.unique(labels[labels > 0]).tolist()) == ours.clusters["cluster_id"].tolist()
    for _, row in ours.clusters.iterrows():
        assert (labels == row["cluster_id"]).sum() == row["size_voxels"]
        assert row["p_fwe_size"] < ours.alpha
        p = row["p_fwe_size"]
        assert row["p_fwe_size_se"] == pytest.approx(np.sqrt(p * (1 - p) / ours.n_iterations))
    logp = np.asanyarray(ours.logp_cluster_size_fwe_img.dataobj)
    if len(ours.clusters):
        assert (logp[labels > 0] > -np.log10(ours.alpha)).all()
    assert list(ours.null.columns) == ["iteration", "max_ale", "max_cluster_size_voxels", "max_cluster_mass"]
    assert len(ours.null) == ours.n_iterations


def test_draws_match_nimare_single_call():
    """Drawing NiMARE's (n_foci, n_iterations) index matrix row by row consumes the same stream."""
    from nimare.meta.cbma.ale import ALE

    estimator = ALE(random_state=7)
    whole = estimator._get_rng(montecarlo_draws.RNG_STREAM).choice(228483, size=(57, 211))
    assert np.array_equal(montecarlo_draws.draw_null_indices(estimator, 57, 228483, 211), whole)


@pytest.mark.slow
def test_pain_21_equals_nimare():
    """All 21 pain analyses, 200 iterations: nulls and maps equal NiMARE's; n_jobs 1 == 2."""
    studyset = pain_studyset()
    ours = I.montecarlo_fwe(studyset, n_iterations=200, seed=11)
    assert_montecarlo_equals_nimare(ours, nimare_montecarlo(studyset, 200, 11))
    _assert_consistent(ours)
    assert len(ours.clusters) > 0
    parallel = I.montecarlo_fwe(studyset, n_iterations=200, seed=11, executor=Executor.from_options(2))
    assert ours.null.equals(parallel.null)
    assert np.array_equal(ours.logp_cluster_size_fwe_values, parallel.logp_cluster_size_fwe_values)


@pytest.mark.slow
def test_generated_30_equals_nimare():
    """A seeded 30-experiment dataset with varied sample sizes: equal to NiMARE; jobs agree."""
    dataset = _generated_dataset()
    ours = I.montecarlo_fwe(dataset, n_iterations=150, seed=5, executor=Executor("threads", 2))
    assert_montecarlo_equals_nimare(ours, nimare_montecarlo(dataset, 150, 5))
    _assert_consistent(ours)
    serial = I.montecarlo_fwe(dataset, n_iterations=150, seed=5)
    assert ours.null.equals(serial.null)


@pytest.mark.slow
def test_pain_fixed_kernel_and_other_threshold_equal_nimare():
    """A fixed FWHM kernel and a p < 0.01 cluster-forming threshold, 300 iterations."""
    studyset = pain_studyset()
    ours = I.montecarlo_fwe(studyset, kernel_fwhm=10.0, voxel_p=0.01, n_iterations=300, seed=2,
                            executor=Executor.from_options(2))
    assert_montecarlo_equals_nimare(ours, nimare_montecarlo(studyset, 300, 2, voxel_p=0.01, kernel_fwhm=10.0))
    _assert_consistent(ours)


@pytest.mark.slow
def test_generated_30_sample_size_override_equals_nimare():
    dataset = _generated_dataset(seed=99)
    ours = I.montecarlo_fwe(dataset, sample_size=20, n_iterations=300, seed=0, executor=Executor.from_options(2))
    assert_montecarlo_equals_nimare(ours, nimare_montecarlo(dataset, 300, 0, sample_size=20))
    _assert_consistent(ours)


@pytest.mark.slow
def test_numba_cache_dir_unwritable(tmp_path):
    """An unusable NUMBA_CACHE_DIR does not stop the compiled kernels (fresh process)."""
    import subprocess
    import sys

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code = (
        "import numpy as np\n"
        "from ale_app.stats import kernel_compile, mc_kernels\n"
        "assert not kernel_compile.numba_cache_usable()\n"
        "out = mc_kernels.KERNELS.compiled()['log1p_neg'](np.array([0.5], dtype=np.float32))\n"
        "assert abs(out[0] - np.log(0.5)) < 1e-12\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(blocker / "cache")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr


def _plan_and_draws(studyset, n_iterations, seed, band, **kernel):
    estimator, _ = I.fit_ale_estimator(studyset, seed=seed, **kernel)
    plan = I.build_plan(estimator, I.cluster_forming_threshold(estimator, 0.001), band=band)
    return plan, montecarlo_draws.draw_null_indices(estimator, plan.n_foci, plan.null_ijk.shape[0], n_iterations)


def test_truncation_never_changes_the_null():
    """The truncated kernels only bound; the exact pass decides. Whatever the cut-off (from
    nearly the full kernels to nearly only their peaks), the null table is the same, and it
    equals a plain numpy computation of the full ALE maps of the first iterations."""
    from scipy import ndimage

    studyset = pain_studyset()
    tables = []
    for band in (1e-4, 0.1, 0.9):
        plan, idx = _plan_and_draws(studyset, 40, 3, band)
        tables.append(I.run_null(plan, idx))
        assert plan.delta < 0
    for table in tables[1:]:
        assert table.equals(tables[0])
    # Reference: every voxel of every experiment's MA map from the full kernels, in numpy.
    shape = tuple(plan.shape)
    mask = plan.mask.reshape(shape)
    conn = ndimage.generate_binary_structure(3, 1)
    for t in range(3):
        log_sum = np.zeros(shape)
        for g in range(len(plan.offsets) - 1):
            k = plan.group_kernel[g]
            box = plan.klog[plan.kstarts[k]:plan.kstarts[k] + np.prod(plan.kshapes[k])].reshape(plan.kshapes[k])
            ma_log = np.zeros(shape)
            for f in range(plan.offsets[g], plan.offsets[g + 1]):
                lo = plan.null_ijk[idx[f, t]] + plan.kmins[k]
                a = np.maximum(lo, 0)
                b = np.minimum(lo + plan.kshapes[k], shape)
                sub = box[a[0] - lo[0]:b[0] - lo[0], a[1] - lo[1]:b[1] - lo[1], a[2] - lo[2]:b[2] - lo[2]]
                view = ma_log[a[0]:b[0], a[1]:b[1], a[2]:b[2]]
                np.minimum(view, sub, out=view)
            log_sum += ma_log
        ale = (1.0 - np.exp(log_sum)).astype(np.float32)
        ale[~mask] = 0
        assert tables[0]["max_ale"][t] == ale.max()
        supra = np.where(ale > plan.threshold, ale, 0)
        labeled, n = ndimage.label(supra, conn)
        sizes = np.bincount(labeled.ravel())[1:] if n else np.zeros(1)
        assert tables[0]["max_cluster_size_voxels"][t] == sizes.max()


@pytest.mark.slow
def test_dask_scheduler_gives_the_same_null():
    """Iterations spread over a dask.distributed cluster: the same null table as one job."""
    import pandas as pd

    from conftest import require

    distributed = require("distributed", "the dask backend; pip install 'ale-app[dask]'")
    plan, idx = _plan_and_draws(pain_studyset(), 60, 2, montecarlo_plan.TRUNCATION_BAND)
    serial = I.run_null(plan, idx)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        on_dask = I.run_null(plan, idx, Executor("dask", 2, lc.scheduler_address), block_size=15)
    pd.testing.assert_frame_equal(serial, on_dask, check_exact=True)
