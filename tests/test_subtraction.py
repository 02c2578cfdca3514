"""Oracle tests: ale-app's ALE subtraction equals NiMARE's ALESubtraction + FWECorrector.

NiMARE runs inside the tests, on the same two groups, seed and iterations; every map, the
cluster-forming threshold and every null must agree within 1e-6 (they agree exactly), the
directional reading must equal NiMARE's fit with inference maps, and the results must not
depend on the executor or the block size. The streaming quantile is checked against
``np.quantile`` on arrays small enough to hold whole.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from helpers.oracles import nimare_subtraction, nimare_subtraction_directional
from helpers.studysets import fit_groups, generated_groups, pain_groups

from ale_app.process.executor import Executor
from ale_app.stats import subtraction as S
from ale_app.stats import subtraction_quantile

TOL = 1e-6


# --------------------------------------------------------------------------- checks


def _assert_ma_maps_equal_nimare(fit1, fit2, estimator):
    """The MA maps ale-app fitted are those ALESubtraction builds for each group."""
    for fit, key in ((fit1, "coordinates1"), (fit2, "coordinates2")):
        theirs = estimator.kernel_transformer.transform(estimator.inputs_[key], masker=estimator.masker,
                                                        return_type="sparse").tocsr()
        ours = fit.ma.tocsr()
        assert ours.shape == theirs.shape
        assert np.array_equal(ours.indptr, theirs.indptr)
        assert np.array_equal(ours.indices, theirs.indices)
        assert np.array_equal(ours.data, theirs.data)
    assert [str(i) for i in estimator.inputs_["id1"]] == fit1.ids
    assert [str(i) for i in estimator.inputs_["id2"]] == fit2.ids


def _assert_equal_to_nimare(ours: S.SubtractionResult, corrected):
    nulls = corrected.estimator.null_distributions_
    for column, key in S.NIMARE_NULL_KEYS.items():
        theirs = np.asarray(nulls[key], dtype=float)
        mine = ours.null[column].to_numpy(dtype=float)
        assert mine.shape == theirs.shape
        diff = np.abs(mine - theirs)
        assert diff.max() <= TOL, (column, diff.max(), np.flatnonzero(diff > TOL)[:10])
    assert abs(ours.cluster_forming_threshold - float(nulls[S.NIMARE_THRESHOLD_KEY])) <= TOL
    assert np.float32(ours.cluster_forming_threshold) == nulls[S.NIMARE_THRESHOLD_KEY]
    for name, key in S.NIMARE_MAP_NAMES.items():
        theirs = np.asarray(corrected.get_map(key, return_type="array"), dtype=float)
        mine = np.asarray(getattr(ours, name + "_values"), dtype=float)
        assert mine.shape == theirs.shape, name
        assert np.abs(mine - theirs).max() <= TOL, (name, np.abs(mine - theirs).max())
    # Every pairwise FWE map NiMARE gives is one the result holds.
    fwe_names = {k for k in corrected.maps if "group1MinusGroup2" in k}
    assert fwe_names == set(S.NIMARE_MAP_NAMES.values())


def _assert_directional_equal(ours: S.SubtractionResult, nimare_result):
    assert ours.directional is not None
    for name in ("p", "z", "logp"):
        theirs = np.asarray(nimare_result.get_map(f"{name}_desc-group1MinusGroup2", return_type="array"), float)
        mine = np.asarray(ours.directional[name], dtype=float)
        assert np.abs(mine - theirs).max() <= TOL, (name, np.abs(mine - theirs).max())


def _convergence_masks(fit1, fit2, fraction=0.5):
    """Directional inference masks: where each group's own ALE is in its top ``fraction``."""
    masks = []
    for fit in (fit1, fit2):
        values = fit.stat_values
        cut = np.quantile(values[values > 0], 1 - fraction)
        masks.append(values >= cut)
    return masks


# --------------------------------------------------------------------------- the quantile


