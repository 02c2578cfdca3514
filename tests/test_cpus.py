"""The default --n-jobs: affinity set capped by cgroup v1/v2 CPU quotas, read from fake trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from ale_app import cli

from ale_app.process import cpus


def _tree(tmp_path: Path, proc_cgroup: str, files: dict[str, str]) -> tuple[Path, Path]:
    root = tmp_path / "sys-fs-cgroup"
    root.mkdir()
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(proc_cgroup)
    return root, proc


@pytest.fixture
def affinity(monkeypatch):
    """Pretend the affinity set has ``n`` CPUs."""
    def set_affinity(n):
        monkeypatch.setattr(cpus.os, "sched_getaffinity", lambda pid: set(range(n)))
    return set_affinity


def test_v2_quota_caps_affinity(tmp_path, affinity):
    affinity(64)
    root, proc = _tree(tmp_path, "0::/slurm/job_7\n", {"slurm/job_7/cpu.max": "400000 100000\n"})
    assert cpus.cgroup_cpu_limit(root, proc) == 4.0
    assert cpus.available_cpus(root, proc) == 4


def test_v2_fractional_quota_rounds_up(tmp_path, affinity):
    affinity(8)
    root, proc = _tree(tmp_path, "0::/docker/abc\n", {"docker/abc/cpu.max": "150000 100000\n"})
    assert cpus.available_cpus(root, proc) == 2


def test_v2_tightest_ancestor_wins(tmp_path, affinity):
    affinity(16)
    root, proc = _tree(tmp_path, "0::/a/b\n", {
        "a/cpu.max": "300000 100000\n",
        "a/b/cpu.max": "max 100000\n",
        "cpu.max": "max 100000\n",
    })
    assert cpus.cgroup_cpu_limit(root, proc) == 3.0
    assert cpus.available_cpus(root, proc) == 3


def test_v2_namespaced_container_reads_its_root(tmp_path, affinity):
    """Inside a cgroup namespace the path is '/', and the mount root is the container's cgroup."""
    affinity(32)
    root, proc = _tree(tmp_path, "0::/\n", {"cpu.max": "200000 100000\n"})
    assert cpus.available_cpus(root, proc) == 2


def test_v2_unlimited(tmp_path, affinity):
    affinity(6)
    root, proc = _tree(tmp_path, "0::/user.slice\n", {"user.slice/cpu.max": "max 100000\n"})
    assert cpus.cgroup_cpu_limit(root, proc) is None
    assert cpus.available_cpus(root, proc) == 6


def test_affinity_smaller_than_quota(tmp_path, affinity):
    affinity(2)
    root, proc = _tree(tmp_path, "0::/x\n", {"x/cpu.max": "800000 100000\n"})
    assert cpus.available_cpus(root, proc) == 2


def test_v1_cfs_quota(tmp_path, affinity):
    affinity(64)
    root, proc = _tree(tmp_path, "4:memory:/job\n3:cpu,cpuacct:/job\n2:cpuset:/job\n", {
        "cpu,cpuacct/job/cpu.cfs_quota_us": "250000\n",
        "cpu,cpuacct/job/cpu.cfs_period_us": "100000\n",
    })
    assert cpus.cgroup_cpu_limit(root, proc) == 2.5
    assert cpus.available_cpus(root, proc) == 3


def test_v1_separate_cpu_mount_and_no_quota(tmp_path, affinity):
    affinity(12)
    root, proc = _tree(tmp_path, "2:cpuacct:/\n1:cpu:/\n", {
        "cpu/cpu.cfs_quota_us": "-1\n",
        "cpu/cpu.cfs_period_us": "100000\n",
    })
    assert cpus.cgroup_cpu_limit(root, proc) is None
    assert cpus.available_cpus(root, proc) == 12


def test_unreadable_or_garbled_files_mean_no_limit(tmp_path, affinity):
    affinity(5)
    root, proc = _tree(tmp_path, "garbage\n0::/g\n", {"g/cpu.max": "lots of cpus\n"})
    assert cpus.cgroup_cpu_limit(root, proc) is None
    assert cpus.available_cpus(root, proc) == 5
    assert cpus.cgroup_cpu_limit(tmp_path / "absent", tmp_path / "absent-proc") is None


def test_default_n_jobs_uses_the_cgroup_limit(tmp_path, affinity, monkeypatch):
    affinity(64)
    root, proc = _tree(tmp_path, "0::/slurm\n", {"slurm/cpu.max": "400000 100000\n"})
    monkeypatch.setattr(cpus, "CGROUP_ROOT", root)
    monkeypatch.setattr(cpus, "PROC_SELF_CGROUP", proc)
    assert cli.default_n_jobs() == 4


def test_provenance_records_the_cgroup_limited_count(tmp_path, affinity, monkeypatch):
    """Under a cgroup CPU quota (docker run --cpus 1.5 on an 8-CPU affinity set) provenance
    records the CPUs --n-jobs would use, not the affinity set or the machine."""
    from datetime import datetime, timezone

    from ale_app.outputs import provenance as P

    affinity(8)
    root, proc = _tree(tmp_path, "0::/docker/ctr\n", {"docker/ctr/cpu.max": "150000 100000\n"})
    monkeypatch.setattr(cpus, "CGROUP_ROOT", root)
    monkeypatch.setattr(cpus, "PROC_SELF_CGROUP", proc)
    record = P.provenance_record(["ale-app"], datetime.now(timezone.utc), "0" * 64, [], {}, n_jobs=2,
                                 backend="loky", timings={})
    assert record["Execution"]["CPUsAvailable"] == 2 == cli.default_n_jobs()
