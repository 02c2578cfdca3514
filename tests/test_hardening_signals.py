"""SIGINT and SIGTERM at many moments of a run (issue #13): every run ends with 75 and no
finished-run marker, or, when the signal came after ``provenance.json`` was in place, with 0
and a complete folder; never 1, never a swallowed interrupt; and a re-run then completes.

The moments are drawn from a seeded generator, relative to events of the run (the handlers
installed, the first file written, the first figure in place, the report in place), so that
they cover reading the input, the ALE fit, the jackknife, figure drawing and the last writes
on any machine speed.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ale_app_command, offline
from helpers.runs import fast_spec

from ale_app.outputs import registry as O

#: (event the delay counts from, largest delay in seconds, how many runs)
MOMENTS = [
    ("handlers", 6.0, 6),  # start-up, imports, reading the input
    (O.DATASET_DESCRIPTION, 4.0, 4),  # ALE fit, clusters, jackknife
    ("figures", 2.0, 6),  # inside figure drawing
    (O.REPORT, 0.5, 4),  # the last writes: spec.json, provenance.json, and after
]
SEED = 20260413


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _handlers_installed(pid: int) -> bool:
    """Whether ale-app has installed its SIGTERM handler (the 'SigCgt' mask in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(mask & (1 << (signal.SIGTERM - 1)))


def _event_happened(event: str, out: Path, pid: int) -> bool:
    if event == "handlers":
        return _handlers_installed(pid)
    return (out / event).exists()


def _interrupt_once(spec: Path, out: Path, event: str, delay: float, signum: int) -> dict:
    cmd, env = offline([*ale_app_command(), str(spec), str(out), "--n-jobs", "1"])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    sent = False
    try:
        give_up = time.monotonic() + 900  # a guard against a hang, not a timing check
        while proc.poll() is None and not _event_happened(event, out, proc.pid):
            assert time.monotonic() < give_up, f"{event} never happened"
            time.sleep(0.01)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signum)
            sent = True
        _, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return {"event": event, "delay": delay, "signal": signal.Signals(signum).name, "sent": sent,
            "code": proc.returncode, "stderr": stderr, "out": out}


def _check_complete(out: Path) -> None:
    record = json.loads((out / O.PROVENANCE).read_text())
    for name, digest in record["Outputs"].items():
        assert _sha256(out / name) == digest, name


def _temporary_files(out: Path) -> list[str]:
    return [p.name for p in out.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")]


@pytest.mark.slow
def test_signals_at_random_moments_end_with_75_or_a_complete_run(tmp_path):
    spec = fast_spec(tmp_path / "spec")
    rng = random.Random(SEED)
    plans = []
    for event, largest, count in MOMENTS:
        for _ in range(count):
            signum = signal.SIGINT if len(plans) % 2 else signal.SIGTERM
            plans.append((event, round(rng.uniform(0, largest), 3), signum))
    assert len(plans) >= 20

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(
            lambda i_plan: _interrupt_once(spec, tmp_path / f"out{i_plan[0]:02d}", *i_plan[1]),
            enumerate(plans)))

    summary = "\n".join(f"{r['event']}+{r['delay']}s {r['signal']}: exit {r['code']}" for r in results)
    interrupted = []
    for r in results:
        where = f"{r['event']}+{r['delay']}s {r['signal']}\n{r['stderr'][-3000:]}\nall runs:\n{summary}"
        assert r["code"] in (0, 75), where
        assert "Traceback" not in r["stderr"] and "Exception ignored" not in r["stderr"], where
        assert not _temporary_files(r["out"]), where
        if r["code"] == 75:
            assert f"ale-app was stopped by signal {r['signal']}." in r["stderr"], where
            assert "re-run the same command" in r["stderr"], where
            assert not (r["out"] / O.PROVENANCE).exists(), where
            interrupted.append(r)
        else:
            _check_complete(r["out"])
    # Most signals land before the end, some of them while the figures are drawn.
    assert len(interrupted) >= len(results) // 2, summary
    assert any(r["event"] == "figures" for r in interrupted), summary

    # A re-run of the same command completes an interrupted folder (one stopped while drawing).
    rerun_out = next(r["out"] for r in interrupted if r["event"] == "figures")
    cmd, env = offline([*ale_app_command(), str(spec), str(rerun_out), "--n-jobs", "1", "-q"])
    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    _check_complete(rerun_out)
