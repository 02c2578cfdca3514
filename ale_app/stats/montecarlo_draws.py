"""The Monte Carlo null's random foci: NiMARE's draws, ``rng.choice(n_null, size=(n_foci,
n_iterations))`` from the ``"correct_fwe_montecarlo"`` stream of ``random_state``, whole or
in chunks of consecutive iterations (the same numbers, bit for bit).
"""

from __future__ import annotations

import numpy as np


#: NiMARE's name for the random stream of ``correct_fwe_montecarlo``.
RNG_STREAM = "correct_fwe_montecarlo"


def draw_null_indices(estimator, n_foci: int, n_null: int, n_iterations: int) -> np.ndarray:
    """NiMARE's draws, ``rng.choice(n_null, size=(n_foci, n_iterations))``, as int32.

    Drawn one focus (row) at a time from the same generator, which consumes the stream in
    the same order as NiMARE's single call (checked by the tests).
    """
    from ale_app.stats.nimare_adapter import montecarlo_rng

    rng = montecarlo_rng(estimator)
    out = np.empty((n_foci, n_iterations), dtype=np.int32)
    for f in range(n_foci):
        out[f] = rng.choice(n_null, size=n_iterations)
    return out


#: The most bytes of drawn foci (int32, foci x iterations) a run holds at once; beyond it
#: the iterations are drawn in chunks of consecutive columns (:class:`NullDraws`).
DRAW_CHUNK_BYTES = 256 * 1024**2


class NullDraws:
    """NiMARE's draws, ``rng.choice(n_null, size=(n_foci, n_iterations))``, as int32 chunks
    of consecutive iterations (columns) of at most ``max_bytes`` each.

    NiMARE's stream holds focus 0's draws for every iteration, then focus 1's, and so on, so
    a chunk of iterations takes a piece of every focus's run of draws. When the whole array
    fits in ``max_bytes`` it is drawn at once (:func:`draw_null_indices`). Otherwise a first
    pass walks the stream once, keeping each focus's first chunk and the generator's state
    where its second begins; each later chunk restores every focus's state, draws its piece
    and keeps the state that follows. ``choice`` of ``a`` then ``b`` values from one state
    gives the ``a + b`` values of a single call (the tests check it), so every chunk equals
    the same columns of the whole array, bit for bit, for any ``max_bytes``.
    """

    def __init__(self, estimator, n_foci: int, n_null: int, n_iterations: int, max_bytes: int = DRAW_CHUNK_BYTES):
        self.estimator = estimator
        self.n_foci, self.n_null, self.n_iterations = int(n_foci), int(n_null), int(n_iterations)
        self.chunk = max(1, min(self.n_iterations, int(max_bytes) // (4 * max(1, self.n_foci))))

    def __iter__(self):
        """``(first_iteration, idx_chunk)`` in order."""
        from ale_app.stats.nimare_adapter import montecarlo_rng

        n_foci, n_null, n_iterations, chunk = self.n_foci, self.n_null, self.n_iterations, self.chunk
        if chunk >= n_iterations:
            yield 0, draw_null_indices(self.estimator, n_foci, n_null, n_iterations)
            return
        rng = montecarlo_rng(self.estimator)
        bits = rng.bit_generator
        first = np.empty((n_foci, chunk), dtype=np.int32)
        states = []
        for f in range(n_foci):
            first[f] = rng.choice(n_null, size=chunk)
            states.append(bits.state)
            for s in range(chunk, n_iterations, chunk):  # the rest of this focus's run
                rng.choice(n_null, size=min(chunk, n_iterations - s))
        yield 0, first
        del first
        for s in range(chunk, n_iterations, chunk):
            width = min(chunk, n_iterations - s)
            out = np.empty((n_foci, width), dtype=np.int32)
            for f in range(n_foci):
                bits.state = states[f]
                out[f] = rng.choice(n_null, size=width)
                states[f] = bits.state
            yield s, out