def test_streaming_quantile_equals_numpy():
    """The exact linear quantile from the largest values only equals ``np.quantile`` of the
    whole float32 array, whatever the bounds the values were kept above and the order they
    came in (zeros, ties, q at and near both ends)."""
    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(1, 40_000))
        values = np.abs(rng.standard_normal(n)).astype(np.float32) * np.float32(rng.random())
        if trial % 3 == 0:
            values[rng.random(n) < 0.7] = 0  # mostly zeros, as outside the reached voxels
        if trial % 4 == 1:
            values = np.round(values * 8).astype(np.float32) / np.float32(8)  # many ties
        for q in (1 - 0.001, 1 - 0.01, 0.95, 0.5, 1.0, 0.0, 1 - 1e-7):
            expected = np.quantile(values, q)
            k = subtraction_quantile.quantile_rank(n, q)[0]
            top = subtraction_quantile.TopK(k)
            for chunk in np.array_split(rng.permutation(values), int(rng.integers(1, 20))):
                chunk = chunk[chunk > 0]  # as the permutation pass hands them: above a bound >= 0
                top.add(np.zeros(chunk.size, np.int32), np.zeros(chunk.size, np.int32), chunk)
                if rng.random() < 0.5:
                    top.prune()
            kept = top.arrays()[2]
            got = subtraction_quantile.quantile_from_top(kept, n, q)
            assert got.dtype == expected.dtype == np.float32
            assert got == expected, (trial, n, q, got, expected)
            # Nothing dropped is above the bounds used, and those never pass the quantile.
            assert top.max_bound <= got


def test_permutation_threshold_and_maxima_equal_full_array():
    """On a case small enough to hold every permutation's differences (iterations x
    voxels), the streamed threshold equals ``np.quantile`` of the whole |float32| array and
    the maxima equal NiMARE's partition sums, for a small and a large ``voxel_p`` and tiny
    blocks (the candidates are pruned many times)."""
    from nimare.meta.cbma.pairwise_utils import _compute_partition_ale_summarystat

    from ale_app.stats import nimare_adapter as NA

    fit1, fit2 = fit_groups(*generated_groups(3, 4, first_case=0))
    n_iterations, seed = 24, 5
    diff = fit1.stat_values - fit2.stat_values
    seeds = NA.subtraction_iteration_seeds(seed, n_iterations)
    full = np.empty((n_iterations, diff.size), dtype=np.float32)
    max_abs = np.empty(n_iterations, dtype=np.float32)
    for t, s in enumerate(seeds):
        perm = NA.subtraction_permutation(fit1.ma.shape[0] + fit2.ma.shape[0], fit1.ma.shape[0], s)
        a = _compute_partition_ale_summarystat(fit1.ma, fit2.ma, perm[: fit1.ma.shape[0]], fit1.ma.shape[0])
        b = _compute_partition_ale_summarystat(fit1.ma, fit2.ma, perm[fit1.ma.shape[0]:], fit1.ma.shape[0])
        full[t] = a - b
        max_abs[t] = np.max(np.abs(a - b))
    for voxel_p in (0.001, 0.05):
        plan, _ = S.build_plan(fit1.ma, fit2.ma, diff, n_iterations, voxel_p)
        got_max, _, _, candidates, max_bound = S.run_permutations(plan, seeds, block_size=3)
        assert np.array_equal(got_max, max_abs)
        threshold = subtraction_quantile.quantile_from_top(np.abs(candidates[2]), full.size, 1 - voxel_p)
        assert threshold == np.quantile(np.abs(full), 1 - voxel_p)
        assert max_bound <= threshold
        # Every value above the threshold is among the candidates, with its iteration.
        it, pos, val = candidates
        above = np.abs(val) > threshold
        assert above.sum() == (np.abs(full) > threshold).sum()


# --------------------------------------------------------------------------- oracle


def test_generated_3_vs_4_equals_nimare():
    """3 vs 4 generated experiments (ties, scattered foci), 40 permutations: every map and
    null equals NiMARE's; the directional reading equals NiMARE's fit with inference maps;
    the MA maps are ALESubtraction's."""
    s1, s2 = generated_groups(3, 4, first_case=0)
    fit1, fit2 = fit_groups(s1, s2)
    mask1, mask2 = _convergence_masks(fit1, fit2)
    ours = S.fit_subtraction(fit1, fit2, n_iterations=40, seed=7, inference_mask1=mask1, inference_mask2=mask2)
    estimator, corrected = nimare_subtraction(s1, s2, 40, 7)
    _assert_ma_maps_equal_nimare(fit1, fit2, estimator)
    _assert_equal_to_nimare(ours, corrected)
    _assert_directional_equal(ours, nimare_subtraction_directional(s1, s2, 40, 7, mask1, mask2))
    assert ours.n1 == 3 and ours.n2 == 4 and len(ours.null) == 40


