"""numba's on-disk cache of compiled kernels: a precompiled copy (the *bundle*) that a
read-only install or an image carries, and the one log line a run writes when it must
compile.

numba (0.68) keys a cached function by the folder of its source file (the name of the cache
subfolder), the SHA-256 of that file, the numba and Python versions, the function's bytecode
and the CPU it was compiled for (name and features), and it only uses a cache folder it can
write. So a cache made when an image is built cannot be used in place by a read-only image.
``ale-app --precompile`` compiles every kernel a run uses into a fresh cache folder and
stores it as the bundle (by default ``<sys.prefix>/share/ale-app/numba-cache``, or
``$ALE_APP_KERNEL_CACHE``). Before anything compiles, a run copies from the bundle each
cached function that numba's writable cache folder lacks (:func:`seed_from_bundle`); numba
then loads them from there. A bundle made on another CPU, or with other numba, Python or
ale-app versions, is copied but not used: numba compiles as it would without it (and
:func:`announce_compile` says so), and never fails because of it.

May import: the base modules only (numba is imported inside the functions).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import types
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LGR = logging.getLogger("ale_app")

#: The variable that names the bundle folder (default: :func:`bundle_dir`'s).
BUNDLE_ENV = "ALE_APP_KERNEL_CACHE"
#: The bundle's description: numba, Python, CPU, and each cache subfolder's source file.
MANIFEST = "manifest.json"

_SEEDED: set = set()
_QUIET: list = []


@contextmanager
def announcements_off():
    """No :func:`announce_compile` line while the block runs (``--precompile`` says it once)."""
    _QUIET.append(True)
    try:
        yield
    finally:
        _QUIET.pop()


def bundle_dir() -> Path:
    """The bundle folder: ``$ALE_APP_KERNEL_CACHE``, else ``<sys.prefix>/share/ale-app/numba-cache``."""
    return Path(os.environ.get(BUNDLE_ENV) or Path(sys.prefix) / "share" / "ale-app" / "numba-cache")


def host_cpu() -> dict:
    """The CPU numba compiles for here (LLVM's name and target triple)."""
    from numba.core.registry import cpu_target

    triple, name, _features = cpu_target.target_context.codegen().magic_tuple()
    return {"name": name, "triple": triple}


def cache_folder(source_file: str) -> str | None:
    """The folder numba caches the functions of ``source_file`` in (as numba chooses it:
    ``NUMBA_CACHE_DIR``, else a writable ``__pycache__`` next to the file, else the user's
    cache folder), or None when no such folder is writable."""
    from numba.core.caching import CacheImpl

    probe = types.SimpleNamespace(__code__=types.SimpleNamespace(co_firstlineno=0))
    locator_classes: list[Any] = CacheImpl._locator_classes  # numba's private list, of several classes
    for locator_class in locator_classes:
        try:
            locator = locator_class.from_function(probe, source_file)
        except (OSError, RuntimeError, AttributeError):
            continue
        if locator is not None:
            return locator.get_cache_path()
    return None


def _copy(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f"{dst.name}.tmp.{uuid.uuid4().hex[:12]}")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()


def seed_from_bundle(bundle: Path | None = None) -> list[str]:
    """Copy into numba's writable cache folder every cached function of the bundle that it
    lacks (its index file, ``*.nbi``, is absent there); returns the folders written to.

    A function's data files (``*.nbc``) are copied before its index, so a process reading
    the folder meanwhile sees the function complete or not at all; a function already
    cached there is left alone. Once per bundle and process; a missing or unreadable bundle,
    or a folder that cannot be written, is skipped (numba then compiles as usual).
    """
    bundle = Path(bundle) if bundle is not None else bundle_dir()
    key = str(bundle)
    if key in _SEEDED:
        return []
    _SEEDED.add(key)
    try:
        manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    written = []
    for folder, source_file in sorted(manifest.get("folders", {}).items()):
        try:
            if not os.path.isfile(source_file):
                continue
            target = cache_folder(source_file)
            if target is None or Path(target).resolve() == (bundle / folder).resolve():
                continue
            copied = False
            for index in sorted((bundle / folder).glob("*.nbi")):
                if (Path(target) / index.name).exists():
                    continue
                base = index.name[: -len(".nbi")]
                for data in sorted((bundle / folder).glob(f"{base}.*.nbc")):
                    _copy(data, Path(target) / data.name)
                _copy(index, Path(target) / index.name)
                copied = True
            if copied:
                written.append(target)
        except OSError as exc:
            LGR.debug("could not copy the precompiled kernels of %s to numba's cache: %s", folder, exc)
    if written:
        LGR.debug("precompiled kernels copied from %s to %s", bundle, ", ".join(written))
    return written


def jit_maker(cache: bool):
    """numba's ``njit`` as ale-app's kernels use it: ``nogil``, cached on disk when ``cache``
    (numba can write its cache; the precompiled copy is seeded into it first), and without a
    cache when numba finds no usable cache locator after all. Returns ``jit(fn, **options)``."""
    from numba import njit

    if cache:
        seed_from_bundle()

    def jit(fn, **options):
        try:
            return njit(cache=cache, nogil=True, **options)(fn)
        except RuntimeError:  # no usable cache locator after all
            return njit(cache=False, nogil=True, **options)(fn)

    return jit


def is_cached_here(dispatcher) -> bool:
    """Whether numba's cache holds ``dispatcher`` compiled for this CPU, numba, Python and
    source (for at least one signature): numba will then load it, not compile it."""
    cache: Any = getattr(dispatcher, "_cache", None)  # None (no cache) raises below, as a changed numba would
    try:
        index = cache._cache_file._load_index()
        wanted = cache._index_key(None, dispatcher.targetctx.codegen())[1:]
    except Exception:  # noqa: BLE001 - no cache (NullCache), or numba changed: assume a compile
        return False
    return any(key[1:] == wanted for key in index)


def announce_compile(dispatchers, what: str, seconds: int) -> bool:
    """Log one INFO line when ``dispatchers`` (fresh numba dispatchers, nothing compiled yet)
    will be compiled rather than loaded from numba's cache; returns whether they will be."""
    if all(is_cached_here(d) for d in dispatchers):
        return False
    if _QUIET:
        return True
    folder = getattr(getattr(dispatchers[0], "_cache", None), "cache_path", None)
    if folder is None:
        LGR.info("Compiling the %s (about %d s); numba has no writable cache folder here, so every run "
                 "compiles them (set NUMBA_CACHE_DIR to a writable folder to keep them)", what, seconds)
        return True
    why = ""
    try:
        manifest = json.loads((bundle_dir() / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = None
    if manifest is not None:
        cpu = host_cpu()["name"]
        built = manifest.get("cpu", {}).get("name")
        why = (f"; the precompiled ones in {bundle_dir()} are for another CPU ({built}; this one is {cpu})"
               if built != cpu else f"; the precompiled ones in {bundle_dir()} are for other versions")
    LGR.info("Compiling the %s once (about %d s%s); later runs reuse them from %s", what, seconds, why, folder)
    return True


def write_bundle(cache_dir: Path, bundle: Path, source_files: dict[str, str]) -> Path:
    """Store the numba cache folder ``cache_dir`` as the bundle ``bundle`` (replacing it),
    with its manifest; ``source_files`` maps each cache subfolder to a source file it is
    keyed by (subfolders it does not name are left out)."""
    import numba

    bundle = Path(bundle)
    bundle.parent.mkdir(parents=True, exist_ok=True)
    staging = bundle.with_name(f"{bundle.name}.tmp.{uuid.uuid4().hex[:12]}")
    folders = {}
    for sub in sorted(p for p in Path(cache_dir).iterdir() if p.is_dir()):
        files = sorted(sub.glob("*.nb[ic]"))
        if sub.name in source_files and files:
            (staging / sub.name).mkdir(parents=True)
            for f in files:
                shutil.copyfile(f, staging / sub.name / f.name)
            folders[sub.name] = source_files[sub.name]
    manifest = {"numba": numba.__version__, "python": sys.version.split()[0], "cpu": host_cpu(),
                "folders": folders}
    staging.mkdir(parents=True, exist_ok=True)
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for dirpath, _dirnames, filenames in os.walk(staging):  # readable by every user of an image
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)
    if bundle.exists():
        shutil.rmtree(bundle)
    os.replace(staging, bundle)
    return bundle
