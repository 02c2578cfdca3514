"""Leave-one-out jackknife: how much each experiment drives each descriptive cluster.

An experiment j's contribution to cluster c is the mean over c's voxels of
``1 - ALE_without_j / ALE`` (NiMARE's ``Jackknife`` definition, 0/0 taken as 0).

Two exact ways to get ``ALE_without_j``:

``closed-form`` (default)
    ALE is a probabilistic union, ``ALE = 1 - prod_i (1 - MA_i)``, so without j it is
    ``1 - exp(L - log1p(-MA_j))`` with ``L = sum_i log1p(-MA_i)``; where ``MA_j = 1`` the
    other experiments' terms are summed directly. Only cluster voxels inside j's kernel
    support can change, so the whole table costs one pass over the MA maps' nonzeros in
    the clusters, and memory is bounded by N x (cluster voxels).
``refit``
    NiMARE's procedure: ``ALE().fit`` once per left-out experiment, on the executor the
    workflow hands it (serial, threads, worker processes, or dask on an existing
    dask.distributed scheduler).

Both give the same table (tests check them against NiMARE's ``Jackknife``), and neither
depends on the executor.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from ale_app.stats.ale import fit_stat_values
from ale_app.process.executor import Executor
from ale_app.spec.models import ALESpec

LGR = logging.getLogger(__name__)


def cluster_columns(labels: list[int]) -> list[str]:
    """Column names of the contribution table, one per cluster label."""
    return [f"cluster_{label}" for label in labels]


def _table(ids: list[str], values: np.ndarray, labels: list[int]) -> pd.DataFrame:
    columns = cluster_columns(labels)
    table = pd.DataFrame(values.reshape(len(ids), len(labels)), columns=columns)
    table.insert(0, "id", list(ids))
    table["mean"] = table[columns].mean(axis=1) if columns else np.nan
    return table


def _reductions(loo_values: np.ndarray, stat_values: np.ndarray) -> np.ndarray:
    """``1 - loo / stat`` in float32 with 0/0 -> 0, as NiMARE's Jackknife computes it."""
    loo = np.asarray(loo_values, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        prop = np.nan_to_num(np.true_divide(loo, np.asarray(stat_values, dtype=np.float32)))
    return (1 - prop).astype(np.float32)


# --------------------------------------------------------------------------- closed form


def closed_form_contributions(
    ma, ma_ids: list[str], stat_values: np.ndarray, label_values: np.ndarray, labels: list[int],
    ids: list[str], progress=None,
) -> pd.DataFrame:
    """The jackknife table from the MA maps, without refitting.

    Parameters
    ----------
    ma : scipy.sparse.csr_matrix
        MA maps, experiments x in-mask voxels (float32), rows named by ``ma_ids``.
    ma_ids : list of str
        The experiment of each row of ``ma``.
    stat_values : numpy.ndarray
        In-mask ALE values of the full fit (float32).
    label_values : numpy.ndarray
        In-mask cluster labels (0 outside clusters).
    labels : list of int
        Cluster labels, one column each.
    ids : list of str
        Row order of the returned table.
    progress : callable, optional
        Called with the number of experiments done.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``cluster_<label>`` per cluster, ``mean``.
    """
    label_values = np.asarray(label_values)
    cols = np.flatnonzero(label_values > 0)
    n_rows = ma.shape[0]
    if not labels or n_rows == 0:
        return _table(ids, np.zeros((len(ids), len(labels))), labels)

    sub, loo = leave_one_out_entries(ma, cols)
    reduction = _reductions(loo, stat_values[cols][sub.indices]).astype(np.float64)
    contributions = cluster_means(sub, reduction, label_values[cols], labels)
    if progress is not None:
        progress(n_rows)

    row_of = {rid: i for i, rid in enumerate(ma_ids)}
    return _table(ids, contributions[[row_of[i] for i in ids]], labels)


def leave_one_out_entries(ma, cols: np.ndarray):
    """ALE without each experiment, at each voxel of ``cols`` its MA map reaches.

    Returns ``sub`` (the MA maps restricted to ``cols``, CSR with sorted indices) and, per
    nonzero entry of ``sub`` (row j, voxel v), ALE at v without experiment j (float64):
    ``1 - exp(L - log1p(-MA_j))``, or 1 where another experiment's MA is 1. Voxels outside
    j's support keep the full ALE.
    """
    sub = ma[:, cols].tocsr()
    sub.sort_indices()
    data = sub.data.astype(np.float32, copy=False)
    is_one = data >= 1
    # log1p in float32 as NiMARE's ALE takes it, accumulated in float64 as its bincount does.
    logs = np.where(is_one, 0.0, np.log1p(-np.where(is_one, 0, data))).astype(np.float64)
    n_cols = len(cols)
    log_sum = np.bincount(sub.indices, weights=logs, minlength=n_cols)
    n_ones = np.bincount(sub.indices[is_one], minlength=n_cols)
    other_ones = n_ones[sub.indices] - is_one
    loo = np.where(other_ones > 0, 1.0, -np.expm1(log_sum[sub.indices] - logs))
    return sub, loo


def cluster_means(sub, reduction: np.ndarray, col_label: np.ndarray, labels: list[int]) -> np.ndarray:
    """Per (row, cluster): the mean of ``reduction`` (one value per entry of ``sub``) over the
    cluster's voxels (``col_label``: the label of each column of ``sub``); voxels outside a
    row's support count as 0."""
    n_rows = sub.shape[0]
    label_pos = {label: i for i, label in enumerate(labels)}
    entry_cluster = np.array([label_pos[v] for v in col_label], dtype=np.int64)[sub.indices]
    entry_row = np.repeat(np.arange(n_rows), np.diff(sub.indptr))
    sums = np.bincount(entry_row * len(labels) + entry_cluster, weights=reduction,
                       minlength=n_rows * len(labels)).reshape(n_rows, len(labels))
    sizes = np.array([np.count_nonzero(col_label == label) for label in labels], dtype=np.float64)
    return sums / sizes


# --------------------------------------------------------------------------- refit


def _leave_one_out(studyset, keep_ids: list[str], ale_spec: ALESpec) -> np.ndarray:
    """Fit ALE (NiMARE's ALE.fit) on ``keep_ids`` and return the in-mask ALE values."""
    values, _ = fit_stat_values(studyset.slice(keep_ids), ale_spec)
    return values


def refit_contributions(
    studyset, ids: list[str], ale_spec: ALESpec, stat_values: np.ndarray, label_values: np.ndarray,
    labels: list[int], executor: Executor | None = None, progress=None,
) -> pd.DataFrame:
    """The jackknife table by refitting ALE without each experiment (NiMARE's procedure).

    Parameters are those of :func:`closed_form_contributions`, plus ``studyset`` (all
    analyses), ``ale_spec`` (the kernel options) and ``executor``, where the refits run
    (serial when None).
    """
    label_values = np.asarray(label_values)
    cluster_index = [np.flatnonzero(label_values == label) for label in labels]
    start = time.perf_counter()
    refits = ((studyset, [i for i in ids if i != left], ale_spec) for left in ids)
    rows = []
    fitted = (executor or Executor()).map(_leave_one_out, refits, n_tasks=len(ids))
    for i_done, (left, loo_values) in enumerate(zip(ids, fitted), start=1):
        reduction = _reductions(loo_values, stat_values)
        rows.append([np.mean(reduction[idx], dtype=np.float64) for idx in cluster_index])
        LGR.debug("jackknife: left out %s (%d/%d, %.1f s)", left, i_done, len(ids), time.perf_counter() - start)
        if progress is not None:
            progress(1)
    return _table(ids, np.array(rows, dtype=np.float64), labels)
