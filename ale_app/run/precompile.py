"""``ale-app --precompile``: compile every numba kernel a run uses, once, and store them where
a read-only install or an image can use them (see :mod:`ale_app.process.numba_cache`).

The kernels' numba signatures depend only on the dtypes, dimensions and layouts of their
arguments, never on the data, so one small run of each code path compiles exactly what a
real run loads: an ALE fit (NiMARE's kernel convolution), the Monte Carlo FWE (NiMARE's
analytic null and ale-app's Monte Carlo loop) and an ALE subtraction (its permutation
kernels) and the balanced contrast's kernels (its mean difference on tiny arrays, its
random-foci draws on two whole groups of three, then on subsamples of two), on three and
three of NiMARE's bundled pain analyses with two iterations each.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ale_app.process import numba_cache

LGR = logging.getLogger("ale_app")


def _warm_up() -> None:
    """Run each compiled code path once on small data (serial: the same kernels as threads)."""
    import warnings

    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    from ale_app.spec.models import ALESpec
    from ale_app.stats.ale import fit_ale
    from ale_app.stats.montecarlo import montecarlo_fwe
    from ale_app.stats.subtraction import fit_subtraction

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        studyset = Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"), target="mni152_2mm")
        first = fit_ale(studyset.slice(list(studyset.ids[:3])), ALESpec())
        second = fit_ale(studyset.slice(list(studyset.ids[3:6])), ALESpec())
        montecarlo_fwe(fit=first, n_iterations=2, seed=0)
        fit_subtraction(first, second, n_iterations=2, seed=0)
        _warm_up_balanced()
        # The balanced contrast's random-foci draw kernels (whole groups of three).
        from ale_app.stats.balanced import fit_balanced

        fit_balanced(first, second, n_subsamples=2, difference_iterations=2, n_iterations=2, seed=0)
        _warm_up_balanced_clusters()
        # Subsampled groups (2 of 3): the subsample maps' and the subsampled null's kernels.
        fit_balanced(first, second, target_n=2, n_subsamples=2, difference_iterations=2, n_iterations=2, seed=0)
        _warm_up_balanced_subsampled()


def _warm_up_balanced() -> None:
    """The balanced contrast's mean-difference kernel, on two tiny groups (its signature
    depends only on the dtypes :mod:`ale_app.stats.balanced` passes)."""
    import numpy as np

    from ale_app.stats.balanced import _draw_pairs, _Group, _mean_difference

    group = _Group(ptr=np.array([0, 2, 3, 5], dtype=np.int64), col=np.array([0, 1, 1, 0, 2], dtype=np.int32),
                   one_minus=np.full(5, 0.9, dtype=np.float32))
    _mean_difference(group, group, 3, _draw_pairs(np.random.RandomState(0), 3, 3, 2, 4, False, False))


def _warm_up_balanced_clusters() -> None:
    """The balanced draws' cluster labelling, which a tiny run may never reach (no voxel
    passes): one voxel, with the dtypes :mod:`ale_app.stats.balanced` passes."""
    import numpy as np

    from ale_app.stats.balanced_kernels import _compiled

    _compiled("draws")["_largest_cluster"](np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.float32),
                                           np.zeros(8, dtype=np.int64), 2, 2, 0.0)


def _warm_up_balanced_subsampled() -> None:
    """The subsampled balanced kernels a tiny run may not reach (the mean products' expansion,
    which larger groups take, and the kept clusters of a subsample map), with the dtypes
    :mod:`ale_app.stats.balanced_subsamples` passes."""
    import numpy as np

    from ale_app.stats.balanced_kernels import _compiled

    k = _compiled("subsampled")
    one, two = np.ones(4), np.zeros(4, dtype=np.int64)
    h = (np.zeros(2), np.zeros((2, 2)), np.zeros((2, 2, 2)))
    top = k["_joint_fractions"](np.ones((1, 2), dtype=np.bool_), np.ones(1, dtype=np.int64), 1, *h)
    k["_expansion_means"](two, two, np.zeros(3, dtype=np.int64), np.ones(1, dtype=np.float32),
                          np.ones(4, dtype=np.bool_), two, 0, two, one, *h, top, True, two.copy(), two.copy(),
                          one.copy(), one.copy(), one.copy())
    _compiled("subsamples")["_clusters_above"](np.zeros(1, dtype=np.int64), np.zeros(8, dtype=np.int64), 2, 2, 0.0,
                                               np.zeros(1, dtype=np.bool_))


def _source_files() -> dict[str, str]:
    """Each loaded module's numba cache subfolder name -> that module's source file."""
    from numba.core.caching import _CacheLocator

    found: dict[str, str] = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.endswith(".py") and os.path.isfile(path):
            found.setdefault(_CacheLocator.get_suitable_cache_subpath(path), os.path.abspath(path))
    return found


def precompile(bundle: Path | None = None) -> tuple[Path, float]:
    """Compile the kernels into a fresh numba cache and store it as the bundle (default
    :func:`ale_app.process.numba_cache.bundle_dir`); returns the bundle and the seconds taken.

    Must run in a process that has not imported numba yet (``ale-app --precompile`` is one):
    numba reads ``NUMBA_CACHE_DIR`` when it is imported.
    """
    bundle = Path(bundle) if bundle is not None else numba_cache.bundle_dir()
    # Where the bundle goes must be writable: fail now, not after compiling (OSError).
    bundle.parent.mkdir(parents=True, exist_ok=True)
    tempfile.TemporaryFile(dir=bundle.parent).close()
    if "numba" in sys.modules:
        raise RuntimeError("precompile() must run before numba is imported (run 'ale-app --precompile')")
    scratch = Path(tempfile.mkdtemp(prefix="ale-app-precompile-"))
    previous = os.environ.get("NUMBA_CACHE_DIR")
    os.environ["NUMBA_CACHE_DIR"] = str(scratch)
    try:
        LGR.info("Compiling the numba kernels a run uses (about 15 s), for %s", bundle)
        start = time.perf_counter()
        with numba_cache.announcements_off():
            _warm_up()
        seconds = time.perf_counter() - start
        numba_cache.write_bundle(scratch, bundle, _source_files())
    finally:
        if previous is None:
            os.environ.pop("NUMBA_CACHE_DIR", None)
        else:
            os.environ["NUMBA_CACHE_DIR"] = previous
        shutil.rmtree(scratch, ignore_errors=True)
    return bundle, seconds
