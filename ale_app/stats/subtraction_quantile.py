"""The ALE subtraction's cluster-forming threshold, ``np.quantile`` (linear) of every
permutation's ``|differences|`` (float32), from the largest values only: where numpy reads
the sorted values (:func:`quantile_rank`), the quantile from the values above a bound
(:func:`quantile_from_top`), and the running set of the largest values (:class:`TopK`).
"""

from __future__ import annotations

import math

import numpy as np


def quantile_rank(n: int, q: float) -> tuple[int, float, bool]:
    """Where ``np.quantile(a, q)`` (linear) reads an array ``a`` of ``n`` values.

    Returns ``(k, gamma, top)``: it interpolates, with weight ``gamma``, from the ``k``-th
    largest value to the next larger one (the ``k - 1``-th largest); ``top`` when it takes
    the largest value alone. As numpy computes them: ``(n - 1) * q`` in float64.
    """
    virtual = (n - 1) * q
    previous = math.floor(virtual)
    gamma = virtual - previous
    if virtual >= n - 1:
        return 1, float(gamma), True
    if virtual < 0:
        previous = 0
    return int(n - previous), float(gamma), False


def quantile_from_top(top_values: np.ndarray, n: int, q: float) -> np.float32:
    """``np.quantile(a, q)`` of float32 ``a`` (``n`` values, none negative) from its largest
    values only: ``top_values`` must hold every value of ``a`` above some bound and at least
    ``k`` values at or above it (:func:`quantile_rank`), or all of ``a``'s positive values
    (the rest then being 0)."""
    k, gamma, top = quantile_rank(n, q)
    values = np.asarray(top_values, dtype=np.float32)

    def kth_largest(r):  # r-th largest, 1-based; zeros beyond the kept values
        if r > values.size:
            return np.float32(0.0)
        return values[np.argpartition(values, values.size - r)[values.size - r]]

    if top:
        largest = kth_largest(1)
        lower = upper = largest
    else:
        lower = kth_largest(k)
        upper = kth_largest(k - 1)
    # numpy's own interpolation between the two order statistics, with numpy's weight: the
    # quantile ``gamma`` of the two values is exactly that (virtual index 1 * gamma).
    return np.quantile(np.array([lower, upper], dtype=np.float32), gamma)


class TopK:
    """The largest (at least ``k``) values seen, with their iteration and position.

    ``bound`` never exceeds the ``k``-th largest value seen (so it is a lower bound of the
    final one); every value above it is kept, and once pruned, at least ``k`` kept values
    are at or above it.
    """

    def __init__(self, k: int, bound: float = 0.0):
        self.k = int(k)
        self.bound = float(bound)
        self.max_bound = float(bound)
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.n = 0
        self.limit = max(2 * self.k, 1 << 16)

    def add(self, it: np.ndarray, pos: np.ndarray, val: np.ndarray) -> None:
        keep = np.abs(val) > self.bound
        if not keep.all():
            it, pos, val = it[keep], pos[keep], val[keep]
        if val.size:
            self.parts.append((it, pos, val))
            self.n += val.size
        if self.n > self.limit:
            self.prune()

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.parts:
            return (np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float32))
        if len(self.parts) > 1:
            it, pos, val = (np.concatenate(c) for c in zip(*self.parts))
            self.parts = [(it, pos, val)]
        return self.parts[0]

    def prune(self) -> None:
        it, pos, val = self.arrays()
        mag = np.abs(val)
        if mag.size > self.k:
            kth = float(np.partition(mag, mag.size - self.k)[mag.size - self.k])
            if kth > self.bound:
                self.bound = kth
                self.max_bound = max(self.max_bound, kth)
                keep = mag >= kth
                it, pos, val = it[keep], pos[keep], val[keep]
                self.parts = [(it, pos, val)]
                self.n = val.size
        self.limit = max(2 * self.n, 2 * self.k, 1 << 16)
