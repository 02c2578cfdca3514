"""NiMARE's pieces of the balanced contrast's random-foci draws, as NiMARE computes them: the
experiments' sample sizes and foci counts, the prior mask the foci are drawn in, the draws
themselves (its ``rng.randint`` calls), and a random-foci MA map (NiMARE's
``_random_ale_ma_from_metadata``), the reference the compiled draws
(:mod:`ale_app.stats.balanced_draws`) are checked against and fall back to.
"""

from __future__ import annotations

import numpy as np

from ale_app.stats.balanced_draws import kernel_support


def study_metadata(estimator):
    """Each experiment's sample size and number of foci, from the estimator's coordinates
    (NiMARE's metadata of a random-foci draw)."""
    from ale_app.stats import nimare_adapter as NA

    return NA.study_metadata_from_coordinates(estimator.inputs_["coordinates"])


def prior_mask(masker, mask_coverage):
    """NiMARE's prior (``_masked_prior_columns``): its image (3-D bool), its in-mask
    indicator, and its voxels (ijk). The in-mask indicator is the image at the mask's voxels
    in C order, which is what NiMARE's ``masker.transform`` of it gives, without nilearn's
    round trip (and its ``gc.collect``)."""
    from ale_app.stats import nimare_adapter as NA

    if mask_coverage == "gm":
        NA.seed_nimare_cache(masker)  # the shipped prior (equal to NiMARE's): nothing is resampled
    prior_img = np.asarray(NA.mask_coverage_to_mask(masker, mask_coverage=mask_coverage, gm_threshold=0.1))
    mask_arr = np.asanyarray(masker.mask_img.dataobj).astype(bool)
    prior_masked = (prior_img.astype(np.int8)[mask_arr] != 0)
    sample_space = np.vstack(np.where(prior_img)).T.astype(np.int32, copy=False)
    return prior_img, prior_masked, sample_space


def random_ma(mask_img, sample_sizes, num_foci, sample_space, focus_idx):
    """NiMARE's ``_random_ale_ma_from_metadata`` (its ``compute_ale_ma(..., use_dict=True)``
    step by step, kernels kept) with its random focus indices drawn already (``focus_idx``:
    one array per experiment, as its ``rng.randint`` calls return them)."""
    import scipy.sparse as sp

    from ale_app.stats import nimare_adapter as NA

    shape = np.array(mask_img.shape, dtype=np.int32)
    flat_to_masked = NA.get_mask_flat_to_masked(mask_img)
    n_voxels = int(flat_to_masked.max()) + 1 if flat_to_masked.size else 0
    indptr, cols_parts, vals_parts = [0], [], []
    for nsub, foci in zip(sample_sizes, focus_idx):
        offsets, kernel_values = kernel_support(mask_img, nsub)
        ijks = sample_space[foci, :].astype(np.int32, copy=False)
        cols, vals = NA.convolve_ale_kernel_to_masked_cols(offsets, kernel_values, ijks, shape, flat_to_masked,
                                                           shape[1] * shape[2], shape[2])
        if cols.size:
            order = np.argsort(cols, kind="mergesort")
            cols, vals = cols[order], vals[order]
            starts = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
            cols = cols[starts]
            vals = np.maximum.reduceat(vals, starts).astype(np.float32, copy=False)
            cols_parts.append(cols)
            vals_parts.append(vals)
        indptr.append(indptr[-1] + cols.shape[0])
    indices = np.concatenate(cols_parts).astype(np.int32) if cols_parts else np.zeros(0, np.int32)
    data = np.concatenate(vals_parts).astype(np.float32) if vals_parts else np.zeros(0, np.float32)
    ma = sp.csr_matrix((data, indices, np.array(indptr, dtype=np.int64)), shape=(len(indptr) - 1, n_voxels),
                       dtype=np.float32)
    ma.sort_indices()
    return ma


def draw_foci(rng, n_space, num_foci):
    """Each experiment's random foci, indices into the ``n_space`` prior voxels, as NiMARE's
    ``rng.randint`` calls draw them (one call per experiment, in order)."""
    return [rng.randint(0, n_space, size=int(nf)) for nf in num_foci]
