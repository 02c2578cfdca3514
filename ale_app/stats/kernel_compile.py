"""Compiling the numba kernels on first use: :class:`KernelSet`, one per set of kernels that
is compiled (and announced) together.

A kernel module holds its functions as plain Python and names them in a :class:`KernelSet`.
At the first :meth:`KernelSet.compiled`, each function is compiled with numba (``nogil``;
cached on disk where numba can write its cache, after the precompiled copy an image or a
read-only install carries is copied into it: :func:`ale_app.process.numba_cache.jit_maker`),
each calling the compiled versions of the others by name, and one INFO line says so when
they must be compiled rather than loaded
(:func:`ale_app.process.numba_cache.announce_compile`). numba compiles each dispatcher at
its first call.
"""

from __future__ import annotations

import os
import threading

_COMPILING = threading.Lock()


def numba_cache_usable() -> bool:
    """Whether numba can write its cache (``NUMBA_CACHE_DIR`` or next to this file)."""
    target = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(os.path.dirname(__file__), "__pycache__")
    try:
        os.makedirs(target, exist_ok=True)
    except OSError:
        return False
    return os.access(target, os.W_OK)


class KernelSet:
    """A set of kernels compiled together on first use.

    Parameters
    ----------
    what : str
        What the announcement calls the set ("Monte Carlo kernels").
    seconds : int
        Roughly how long compiling the set takes (two cores, numba 0.68), for the log line.
    namespace : dict
        The globals the functions run with (their module's ``globals()``): the compiled
        functions replace the plain ones by name in a copy of it.
    kernels : dict
        Name -> function: the dispatchers :meth:`compiled` returns, under these names.
    helpers : tuple
        Functions the kernels call, compiled and bound by their ``__name__`` (not returned).
    options : dict
        Function name -> extra ``njit`` options (``fastmath``).
    """

    def __init__(self, what: str, seconds: int, namespace: dict, kernels: dict, helpers: tuple = (),
                 options: dict | None = None):
        self.what = what
        self.seconds = seconds
        self._namespace = namespace
        self._kernels = dict(kernels)
        self._helpers = tuple(helpers)
        self._options = dict(options or {})
        self._compiled: dict = {}

    def compiled(self) -> dict:
        """Name -> numba dispatcher of each kernel, built on the first call (thread-safe)."""
        if not self._compiled:
            with _COMPILING:
                if not self._compiled:
                    self._compiled.update(self._compile())
        return self._compiled

    def _compile(self) -> dict:
        from ale_app.process import numba_cache

        jit = numba_cache.jit_maker(numba_cache_usable())
        g = dict(self._namespace)

        def jit_here(fn):
            return jit(type(fn)(fn.__code__, g, fn.__name__), **self._options.get(fn.__name__, {}))

        for fn in self._helpers:
            g[fn.__name__] = jit_here(fn)
        compiled = {name: jit_here(fn) for name, fn in self._kernels.items()}
        numba_cache.announce_compile(list(compiled.values()), self.what, self.seconds)
        return compiled
