"""Progress of the long steps (issue #26, item 7): log lines in a batch job's log, a tqdm bar
on a terminal.

The command-line test runs an inferential analysis with stderr to a file, as a SLURM job's
log, and reads the lines back; the interval rule is checked on the reporter with a clock
the test drives.
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys

import pytest

from ale_app.run import progress as P
from conftest import ale_app_command, offline, write_small_spec

INFERENTIAL = """\
spec_version: 1
title: Progress lines in a batch log
mode: inferential
input:
  path: studyset.json
  select:
    first: 3
ale:
  kernel_fwhm: 10
inference:
  min_experiments: 3
  n_iterations: 200
  seed: 1
figures:
  formats: [png]
  dpi: 50
"""

LINE = re.compile(r"ale-app INFO: (?P<desc>[\w ]+): (?P<pct>\d+)% \((?P<n>\d+)/(?P<total>\d+) (?P<unit>\w+)\), "
                  r"(?P<elapsed>[\d:]+) elapsed(, about [\d:]+ left)?$")


@pytest.mark.slow
def test_batch_log_has_progress_lines_up_to_100(tmp_path):
    """stderr to a file: the Monte Carlo step logs several lines (every 10 % with the interval
    shrunk to 0), each a whole line, percentages rising to 100 %, and no tqdm carriage returns."""
    spec = write_small_spec(tmp_path / "in")
    spec.write_text(INFERENTIAL)
    out, log = tmp_path / "out", tmp_path / "run.log"
    cmd, env = offline([*ale_app_command(), str(spec), str(out), "--n-jobs", "2"],
                       {**os.environ, P.INTERVAL_ENV: "0", "PYTHONWARNINGS": "ignore"})
    with open(log, "wb") as handle:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=handle, env=env, timeout=600)
    raw = log.read_bytes()
    assert proc.returncode == 0, raw.decode(errors="replace")[-3000:]
    assert (out / "provenance.json").is_file()
    assert b"\r" not in raw and b"\x1b[" not in raw, "terminal control characters reached the log"
    lines = raw.decode().splitlines()
    steps: dict[str, list[re.Match]] = {}
    for line in lines:
        match = LINE.search(line)
        if match:
            steps.setdefault(match["desc"], []).append(match)
    assert "FWE" in steps, "\n".join(lines)
    fwe = steps["FWE"]
    assert len(fwe) >= 4, [m.group(0) for m in fwe]  # 8 blocks of 25 iterations on 2 threads
    for desc, matches in steps.items():
        percents = [int(m["pct"]) for m in matches]
        counts = [int(m["n"]) for m in matches]
        assert percents == sorted(set(percents)), (desc, percents)  # strictly rising
        assert counts == sorted(set(counts)), (desc, counts)
        assert percents[-1] == 100 and counts[-1] == int(matches[-1]["total"]), (desc, percents)
        assert all(int(m["n"]) * 100 // int(m["total"]) == int(m["pct"]) for m in matches)
    assert {int(m["total"]) for m in fwe} == {200} and {m["unit"] for m in fwe} == {"iterations"}
    # Every FWE line after the first comes after at least another 10 % of the iterations.
    counts = [int(m["n"]) for m in fwe]
    assert all(b - a >= 20 for a, b in zip(counts, counts[1:])), counts
    assert "ALE" in steps and steps["ALE"][-1]["pct"] == "100"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_interval_rule_every_10_percent_or_interval_whichever_later(caplog):
    """A line only when both another 10 % and the interval have passed, and at 100 % once a
    line was logged; a step shorter than the interval logs none."""
    clock = FakeClock()
    report = P.ProgressLog(1000, "FWE", "iterations", interval=30.0, clock=clock)
    logged = []
    with caplog.at_level(logging.INFO, logger="ale_app"):
        # 1 % every 5 s: 10 % takes 50 s, later than the interval: a line every 10 %.
        for _ in range(100):
            clock.now += 5.0
            report.update(10)
            logged = [r.getMessage() for r in caplog.records]
    percents = [int(re.search(r"(\d+)%", m).group(1)) for m in logged]
    assert percents == list(range(10, 101, 10)), logged

    caplog.clear()
    clock = FakeClock()
    report = P.ProgressLog(1000, "FWE", "iterations", interval=30.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="ale_app"):
        # 10 % every second: the interval comes later; 10 s in all, shorter than one interval.
        for _ in range(10):
            clock.now += 1.0
            report.update(100)
    percents = [int(re.search(r"(\d+)%", r.getMessage()).group(1)) for r in caplog.records]
    assert percents == [], percents  # 10 s in all, shorter than the interval: no line

    caplog.clear()
    clock = FakeClock()
    report = P.ProgressLog(100, "jackknife", "experiments", interval=30.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="ale_app"):
        for _ in range(100):
            clock.now += 1.0
            report.update(1)
        report.update(5)  # past the total: nothing more
    lines = [r.getMessage() for r in caplog.records]
    assert [int(re.search(r"(\d+)%", m).group(1)) for m in lines] == [30, 60, 90, 100], lines
    assert lines[0] == "jackknife: 30% (30/100 experiments), 00:30 elapsed, about 01:10 left"
    assert lines[-1] == "jackknife: 100% (100/100 experiments), 01:40 elapsed"


@pytest.mark.parametrize("value, expected", [("0", 0.0), ("2.5", 2.5), (" 7 ", 7.0), ("", 30.0),
                                             ("soon", 30.0), ("-1", 30.0), ("nan", 30.0), ("inf", 30.0)])
def test_interval_from_environment(monkeypatch, caplog, value, expected):
    monkeypatch.setenv(P.INTERVAL_ENV, value)
    with caplog.at_level(logging.WARNING, logger="ale_app"):
        assert P.log_interval() == expected
    warned = [r.getMessage() for r in caplog.records if P.INTERVAL_ENV in r.getMessage()]
    assert bool(warned) == (value.strip() not in ("", "0", "2.5", "7")), warned


class Terminal(io.StringIO):
    """A stderr that says it is a terminal and keeps what is drawn on it."""

    def isatty(self):
        return True


def test_terminal_keeps_the_tqdm_bar(monkeypatch, caplog):
    """stderr on a terminal: the tqdm bar draws (carriage returns, the step's name) and no
    progress line is logged."""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with caplog.at_level(logging.INFO, logger="ale_app"):
        with P.progress_bar(20, "FWE", "iterations") as advance:
            for _ in range(20):
                advance(1)
    drawn = terminal.getvalue()
    assert "\r" in drawn and "FWE:" in drawn and "/20" in drawn, drawn
    assert not [r for r in caplog.records if "%" in r.getMessage()]


def test_quiet_logs_no_progress(caplog):
    """-q (the logger above INFO): no bar and no line."""
    logger = logging.getLogger("ale_app")
    before = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with caplog.at_level(logging.WARNING, logger="ale_app"):
            with P.progress_bar(10, "FWE", "iterations") as advance:
                for _ in range(10):
                    advance(1)
    finally:
        logger.setLevel(before)
    assert not caplog.records
