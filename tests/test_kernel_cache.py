"""The compiled kernels' cache (issue #25, part 3).

- A first run in an empty numba cache compiles the Monte Carlo and subtraction kernels and
  says so in one INFO line per kernel set; a second process loads them (numba's own cache
  hit counters) and says nothing.
- ``ale-app --precompile`` stores them as a bundle; a process whose cache is empty, run as
  another user who cannot write the bundle, loads them from it and compiles nothing, and
  the bundle is unchanged (what the images do).
- A bundle compiled for another CPU is not used: the run compiles, says why, and works.
- The seeding copies whole functions (data before index) and never replaces one that the
  cache already holds.

Each kernel check runs in a fresh process (numba loads or compiles once per process).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import REPO

from ale_app.process import numba_cache

#: Fits ALE on three pain analyses, runs the Monte Carlo FWE and a subtraction with two
#: iterations each, the balanced contrast's kernel once, and prints numba's cache hits and misses of every kernel it compiled.
SCRIPT = r"""
import json, logging, os, sys, warnings
logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(levelname)s: %(message)s")
logging.getLogger("ale_app").setLevel(logging.INFO)
warnings.simplefilter("ignore")
from nimare.nimads import Studyset
from nimare.utils import get_resource_path
from ale_app.spec.models import ALESpec
from ale_app.stats import mc_kernels, subtraction_kernels
from ale_app.stats.ale import fit_ale
from ale_app.stats.montecarlo import montecarlo_fwe
from ale_app.stats.subtraction import fit_subtraction
studyset = Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"), target="mni152_2mm")
first = fit_ale(studyset.slice(list(studyset.ids[:3])), ALESpec(kernel_fwhm=10))
second = fit_ale(studyset.slice(list(studyset.ids[3:6])), ALESpec(kernel_fwhm=10))
montecarlo_fwe(fit=first, n_iterations=2, seed=0)
fit_subtraction(first, second, n_iterations=2, seed=0)
# The balanced contrast's kernel, on two groups of three tiny sparse MA rows.
import numpy as np
from ale_app.stats.balanced_differences import Group, draw_pairs, mean_difference
group = Group(ptr=np.array([0, 2, 3, 5], dtype=np.int64), col=np.array([0, 1, 1, 0, 2], dtype=np.int32),
               one_minus=np.full(5, 0.9, dtype=np.float32))
mean_difference(group, group, 3, draw_pairs(np.random.RandomState(0), 3, 3, 2, 4, False, False))
stats = {}
for module in (mc_kernels, subtraction_kernels):
    for name, d in module.KERNELS.compiled().items():
        stats[name] = [sum(d.stats.cache_hits.values()), sum(d.stats.cache_misses.values())]
