"""How much memory this process may still use, and out-of-memory errors in words.

Three limits can stop a run, and the tightest one counts:

- the cgroup's memory limit (a container's ``--memory``, a SLURM job's ``--mem``): cgroup
  v2 ``memory.max`` minus ``memory.current``, v1 ``memory.limit_in_bytes`` minus
  ``memory.usage_in_bytes``, on this process's cgroup and its ancestors;
- the machine's ``MemAvailable`` (``/proc/meminfo``);
- the address-space limit ``RLIMIT_AS`` (``ulimit -v``), which counts virtual memory
  (every mapped library and reserved heap).

Reads only; never fails (an unreadable file means no limit from it).
"""

from __future__ import annotations

import errno
import resource
from dataclasses import dataclass
from pathlib import Path

from ale_app.errors import OutOfMemory

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
PROC_MEMINFO = Path("/proc/meminfo")
PROC_SELF_STATUS = Path("/proc/self/status")

GIB = 1024**3

#: What a run can change when its estimate does not fit.
MEMORY_HINT = ("Use fewer inference.n_iterations or fewer experiments, a smaller --n-jobs, a machine (or job) "
               "with more memory, or --parallel-backend dask to run the iterations on a cluster.")


def format_bytes(n: float) -> str:
    """``n`` bytes in words (``1.5 GiB``)."""
    for unit, size in (("TiB", 1024**4), ("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


@dataclass(frozen=True)
class Headroom:
    """Memory this process may still take: ``resident`` (real memory) and ``virtual``
    (address space, for ``RLIMIT_AS``), each with the limit it comes from."""

    resident: float | None
    resident_source: str
    virtual: float | None
    virtual_source: str


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _kib_field(text: str | None, name: str) -> float | None:
    for line in (text or "").splitlines():
        if line.startswith(name + ":"):
            try:
                return float(line.split()[1]) * 1024
            except (IndexError, ValueError):
                return None
    return None


def mem_available(meminfo: Path = PROC_MEMINFO) -> float | None:
    """The machine's ``MemAvailable`` in bytes, or None where unknown."""
    return _kib_field(_read(meminfo), "MemAvailable")


def _number(text: str | None) -> float | None:
    try:
        return float(text.strip()) if text and text.strip() not in ("", "max") else None
    except ValueError:
        return None


def cgroup_memory_headroom(cgroup_root: Path | None = None, proc_self_cgroup: Path | None = None) -> float | None:
    """The tightest ``limit - usage`` over this process's memory cgroup and its ancestors
    (bytes), or None when no limit is set."""
    from ale_app.process.cpus import _folders

    root = Path(cgroup_root or CGROUP_ROOT)
    text = _read(Path(proc_self_cgroup or PROC_SELF_CGROUP))
    room = []
    for line in (text or "").splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        hierarchy, controllers, path = fields
        if hierarchy == "0" and controllers == "":
            mounts, names = [root], ("memory.max", "memory.current")
        elif "memory" in controllers.split(","):
            mounts, names = [root / "memory", root / controllers], ("memory.limit_in_bytes", "memory.usage_in_bytes")
        else:
            continue
        for mount in mounts:
            if not mount.is_dir():
                continue
            for folder in _folders(mount, path):
                limit = _number(_read(folder / names[0]))
                if limit is None or limit >= 2**60:  # v1 writes "no limit" as a huge number
                    continue
                used = _number(_read(folder / names[1])) or 0.0
                room.append(max(0.0, limit - used))
            break
    return min(room) if room else None


def headroom() -> Headroom:
    """What this process may reach: ``resident``, the memory it holds now plus the tightest of
    the cgroup's room and the machine's ``MemAvailable``; ``virtual``, ``RLIMIT_AS``."""
    resident, source = None, "no limit known"
    candidates = [(cgroup_memory_headroom(), "the cgroup's memory limit (container or job)"),
                  (mem_available(), "the machine's available memory (MemAvailable)")]
    for value, name in candidates:
        if value is not None and (resident is None or value < resident):
            resident, source = value, name
    if resident is not None:
        resident += _kib_field(_read(PROC_SELF_STATUS), "VmRSS") or 0.0
    virtual, vsource = None, "no limit"
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        virtual, vsource = float(soft), f"the address-space limit, ulimit -v {soft // 1024}"
    return Headroom(resident, source, virtual, vsource)


def check_fits(footprint, room: Headroom | None = None) -> None:
    """Refuse (:class:`~ale_app.errors.OutOfMemory`, exit 71) a run whose estimated peak
    (a :class:`ale_app.stats.footprint.Footprint`) does not fit in what this process may
    reach (``room``, default :func:`headroom`), before anything is computed."""
    room = room or headroom()
    for kind, needed, have, source in (("memory", footprint.resident, room.resident, room.resident_source),
                                       ("address space", footprint.virtual, room.virtual, room.virtual_source)):
        if have is not None and needed > have:
            raise OutOfMemory(
                f"This run needs an estimated {format_bytes(needed)} of {kind} at its peak "
                f"({footprint.describe()}), but this process may use {format_bytes(have)} ({source}); "
                "nothing was computed.",
                hint=MEMORY_HINT)


# --------------------------------------------------------------------------- errors

_MAP_FAILURES = ("failed to map segment", "cannot allocate memory", "out of memory")


def is_out_of_memory(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is memory running out: a ``MemoryError``, an
    ``ENOMEM``, a shared library that could not be mapped, or numba's compiler (llvmlite)
    failing to load under an address-space limit."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MemoryError):
            return True
        if isinstance(exc, OSError) and exc.errno == errno.ENOMEM:
            return True
        text = str(exc).lower()
        if isinstance(exc, (OSError, ImportError)):
            if any(s in text for s in _MAP_FAILURES):
                return True
            # llvmlite reports any failure to load its library the same way; under an
            # address-space limit that failure is the limit.
            if "libllvmlite" in text and resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY:
                return True
        exc = exc.__cause__ or exc.__context__
    return False


def out_of_memory_error(exc: BaseException) -> OutOfMemory:
    """The message of a run that ran out of memory (exit 71)."""
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    limit = "" if soft == resource.RLIM_INFINITY else f" under the address-space limit (ulimit -v {soft // 1024})"
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return OutOfMemory(f"ale-app ran out of memory{limit}: {' '.join(detail.split())[:300]}", hint=MEMORY_HINT)
