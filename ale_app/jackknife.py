"""Leave-one-out jackknife: how much each experiment drives each descriptive cluster.

For every experiment j, ALE is refitted without j, and its contribution to cluster c is the
mean over c's voxels of ``1 - ALE_without_j / ALE`` (NiMARE's ``Jackknife`` definition,
with 0/0 taken as 0). The refits run in parallel with joblib; each is independent and
deterministic, so the table never depends on the number of jobs.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from ale_app.ale import fit_stat_values
from ale_app.spec import ALESpec

LGR = logging.getLogger(__name__)


def cluster_columns(labels: list[int]) -> list[str]:
    """Column names of the contribution table, one per cluster label."""
    return [f"cluster_{label}" for label in labels]


def _leave_one_out(studyset, keep_ids: list[str], ale_spec: ALESpec) -> np.ndarray:
    """Fit ALE on ``keep_ids`` and return the in-mask ALE values."""
    values, _ = fit_stat_values(studyset.slice(keep_ids), ale_spec)
    return values


def contributions_from_values(
    loo_values: np.ndarray, stat_values: np.ndarray, cluster_index: list[np.ndarray]
) -> np.ndarray:
    """Mean proportional reduction of ALE in each cluster when one experiment is left out."""
    with np.errstate(divide="ignore", invalid="ignore"):
        prop = np.nan_to_num(np.true_divide(loo_values, stat_values))
    reduction = (1 - prop).astype(np.float32)
    return np.array([np.mean(reduction[idx], dtype=np.float64) for idx in cluster_index])


def run_jackknife(
    studyset,
    ids: list[str],
    ale_spec: ALESpec,
    stat_values: np.ndarray,
    label_values: np.ndarray,
    labels: list[int],
    n_jobs: int = 1,
    backend: str = "loky",
) -> pd.DataFrame:
    """Run the leave-one-out jackknife by refitting ALE without each experiment.

    Parameters
    ----------
    studyset : nimare.studyset.Studyset
        All analyses that entered the fit.
    ids : list of str
        Analysis ids, in the order the table's rows should have.
    ale_spec : ALESpec
        The kernel options of the original fit.
    stat_values : numpy.ndarray
        In-mask ALE values of the full fit.
    label_values : numpy.ndarray
        In-mask cluster labels (0 outside clusters), same order as ``stat_values``.
    labels : list of int
        The cluster labels, one table column each.
    n_jobs : int
        Worker processes (or threads) for the refits.
    backend : str
        joblib backend.

    Returns
    -------
    pandas.DataFrame
        ``id``, one ``cluster_<label>`` column per cluster, and ``mean`` over clusters.
    """
    cluster_index = [np.flatnonzero(label_values == label) for label in labels]
    start = time.perf_counter()
    jobs = (delayed(_leave_one_out)(studyset, [i for i in ids if i != left], ale_spec) for left in ids)
    rows = []
    parallel = Parallel(n_jobs=n_jobs, backend=backend, return_as="generator")
    for i_done, (left, loo_values) in enumerate(zip(ids, parallel(jobs)), start=1):
        rows.append(contributions_from_values(loo_values, stat_values, cluster_index))
        LGR.info(
            "jackknife: left out %s (%d/%d, %.1f s)", left, i_done, len(ids), time.perf_counter() - start
        )
    columns = cluster_columns(labels)
    table = pd.DataFrame(np.vstack(rows) if rows else np.empty((0, len(labels))), columns=columns)
    table.insert(0, "id", ids)
    table["mean"] = table[columns].mean(axis=1) if columns else np.nan
    return table
