"""How many CPUs this process may use: its affinity set, capped by cgroup CPU quotas.

A SLURM job with 4 CPUs on a 64-core node gets an affinity set of 4 (cpuset); a container
started with ``docker run --cpus 2`` keeps the node's affinity set but gets a CFS quota of
2 CPUs (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``). The usable
count is the smaller of the two. Reads only; never fails (an unreadable file means no limit).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")


def affinity_cpus() -> int:
    """The number of CPUs in this process's affinity set (the machine's count where unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return max(1, os.cpu_count() or 1)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _v2_quota(folder: Path) -> float | None:
    text = _read(folder / "cpu.max")  # "max 100000" or "QUOTA PERIOD"
    if not text:
        return None
    parts = text.split()
    try:
        quota, period = (parts[0], parts[1]) if len(parts) > 1 else (parts[0], "100000")
        if quota == "max" or float(period) <= 0:
            return None
        return float(quota) / float(period)
    except ValueError:
        return None


def _v1_quota(folder: Path) -> float | None:
    quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
    try:
        if quota is None or period is None or float(quota) <= 0 or float(period) <= 0:
            return None  # -1 means no quota
        return float(quota) / float(period)
    except ValueError:
        return None


def _folders(mount: Path, cgroup_path: str):
    """``mount/cgroup_path`` and each of its ancestors up to ``mount`` itself.

    Inside a container the recorded path may not exist under the mount (the container's
    own cgroup is mounted as the root); the walk then ends at the mount, which is it.
    """
    parts = [p for p in cgroup_path.split("/") if p and p not in (".", "..")]
    for i in range(len(parts), -1, -1):
        yield mount.joinpath(*parts[:i])


def cgroup_cpu_limit(cgroup_root: Path | None = None, proc_self_cgroup: Path | None = None) -> float | None:
    """The tightest CPU quota, in CPUs, on this process's cgroup and its ancestors; None if none.

    Parameters
    ----------
    cgroup_root : Path, optional
        Where the cgroup file systems are mounted (default ``/sys/fs/cgroup``).
    proc_self_cgroup : Path, optional
        This process's cgroup membership (default ``/proc/self/cgroup``).
    """
    cgroup_root = Path(cgroup_root or CGROUP_ROOT)
    text = _read(Path(proc_self_cgroup or PROC_SELF_CGROUP))
    if not text:
        return None
    limits = []
    for line in text.splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        hierarchy, controllers, path = fields
        if hierarchy == "0" and controllers == "":  # cgroup v2 (unified)
            mounts, read = [cgroup_root], _v2_quota
        elif "cpu" in controllers.split(","):  # cgroup v1 cpu controller
            mounts = [cgroup_root / name for name in dict.fromkeys((controllers, "cpu", "cpu,cpuacct"))]
            read = _v1_quota
        else:
            continue
        for mount in mounts:
            if mount.is_dir():
                limits += [q for q in (read(folder) for folder in _folders(mount, path)) if q]
                break
    return min(limits) if limits else None


def available_cpus(cgroup_root: Path | None = None, proc_self_cgroup: Path | None = None) -> int:
    """CPUs this process may use: its affinity set, capped by the cgroup quota (rounded up)."""
    n = affinity_cpus()
    limit = cgroup_cpu_limit(cgroup_root, proc_self_cgroup)
    if limit is not None:
        n = min(n, max(1, math.ceil(limit)))
    return n


def cap_n_jobs(requested: int | None, backend: str = "loky", cpus: int | None = None) -> tuple[int, str | None]:
    """The jobs a run uses for ``--n-jobs requested``, and a warning when they are capped.

    Without ``--n-jobs``: the CPUs this process may use. On this machine (``loky`` and
    ``threading``) more jobs than those CPUs only compete for them (and each loky worker is a
    process that imports NiMARE), so they are capped there, with the warning returned. With
    ``dask`` the scheduler's workers run the tasks and the number is kept. Every step
    further caps it at its own number of tasks.
    """
    cpus = available_cpus() if cpus is None else cpus
    if requested is None:
        return cpus, None
    if backend == "dask" or requested <= cpus:
        return requested, None
    return cpus, (f"--n-jobs {requested} is more than the {cpus} CPU{'s' if cpus != 1 else ''} this process may "
                  f"use; running {cpus} job{'s' if cpus != 1 else ''} at a time (more would only compete for "
                  "the same CPUs). Results never depend on it.")
