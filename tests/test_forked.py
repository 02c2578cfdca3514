"""Forked figure workers (``executor.map_forked``) and the console script's fast exit
(``runtime.exit_process``).

The figures of a run with ``--n-jobs`` above 1 are drawn in processes forked from the run:
the same bytes as drawn in-process, a failed worker's figure drawn again in the run, no
worker left behind when the run is interrupted. The console script skips the interpreter's
module teardown but not the ``atexit`` handlers, nor the flush of what it printed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ale_app.process import executor
from conftest import ale_app_command, offline, write_small_spec

pytestmark = pytest.mark.skipif(not executor.can_fork(), reason="forked workers are used on Linux only")


def _item_result(x: int) -> dict:
    # 300 kB: more than a pipe holds, so the parent must read while workers still write.
    return {"x": x, "pid": os.getpid(), "payload": bytes([x]) * 300_000}


def test_map_forked_returns_every_items_result_from_other_processes():
    items = [3, 1, 2, 5, 4]
    got = executor.map_forked(_item_result, items, 2)
    assert sorted(got) == sorted(items)
    for x in items:
        assert got[x]["x"] == x
        assert got[x]["payload"] == bytes([x]) * 300_000
        assert got[x]["pid"] != os.getpid()
    assert len({got[x]["pid"] for x in items}) == len(items)  # one fresh fork per item


def test_a_failed_or_killed_worker_maps_to_failed_and_the_others_finish():
    def work(x):
        if x == "raise":
            raise ValueError("drawing failed")
        if x == "killed":
            os.kill(os.getpid(), signal.SIGKILL)
        return x.upper()

    got = executor.map_forked(work, ["a", "raise", "b", "killed", "c"], 2)
    assert got == {"a": "A", "raise": executor.FAILED, "b": "B", "killed": executor.FAILED, "c": "C"}


def test_at_most_n_workers_run_at_once(tmp_path):
    def work(x):
        (tmp_path / f"{x}.start").write_text(repr(time.monotonic()))
        time.sleep(0.5)
        (tmp_path / f"{x}.end").write_text(repr(time.monotonic()))
        return x

    assert executor.map_forked(work, list(range(5)), 2) == {i: i for i in range(5)}
    spans = [(float((tmp_path / f"{i}.start").read_text()), float((tmp_path / f"{i}.end").read_text()))
             for i in range(5)]
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert most == 2


def test_an_interrupted_parent_leaves_no_worker_behind(tmp_path):
    def work(x):
        (tmp_path / f"{x}.tmp").write_text(str(os.getpid()))
        (tmp_path / f"{x}.tmp").rename(tmp_path / f"{x}.pid")  # whole, or not there
        time.sleep(60)
        return x

    class Alarm(Exception):
        pass

    def on_alarm(signum, frame):
        if len(list(tmp_path.glob("*.pid"))) < 2:  # interrupt once both workers run
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            return
        raise Alarm

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        with pytest.raises(Alarm):
            executor.map_forked(work, [1, 2, 3], 2)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    pids = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
    assert len(pids) == 2  # the third never started
    for pid in pids:  # killed and reaped: no such process, not even a zombie
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


# --------------------------------------------------------------------------- figures

CLOSED_FORM_SPEC_EDIT = ("method: refit", "method: closed-form")


@pytest.fixture(scope="module")
def closed_form_small(tmp_path_factory) -> Path:
    """The small spec with the closed-form jackknife: the figures are the only thing that
    reads --n-jobs."""
    spec = write_small_spec(tmp_path_factory.mktemp("forked-spec"))
    spec.write_text(spec.read_text().replace(*CLOSED_FORM_SPEC_EDIT))
    return spec


def _figures(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "figures").iterdir())}


def test_figures_drawn_on_forked_workers_are_the_in_process_bytes(tmp_path, closed_form_small):
    from ale_app.cli import main

    assert main([str(closed_form_small), str(tmp_path / "one"), "--n-jobs", "1", "-q"]) == 0
    assert main([str(closed_form_small), str(tmp_path / "two"), "--n-jobs", "2", "-q"]) == 0
    one, two = _figures(tmp_path / "one"), _figures(tmp_path / "two")
    from ale_app.outputs import registry as O

    registered = {Path(n).name for e in O.figure_entries() for n in e.file_names()}
    assert len(one) >= 4 and set(one) <= registered and one == two
    assert (tmp_path / "one" / "report.html").read_bytes() == (tmp_path / "two" / "report.html").read_bytes()


def test_a_figure_whose_worker_failed_is_drawn_in_the_run(tmp_path, closed_form_small, monkeypatch):
    from ale_app.outputs import registry as O
    from ale_app.outputs import writing as W
    from ale_app.cli import main

    run_pid, real_draw, drawn_here = os.getpid(), W.draw, []

    def draw_fails_in_workers(name, result, registry=O.REGISTRY):
        if os.getpid() != run_pid:
            raise RuntimeError("a worker's failure")
        drawn_here.append(name)
        return real_draw(name, result, registry)

    monkeypatch.setattr(W, "draw", draw_fails_in_workers)
    assert main([str(closed_form_small), str(tmp_path / "two"), "--n-jobs", "2", "-q"]) == 0
    written = sorted({f"figures/{Path(n).stem}" for n in _figures(tmp_path / "two")})
    assert len(written) >= 4 and sorted(drawn_here) == written
    monkeypatch.setattr(W, "draw", real_draw)
    assert main([str(closed_form_small), str(tmp_path / "one"), "--n-jobs", "1", "-q"]) == 0
    assert _figures(tmp_path / "two") == _figures(tmp_path / "one")


# --------------------------------------------------------------------------- fast exit


def test_exit_process_runs_atexit_handlers_and_flushes_before_exiting():
    code = ("import atexit, sys, threading, time\n"
            "from ale_app.process.runtime import exit_process\n"
            "atexit.register(lambda: print('atexit ran'))\n"
            "threading.Thread(target=lambda: (time.sleep(0.5), print('thread joined'))).start()\n"
            "sys.stdout.write('x' * 200000)\n"
            "exit_process(3)\n"
            "print('never')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    # The interpreter's order: non-daemon threads joined, then atexit handlers, then exit.
    assert proc.stdout == "x" * 200000 + "thread joined\natexit ran\n"


def test_console_script_prints_everything_and_keeps_its_exit_code(tmp_path):
    from ale_app.spec.schema import schema_text

    cmd, env = offline([*ale_app_command(), "--print-schema"])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stdout == schema_text()
    missing = tmp_path / "missing.yaml"
    cmd, env = offline([*ale_app_command(), str(missing), str(tmp_path / "out")])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 66 and "missing.yaml" in proc.stderr  # EX_NOINPUT
    cmd, env = offline([sys.executable, "-m", "ale_app", "--version"])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("ale-app ")
