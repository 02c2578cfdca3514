"""The NiMARE adapter: the one module touching NiMARE internals fails loudly when NiMARE
announces a change (any DeprecationWarning or FutureWarning is an error here)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from ale_app.stats import nimare_adapter as NA


@pytest.fixture(scope="module")
def pain_studyset():
    from nimare.studyset import Studyset
    from nimare.utils import get_resource_path

    data = json.loads((Path(get_resource_path()) / "nidm_pain_studyset.json").read_text())
    return Studyset(data)


@pytest.mark.parametrize("kernel", [{}, {"kernel_fwhm": 10.0}, {"sample_size": 20}])
def test_adapter_raises_no_deprecation_and_matches_nimare_fit(pain_studyset, kernel):
    from nimare.meta.cbma.ale import ALE

    from ale_app.stats.ale import ale_from_ma

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", FutureWarning)
        estimator = NA.make_ale_estimator(**kernel)
        coords, ids = NA.prepare_ale_inputs(estimator, pain_studyset)
        ma = NA.sparse_ma_maps(estimator, coords)
    assert ma.shape[0] == len(ids) == len(set(coords["id"])) == 21
    kwargs = {f"kernel__{'fwhm' if k == 'kernel_fwhm' else k}": v for k, v in kernel.items()}
    reference = ALE(**kwargs).fit(pain_studyset).get_map("stat", return_type="array")
    ours = ale_from_ma(ma.tocsr().astype(np.float32))
    assert np.max(np.abs(ours - reference)) < 1e-6


class _Stop(Exception):
    """Ends NiMARE's Monte Carlo FWE once it has drawn its random foci."""


def _nimare_fwe_draws(estimator, result, monkeypatch) -> dict:
    """The stream name and the draws NiMARE's own ``correct_fwe_montecarlo`` makes (its
    ``rng.choice`` call), recorded by a spy on the estimator; the run stops right after."""
    seen = {}
    real_get_rng = estimator._get_rng

    class Spy:
        def __init__(self, rng):
            self.rng = rng

        def choice(self, *args, **kwargs):
            seen["args"], seen["kwargs"] = args, kwargs
            seen["draws"] = self.rng.choice(*args, **kwargs)
            raise _Stop

    def get_rng(stream):
        return Spy(real_get_rng(stream))

    with monkeypatch.context() as patch:
        patch.setattr(estimator, "_get_rng", get_rng)
        with warnings.catch_warnings(), pytest.raises(_Stop):
            warnings.simplefilter("ignore")
            estimator.correct_fwe_montecarlo(result, voxel_thresh=0.001, n_iters=7, n_cores=1)
    return seen


def test_inferential_adapter_raises_no_deprecation(pain_studyset, monkeypatch):
    """The private pieces the Monte Carlo FWE reaches through the adapter, warnings as errors."""
    from ale_app.stats.montecarlo import fit_ale_estimator

    estimator, result = fit_ale_estimator(pain_studyset, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", FutureWarning)
        plan = NA.permutation_plan(estimator)
        rng = NA.montecarlo_rng(estimator)
        null_ijk = NA.null_voxels(estimator)
        mask = NA.mask_bool(estimator)
        threshold = NA.p_to_summarystat(estimator, 0.001)
        logp = NA.p_to_logp_values(np.array([0.5, 0.01, 0.0]), dtype=np.float32)
    assert int(plan.offsets[-1]) == len(estimator.inputs_["coordinates"])
    assert mask[tuple(null_ijk.T)].all()  # random foci are drawn inside the mask
    assert 0 < threshold < 1
    # The generator is the one NiMARE's Monte Carlo FWE draws its foci from: the same
    # draws, for the same call, as NiMARE's own correct_fwe_montecarlo on this estimator.
    nimare = _nimare_fwe_draws(estimator, result, monkeypatch)
    assert nimare["args"] == (null_ijk.shape[0],)
    assert nimare["kwargs"] == {"size": (len(estimator.inputs_["coordinates"]), 7)}
    np.testing.assert_array_equal(rng.choice(*nimare["args"], **nimare["kwargs"]), nimare["draws"])
    # ... a fresh one on each call (as NiMARE builds one per call), so a run repeats.
    np.testing.assert_array_equal(NA.montecarlo_rng(estimator).choice(*nimare["args"], **nimare["kwargs"]),
                                  nimare["draws"])
    assert np.allclose(logp[:2], -np.log10([0.5, 0.01]))