print(json.dumps(stats))
"""
KERNELS = {"run", "log1p_neg", "_log_sums", "_compare", "_cluster_null", "_balanced_mean"}
MC_LINE = "Compiling the Monte Carlo kernels once"
SUB_LINE = "Compiling the ALE subtraction's permutation kernels once"


def _env(cache: Path, bundle: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update({"NUMBA_CACHE_DIR": str(cache), numba_cache.BUNDLE_ENV: str(bundle),
                "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])}, **extra)
    return env


def _kernels(env: dict, prefix: list[str] | None = None) -> tuple[dict, str]:
    """(hits and misses per kernel, stderr) of :data:`SCRIPT` in a fresh process."""
    proc = subprocess.run([*(prefix or []), sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=900, cwd="/")
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(stats) == KERNELS
    return stats, proc.stderr


def _digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def bundle():
    """``ale-app --precompile`` into a root-owned 0755 folder (readable by every user)."""
    base = Path(tempfile.mkdtemp(prefix="ale-app-bundle-"))
    os.chmod(base, 0o755)
    bundle = base / "numba-cache"
    proc = subprocess.run([sys.executable, "-m", "ale_app", "--precompile"], capture_output=True, text=True,
                          env=_env(base / "unused-cache", bundle), timeout=900, cwd="/")
    try:
        assert proc.returncode == 0, proc.stderr
        assert f"stored in {bundle}" in proc.stdout
        assert "Compiling the Monte Carlo" not in proc.stderr  # one line for the whole step, not per set
        yield bundle
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_first_run_compiles_with_one_line_and_the_second_loads(tmp_path):
    env = _env(tmp_path / "cache", tmp_path / "no-bundle")
    stats, stderr = _kernels(env)
    assert stderr.count(MC_LINE) == 1 and stderr.count(SUB_LINE) == 1, stderr
    assert f"later runs reuse them from {tmp_path / 'cache'}" in stderr
    assert all(hits == 0 and misses >= 1 for hits, misses in stats.values()), stats

    stats, stderr = _kernels(env)
    assert "Compiling" not in stderr, stderr
    assert all(hits >= 1 and misses == 0 for hits, misses in stats.values()), stats


# Slow tier: its bundle fixture (a whole --precompile) is built there anyway for the other-CPU test.
@pytest.mark.slow
def test_a_read_only_bundle_seeds_an_empty_cache(bundle, as_user_prefix):
    manifest = json.loads((bundle / numba_cache.MANIFEST).read_text())
    assert any(folder.startswith("stats_") for folder in manifest["folders"])
    assert any(folder.startswith("cbma_") for folder in manifest["folders"])  # NiMARE's analytic null
    before = _digest(bundle)
    user_dir = Path(tempfile.mkdtemp(prefix="ale-app-user-"))
    try:
        os.chown(user_dir, 4242, 4242)
        env = _env(user_dir / "numba", bundle, HOME="/nonexistent")
        probe = subprocess.run([*as_user_prefix, sys.executable, "-c",
                                f"open({str(bundle / 'probe')!r}, 'w')"], env=env, capture_output=True, text=True)
        assert "PermissionError" in probe.stderr  # the bundle is read-only for this user
        stats, stderr = _kernels(env, as_user_prefix)
        assert "Compiling" not in stderr, stderr
        assert all(hits >= 1 and misses == 0 for hits, misses in stats.values()), stats
        assert any((user_dir / "numba").rglob("mc_kernels._run_iterations-*.nbi"))
    finally:
        shutil.rmtree(user_dir, ignore_errors=True)
    assert _digest(bundle) == before


@pytest.mark.slow
def test_a_bundle_for_another_cpu_is_not_used_and_the_run_compiles(bundle, tmp_path):
    # The bundle holds code for this machine's CPU; a process that compiles for LLVM's
    # "generic" x86-64 CPU is a machine with another CPU, as far as numba's cache goes.
    built_for = json.loads((bundle / numba_cache.MANIFEST).read_text())["cpu"]["name"]
    assert built_for != "generic"
    env = _env(tmp_path / "cache", bundle, NUMBA_CPU_NAME="generic", NUMBA_CPU_FEATURES="")
    stats, stderr = _kernels(env)
    assert stderr.count(MC_LINE) == 1, stderr
    assert f"are for another CPU ({built_for}; this one is generic)" in stderr
    assert stderr.count(SUB_LINE) == 1, stderr
    assert all(hits == 0 and misses >= 1 for hits, misses in stats.values()), stats


# --------------------------------------------------------------------------- the seeding


def _fake_bundle(root: Path, source: Path) -> Path:
    bundle = root / "bundle"
    folder = bundle / "src_0123"
    folder.mkdir(parents=True)
    for name, text in [("m.f-1.py311.nbi", "index f"), ("m.f-1.py311.1.nbc", "data f1"),
                       ("m.f-1.py311.2.nbc", "data f2"), ("m.g-9.py311.nbi", "index g"),
                       ("m.g-9.py311.1.nbc", "data g1")]:
        (folder / name).write_text(text)
    (bundle / numba_cache.MANIFEST).write_text(json.dumps({"cpu": {"name": "x"}, "folders": {
        "src_0123": str(source), "gone_4567": str(root / "no-such-file.py")}}))
    return bundle


def test_seeding_copies_missing_functions_whole_and_keeps_cached_ones(tmp_path, monkeypatch):
    from numba.core import config

    source = tmp_path / "src" / "m.py"
    source.parent.mkdir()
    source.write_text("")
    bundle = _fake_bundle(tmp_path, source)
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(numba_cache, "_SEEDED", set())
    target = Path(numba_cache.cache_folder(str(source)))
    assert target.parent == tmp_path / "cache"
    target.mkdir(parents=True, exist_ok=True)
    (target / "m.g-9.py311.nbi").write_text("index g, compiled here")
    (target / "m.g-9.py311.1.nbc").write_text("data g1, compiled here")

    assert numba_cache.seed_from_bundle(bundle) == [str(target)]
    assert {p.name: p.read_text() for p in target.iterdir()} == {
        "m.f-1.py311.nbi": "index f", "m.f-1.py311.1.nbc": "data f1", "m.f-1.py311.2.nbc": "data f2",
        "m.g-9.py311.nbi": "index g, compiled here", "m.g-9.py311.1.nbc": "data g1, compiled here"}
    assert numba_cache.seed_from_bundle(bundle) == []  # once per process


def test_seeding_skips_a_missing_or_broken_bundle(tmp_path, monkeypatch):
    monkeypatch.setattr(numba_cache, "_SEEDED", set())
    assert numba_cache.seed_from_bundle(tmp_path / "absent") == []
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / numba_cache.MANIFEST).write_text("{not json")
    assert numba_cache.seed_from_bundle(tmp_path / "broken") == []


def test_precompile_refuses_an_unwritable_bundle_before_compiling(tmp_path, monkeypatch, capsys):
    from ale_app.cli import main

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(numba_cache.BUNDLE_ENV, str(blocker / "bundle"))
    assert main(["--precompile"]) == 73
    assert f"Cannot store the precompiled kernels in {blocker / 'bundle'}" in capsys.readouterr().err
    assert main(["--precompile", "spec.yaml"]) == 64