def test_executors_and_blocks_agree():
    """Serial, threads and processes, with different block sizes: the same result, bit for
    bit; progress counts every permutation once."""
    fit1, fit2 = fit_groups(*generated_groups(6, 5, first_case=8))
    mask1, _ = _convergence_masks(fit1, fit2)
    done = []
    serial = S.fit_subtraction(fit1, fit2, n_iterations=45, seed=1, inference_mask1=mask1, progress=done.append)
    assert sum(done) == 45
    for executor, block_size in ((Executor("threads", 2), 4), (Executor("processes", 2), 7), (None, 45),
                                 (Executor("threads", 2), None)):
        other = S.fit_subtraction(fit1, fit2, n_iterations=45, seed=1, inference_mask1=mask1,
                                  executor=executor, block_size=block_size)
        _assert_same(serial, other)


def _assert_same(a: S.SubtractionResult, b: S.SubtractionResult):
    assert a.null.equals(b.null)
    assert a.cluster_forming_threshold == b.cluster_forming_threshold
    for name in S.NIMARE_MAP_NAMES:
        assert np.array_equal(getattr(a, name + "_values"), getattr(b, name + "_values")), name
    assert np.array_equal(a.upper_counts, b.upper_counts) and np.array_equal(a.lower_counts, b.lower_counts)
    assert (a.directional is None) == (b.directional is None)
    if a.directional is not None:
        for name in a.directional:
            assert np.array_equal(a.directional[name], b.directional[name])


def test_rejects_bad_inputs():
    fit1, fit2 = fit_groups(*generated_groups(3, 4, first_case=0))
    with pytest.raises(ValueError):
        S.fit_subtraction(fit1, fit2, n_iterations=0)
    with pytest.raises(ValueError):
        S.fit_subtraction(fit1, fit2, n_iterations=5, voxel_p=1.5)
    with pytest.raises(ValueError):
        S.fit_subtraction(fit1, fit2, n_iterations=5, inference_mask1=np.ones(10, bool))



def test_two_empty_inference_masks_give_an_empty_directional_reading():
    """Neither group converges anywhere on its own: the directional reading is p 1 and z 0 at
    every voxel (NiMARE's fit refuses this case), and every other map is the fit without masks."""
    fit1, fit2 = fit_groups(*generated_groups(3, 4, first_case=0))
    empty = np.zeros(fit1.stat_values.size, bool)
    plain = S.fit_subtraction(fit1, fit2, n_iterations=5, seed=2)
    masked = S.fit_subtraction(fit1, fit2, n_iterations=5, seed=2, inference_mask1=empty, inference_mask2=empty)
    assert np.all(np.asarray(masked.directional["p"]) == 1)
    assert not np.asarray(masked.directional["z"]).any()
    for name in ("diff_values", "p_values", "z_values", "p_cluster_size_fwe_values", "p_voxel_fwe_values"):
        np.testing.assert_array_equal(getattr(masked, name), getattr(plain, name), err_msg=name)


@pytest.mark.slow
def test_pain_10_vs_11_equals_nimare():
    """NiMARE's bundled pain studyset, its first 10 vs next 11 analyses, 200 permutations."""
    s1, s2 = pain_groups()
    fit1, fit2 = fit_groups(s1, s2)
    ours = S.fit_subtraction(fit1, fit2, n_iterations=200, seed=11, executor=Executor("threads", 2))
    estimator, corrected = nimare_subtraction(s1, s2, 200, 11)
    _assert_ma_maps_equal_nimare(fit1, fit2, estimator)
    _assert_equal_to_nimare(ours, corrected)
    assert (ours.null["max_cluster_size_voxels"] > 0).all()


@pytest.mark.slow
def test_pain_directional_equals_nimare():
    """The directional reading on the pain split, each group's inference map its top 30 %
    of ALE values, one mask alone and both, 150 permutations."""
    s1, s2 = pain_groups()
    fit1, fit2 = fit_groups(s1, s2)
    mask1, mask2 = _convergence_masks(fit1, fit2, fraction=0.3)
    for m1, m2 in ((mask1, mask2), (mask1, None), (None, mask2)):
        ours = S.fit_subtraction(fit1, fit2, n_iterations=150, seed=4, inference_mask1=m1, inference_mask2=m2,
                                 executor=Executor("threads", 2))
        _assert_directional_equal(ours, nimare_subtraction_directional(s1, s2, 150, 4, m1, m2))


