"""Oracle tests: ale-app's balanced contrast equals NiMARE's BalancedALESubtraction.

NiMARE runs inside the tests on the same two groups, with the same seed and (reduced) sizes;
every map and both nulls must agree within 1e-6. With ``exact_order`` every subsample is
multiplied in its drawn order (bit for bit NiMARE's float32 rounding); by default a group
whose subsamples are the whole group is multiplied once, which must stay within 1e-6 too.
The results must not depend on the executor.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers.oracles import nimare_balanced
from helpers.studysets import fit_groups, generated_groups

from ale_app.process.executor import Executor
from ale_app.stats import balanced as B
from ale_app.stats import balanced_differences as BDiff
from ale_app.stats import balanced_draws as D
from ale_app.stats import balanced_probabilistic as BP
from ale_app.stats import balanced_random_foci as BR
from ale_app.stats import balanced_subsamples as BS

TOL = 1e-6


def assert_equal_to_nimare(ours: B.BalancedResult, est, result, tol=TOL):
    for attr, name in B.NIMARE_MAP_NAMES.items():
        theirs = np.asarray(result.get_map(name, return_type="array"), dtype=np.float64)
        mine = np.asarray(getattr(ours, f"{attr}_values"), dtype=np.float64)
        assert mine.shape == theirs.shape, attr
        assert np.max(np.abs(mine - theirs)) <= tol, (attr, np.max(np.abs(mine - theirs)))
    for column, key in B.NIMARE_NULL_KEYS.items():
        theirs = np.asarray(est.null_distributions_[key], dtype=np.float64)
        mine = ours.null[column].to_numpy(dtype=np.float64)
        assert mine.shape == theirs.shape, column
        assert np.max(np.abs(mine - theirs)) <= tol, (column, np.max(np.abs(mine - theirs)))


@pytest.fixture(scope="module")
def groups_6_9():
    s1, s2 = generated_groups(6, 9, first_case=3)
    return s1, s2, fit_groups(s1, s2)


SIZES = dict(n_subsamples=4, difference_iterations=6, n_iterations=5)


def test_6_vs_9_equals_nimare(groups_6_9):
    """Unequal groups (subsamples of 6): every map and null against NiMARE's, both ways of
    multiplying the whole first group."""
    s1, s2, (fit1, fit2) = groups_6_9
    est, result = nimare_balanced(s1, s2, 7, **SIZES)
    exact = B.fit_balanced(fit1, fit2, seed=7, exact_order=True, **SIZES)
    assert_equal_to_nimare(exact, est, result, tol=0.0)  # the same float32 operations
    fast = B.fit_balanced(fit1, fit2, seed=7, **SIZES)
    assert_equal_to_nimare(fast, est, result)
    # The maps are not trivially equal: the difference and the nulls carry values.
    assert np.abs(exact.diff_values).max() > 1e-3
    assert (exact.null["max_diff"] > 0).all() and (exact.null["min_diff"] < 0).all()
    assert exact.n_subsamples_used == (1, 4)  # C(6, 6) = 1 subsample of the smaller group


@pytest.mark.slow
def test_target_n_and_brain_coverage_equal_nimare(groups_6_9):
    """A target_n below both sizes (both groups subsampled), the whole-brain coverage."""
    s1, s2, (fit1, fit2) = groups_6_9
    kw = dict(n_subsamples=3, difference_iterations=4, n_iterations=4, target_n=4, mask_coverage="brain")
    est, result = nimare_balanced(s1, s2, 11, **kw)
    ours = B.fit_balanced(fit1, fit2, seed=11, **kw)
    assert_equal_to_nimare(ours, est, result, tol=0.0)


@pytest.mark.slow
def test_equal_groups_many_differences_within_tolerance():
    """5 vs 5 (every subsample is the whole group, multiplied once here) with enough
    differences for float32 accumulation to drift: still within 1e-6 of NiMARE."""
    s1, s2 = generated_groups(5, 5, first_case=12)
    fit1, fit2 = fit_groups(s1, s2)
    kw = dict(n_subsamples=2, difference_iterations=150, n_iterations=3)
    est, result = nimare_balanced(s1, s2, 5, **kw)
    ours = B.fit_balanced(fit1, fit2, seed=5, **kw)
    assert_equal_to_nimare(ours, est, result)


def test_executors_agree(groups_6_9):
    """Threads and small blocks give the same numbers as serial."""
    _, _, (fit1, fit2) = groups_6_9
    serial = B.fit_balanced(fit1, fit2, seed=2, **SIZES)
    seen = []
    threaded = B.fit_balanced(fit1, fit2, seed=2, executor=Executor("threads", 2), block_size=2,
                              progress=lambda stage, n: seen.append((stage, n)), **SIZES)
    for attr in ("diff", "p", "z", "logp", "conjunction", "prob1", "prob2"):
        assert np.array_equal(getattr(serial, f"{attr}_values"), getattr(threaded, f"{attr}_values")), attr
    assert serial.null.equals(threaded.null)
    done = {stage: sum(n for s, n in seen if s == stage) for stage, _ in seen}
    assert done == {"group1": SIZES["n_iterations"], "group2": SIZES["n_iterations"], "null": SIZES["n_iterations"]}


def test_rejects_bad_inputs(groups_6_9):
    _, _, (fit1, fit2) = groups_6_9
    with pytest.raises(ValueError, match="target_n"):
        B.fit_balanced(fit1, fit2, target_n=7, **SIZES)
    with pytest.raises(ValueError, match="mask_coverage"):
        B.fit_balanced(fit1, fit2, mask_coverage="wm", **SIZES)


def test_spec_balanced_needs_inferential_mode():
    from pydantic import ValidationError

    from ale_app.spec.v2 import AnalysisSpecV2

    base = {"spec_version": 2, "input": {"path": "x.tsv"}, "groups": {"a": {}, "b": {}},
            "contrast": {"groups": ["a", "b"], "method": "balanced"}}
    with pytest.raises(ValidationError, match="mode: inferential"):
        AnalysisSpecV2.model_validate(base)
    spec = AnalysisSpecV2.model_validate({**base, "mode": "inferential"})
    assert spec.contrast.method == "balanced"
    assert spec.contrast.balanced.subsamples == 2500  # NiMARE's defaults
    assert spec.contrast.balanced.difference_iterations == 1000
    assert spec.contrast.balanced.null_iterations == 1000
    assert AnalysisSpecV2.model_validate({k: v for k, v in base.items() if k != "contrast"} | {
        "contrast": {"groups": ["a", "b"]}}).contrast.method == "subtraction"


@pytest.mark.slow
def test_dask_scheduler_gives_the_same_result(groups_6_9):
    """The probabilistic maps' and the null's draws spread over a dask.distributed cluster:
    the same numbers as serial."""
    from conftest import require

    distributed = require("distributed", "the dask backend; pip install 'ale-app[dask]'")
    _, _, (fit1, fit2) = groups_6_9
    serial = B.fit_balanced(fit1, fit2, seed=4, **SIZES)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        on_dask = B.fit_balanced(fit1, fit2, seed=4, block_size=2, executor=Executor("dask", 2, lc.scheduler_address),
                                 **SIZES)
    for attr in ("diff", "p", "z", "logp", "conjunction", "prob1", "prob2"):
        assert np.array_equal(getattr(serial, f"{attr}_values"), getattr(on_dask, f"{attr}_values")), attr
    assert serial.null.equals(on_dask.null)


def _all_equal(a: B.BalancedResult, b: B.BalancedResult):
    for attr in ("diff", "p", "z", "logp", "conjunction", "prob1", "prob2"):
        assert np.array_equal(getattr(a, f"{attr}_values"), getattr(b, f"{attr}_values")), attr
    assert a.null.equals(b.null)
    assert a.cluster_size_thresholds == b.cluster_size_thresholds


def test_compiled_null_cluster_draws_equal_nimare_functions(groups_6_9):
    """The probabilistic map's random-foci draws through the compiled kernels give, draw for
    draw, the largest cluster that NiMARE's ``_ale_approximate_z_from_ma`` and
    ``_threshold_z_clusters`` give on NiMARE-built MA maps (``setup=None``)."""
    _, _, (fit1, _) = groups_6_9
    est = BP._approximate_estimator(fit1)
    sizes, num_foci = BR.study_metadata(est)
    _, _, space = BR.prior_mask(fit1.masker, "gm")
    mask_arr = np.asanyarray(est.masker.mask_img.dataobj).astype(bool)
    rng = np.random.RandomState(1)
    draws = [(sizes, num_foci, BR.draw_foci(rng, space.shape[0], num_foci)) for _ in range(6)]
    setup = D.DrawSetup.build(est.masker.mask_img, sizes)
    compiled = BP._null_cluster_block(est, mask_arr, 0.01, space, draws, setup)
    reference = BP._null_cluster_block(est, mask_arr, 0.01, space, draws, None)
    assert np.array_equal(compiled, reference), (compiled, reference)
    assert (reference > 0).all()  # clusters were found and compared, not only zeros


def test_compiled_draws_equal_nimare_functions_whole_groups():
    """5 vs 5 (every subsample the whole group): the compiled path of the probabilistic maps'
    null and of the balanced null (extreme differences only) gives the same bits as the
    path through NiMARE's own functions, and stays within 1e-6 of NiMARE's estimator."""
    s1, s2 = generated_groups(5, 5, first_case=12)
    fit1, fit2 = fit_groups(s1, s2)
    kw = dict(n_subsamples=2, difference_iterations=7, n_iterations=4, voxel_p=0.01)
    compiled = B.fit_balanced(fit1, fit2, seed=9, **kw)
    reference = B.fit_balanced(fit1, fit2, seed=9, fast=False, **kw)
    _all_equal(compiled, reference)
    assert (compiled.null["max_diff"] > 0).all() and (compiled.null["min_diff"] < 0).all()
    est, result = nimare_balanced(s1, s2, 9, 2, 7, 4, voxel_p=0.01)
    assert_equal_to_nimare(compiled, est, result)


@pytest.mark.parametrize("n1, n2, target_n", [(25, 25, 25), (6, 9, 6), (40, 25, 20), (3, 300, 3)])
def test_replayed_permutations_equal_numpys(n1, n2, target_n):
    """The compiled replay of NiMARE's ``rng.permutation`` pairs gives the same subsamples and
    leaves the generator where the calls leave it (the next draws agree)."""
    ours, theirs = np.random.RandomState(5), np.random.RandomState(5)
    whole1, whole2 = target_n == n1, target_n == n2
    idx1, idx2, *_ = BDiff.draw_pairs(ours, n1, n2, target_n, 300, whole1, whole2)
    for d in range(300):
        a, b = theirs.permutation(n1), theirs.permutation(n2)
        if not whole1:
            assert np.array_equal(idx1[d], a[:target_n])
        if not whole2:
            assert np.array_equal(idx2[d], b[:target_n])
    assert idx1.shape == (300, 0 if whole1 else target_n) and idx2.shape == (300, 0 if whole2 else target_n)
    assert np.array_equal(ours.randint(0, 10**6, size=50), theirs.randint(0, 10**6, size=50))
    assert ours.random() == theirs.random()


def test_compiled_histogram_equals_nimares(groups_6_9):
    """A random-foci draw's approximate-null histogram (bins and weights) from the compiled
    kernels equals, bit for bit, the one NiMARE's ALE computes on NiMARE-built MA maps of the
    same draw (the cluster sizes alone would rarely notice a small change in it)."""
    from nimare.meta.cbma.null_utils import _csr_row_max

    _, _, (fit1, _) = groups_6_9
    est = BP._approximate_estimator(fit1)
    sizes, num_foci = BR.study_metadata(est)
    _, _, space = BR.prior_mask(fit1.masker, "gm")
    setup = D.DrawSetup.build(est.masker.mask_img, sizes)
    fast = BP._NullClusters(est, setup, setup.capacity(sizes, num_foci), len(num_foci))
    rng = np.random.RandomState(3)
    for _ in range(3):
        foci = BR.draw_foci(rng, space.shape[0], num_foci)
        bins, hist = fast.histogram(fast.draws.ma_rows(space, sizes, num_foci, foci))
        ma = BR.random_ma(est.masker.mask_img, sizes, num_foci, space, foci)
        ref = BP._approximate_estimator(fit1)
        ref.null_distributions_ = {}
        ref._study_max_ma_values = _csr_row_max(ma).astype(np.float32)
        ref._compute_summarystat_est(ma)
        ref._determine_histogram_bins(ma)
        ref._compute_null_approximate(ma)
        assert np.array_equal(bins, ref.null_distributions_["histogram_bins"])
        assert np.array_equal(hist, ref.null_distributions_["histweights_corr-none_method-approximate"])
        assert (hist > 0).sum() > 100  # a real histogram, not a few bins


def _sparse_means(fit, meta1, meta2, space, prior, foci1, foci2, pairs):
    """The mean balanced difference at every reached prior voxel through the sparse path
    (NiMARE's MA maps, every pair's float32 products), keyed by masked voxel."""
    mask_img = fit.masker.mask_img
    ma1 = BDiff.restrict(BR.random_ma(mask_img, *meta1, space, foci1), prior)
    ma2 = BDiff.restrict(BR.random_ma(mask_img, *meta2, space, foci2), prior)
    reached, (g1, g2) = BDiff.compact([ma1, ma2], int(prior.sum()))
    return np.flatnonzero(prior)[reached], BDiff.mean_difference(g1, g2, reached.size, pairs)


@pytest.mark.parametrize("target_n, exact_order, expansion", [(6, False, True), (4, False, True), (6, True, True),
                                                              (4, False, False)])
def test_subsampled_null_draws_equal_the_sparse_path(groups_6_9, target_n, exact_order, expansion):
    """A null draw with a subsampled group (6 or 4 of 9; 4 of 6 too; with ``exact_order``
    every subsample in drawn order; the mean products from the shares of subsamples, or,
    without ``expansion``, one pass per distinct subsample) through
    :class:`BS._SubsampledNull`: every reached voxel's
    exact float32 mean (the sparse path's, NiMARE's operations) lies within the rounding
    bound of the float64 mean the kernels form, the extremes are the sparse path's bits, and
    only a few voxels needed the exact computation."""
    _, _, (fit1, fit2) = groups_6_9
    meta1, meta2 = BR.study_metadata(fit1.estimator), BR.study_metadata(fit2.estimator)
    _, prior, space = BR.prior_mask(fit1.masker, "gm")
    setup = D.DrawSetup.build(fit1.masker.mask_img, np.concatenate([meta1[0], meta2[0]]))
    sub = BS._SubsampledNull(setup, meta1, meta2, prior)
    if not expansion:
        sub.EXPANSION_ROWS = 0
    rng = np.random.RandomState(target_n)
    whole1, whole2 = not exact_order and target_n == 6, False
    for _ in range(3):
        foci1 = BR.draw_foci(rng, space.shape[0], meta1[1])
        foci2 = BR.draw_foci(rng, space.shape[0], meta2[1])
        pairs = BDiff.draw_pairs(rng, 6, 9, target_n, 200, whole1, whole2)
        lo, hi = sub.extremes(space, meta1, meta2, foci1, foci2, pairs)
        voxels, exact = _sparse_means(fit1, meta1, meta2, space, prior, foci1, foci2, pairs)
        n_t = sub.n_reached
        assert n_t == voxels.size
        order = np.argsort(sub.touched[:n_t])
        assert np.array_equal(sub.touched[:n_t][order], voxels)
        mean, bound = sub.mean[:n_t][order], sub.bound[:n_t][order]
        assert np.all(np.abs(exact.astype(np.float64) - mean) <= bound)
        assert bound.max() < 1e-4  # tight enough to leave few candidates
        theirs = np.append(exact, np.float32(0.0)) if n_t < prior.sum() else exact
        assert (lo, hi) == (theirs.min(), theirs.max())
        assert lo < 0 < hi
        n_cand = int(np.sum((mean + bound >= (mean - bound).max()) | (mean - bound <= (mean + bound).min())))
        assert n_cand < n_t / 20, (n_cand, n_t)


def test_repeated_subsamples_equal_nimare():
    """6 vs 7 (subsamples of 6 of 7: only 7 distinct, each drawn many times): every map and
    null against NiMARE's, bit for bit with every subsample in drawn order, within 1e-6
    with the first group multiplied once."""
    s1, s2 = generated_groups(6, 7, first_case=20)
    fit1, fit2 = fit_groups(s1, s2)
    kw = dict(n_subsamples=4, difference_iterations=40, n_iterations=5)
    est, result = nimare_balanced(s1, s2, 13, **kw)
    exact = B.fit_balanced(fit1, fit2, seed=13, exact_order=True, **kw)
    assert_equal_to_nimare(exact, est, result, tol=0.0)
    assert_equal_to_nimare(B.fit_balanced(fit1, fit2, seed=13, **kw), est, result)
    assert exact.n_subsamples_used == (1, math.comb(7, 6))  # every subsample: fewer than asked exist
    assert (exact.null["max_diff"] > 0).all() and (exact.null["min_diff"] < 0).all()


def test_compiled_subsample_maps_equal_nimare_functions(groups_6_9):
    """The probabilistic map's subsamples (6 of 9, in their drawn order) through the compiled
    kernels count, voxel for voxel, what NiMARE's ``_ale_approximate_z_from_ma`` and
    ``_threshold_z_clusters`` count (``fast=False``), at cluster-size thresholds that keep
    every cluster, some and none."""
    from nimare.meta.cbma.utils import generate_subset_schedule

    _, _, (_, fit2) = groups_6_9
    est = BP._approximate_estimator(fit2)
    mask_arr = np.asanyarray(est.masker.mask_img.dataobj).astype(bool)
    ma = fit2.ma.tocsr()
    samples = generate_subset_schedule(9, 6, n_samples=6, random_state=3, exhaustive_limit=10000)
    kept = []
    for threshold in (0.0, 40.0, 1e9):
        compiled = BP._subsample_block(est, mask_arr, 0.01, ma, samples, threshold, True)
        reference = BP._subsample_block(est, mask_arr, 0.01, ma, samples, threshold, False)
        assert np.array_equal(compiled, reference), threshold
        kept.append(int((reference > 0).sum()))
    assert kept[0] > kept[1] > kept[2] == 0, kept  # the thresholds drop some clusters, then all