@pytest.mark.slow
@pytest.mark.parametrize("n1, n2, first_case, kernel, voxel_p, n_iterations", [
    (6, 5, 16, {}, 0.001, 120),
    (12, 9, 24, {"kernel_fwhm": 10.0}, 0.01, 100),
    (9, 12, 40, {"sample_size": 15}, 0.001, 100),
])
def test_generated_equal_nimare(n1, n2, first_case, kernel, voxel_p, n_iterations):
    s1, s2 = generated_groups(n1, n2, first_case=first_case)
    fit1, fit2 = fit_groups(s1, s2, **kernel)
    ours = S.fit_subtraction(fit1, fit2, n_iterations=n_iterations, seed=first_case, voxel_p=voxel_p,
                             executor=Executor("threads", 2))
    estimator, corrected = nimare_subtraction(s1, s2, n_iterations, first_case, voxel_p=voxel_p, **kernel)
    _assert_ma_maps_equal_nimare(fit1, fit2, estimator)
    _assert_equal_to_nimare(ours, corrected)


@pytest.mark.slow
def test_dask_scheduler_gives_the_same_result():
    """Permutation blocks spread over a dask.distributed cluster: the same result as serial."""
    from conftest import require

    distributed = require("distributed", "the dask backend; pip install 'ale-app[dask]'")
    fit1, fit2 = fit_groups(*generated_groups(6, 5, first_case=8))
    serial = S.fit_subtraction(fit1, fit2, n_iterations=40, seed=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        on_dask = S.fit_subtraction(fit1, fit2, n_iterations=40, seed=2, block_size=9,
                                    executor=Executor("dask", 2, lc.scheduler_address))
    _assert_same(serial, on_dask)


def test_adapter_matches_nimare_and_raises_no_deprecation():
    """The subtraction's private NiMARE pieces, reached through the adapter with warnings as
    errors: the seeds are ALESubtraction's own (fit and FWE alike), the permutation its
    shuffle, and the FWE maps come from its cached nulls (no permutation re-run)."""
    from nimare.meta.cbma.ale import ALESubtraction

    from ale_app.stats import nimare_adapter as NA

    fit1, fit2 = fit_groups(*generated_groups(3, 4, first_case=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", FutureWarning)
        warnings.filterwarnings("error", message=".*recomputing permutations.*")
        seeds = NA.subtraction_iteration_seeds(3, 6)
        theirs = ALESubtraction(random_state=3)._iteration_seeds(6, stream="alesubtraction_permutations")
        for ours_seed, their_seed in zip(seeds, theirs, strict=True):
            a = NA.subtraction_permutation(7, 3, ours_seed)
            g1, g2 = ALESubtraction._permute_pairwise_group_indices(7, 3, their_seed)
            assert np.array_equal(a, np.concatenate([g1, g2])) and sorted(a) == list(range(7))
        ours = S.fit_subtraction(fit1, fit2, n_iterations=6, seed=3,
                                 inference_mask1=np.ones(fit1.stat_values.size, bool))
    assert ours.directional is not None and len(ours.null) == 6


def test_plan_of_unsorted_csr_is_the_same():
    """MA maps whose rows list their voxels out of order give the same plan (a voxel's one
    entry per row is added in row order either way)."""
    import scipy.sparse as sp

    fit1, fit2 = fit_groups(*generated_groups(3, 4, first_case=0))
    diff = fit1.stat_values - fit2.stat_values
    rng = np.random.default_rng(0)

    def shuffled(ma):
        ma = ma.tocsr()
        indices, data = ma.indices.copy(), ma.data.copy()
        for r in range(ma.shape[0]):
            lo, hi = ma.indptr[r], ma.indptr[r + 1]
            p = rng.permutation(hi - lo) + lo
            indices[lo:hi], data[lo:hi] = indices[p], data[p]
        out = sp.csr_matrix((data, indices, ma.indptr.copy()), shape=ma.shape)
        out.has_sorted_indices = False
        return out

    plan, reached = S.build_plan(fit1.ma, fit2.ma, diff, 50, 0.001)
    other, other_reached = S.build_plan(shuffled(fit1.ma), shuffled(fit2.ma), diff, 50, 0.001)
    assert np.array_equal(reached, other_reached)
    for name in ("tile_ptr", "off", "w", "obs"):
        assert np.array_equal(getattr(plan, name), getattr(other, name)), name
