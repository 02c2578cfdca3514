"""Progress of the long steps: a tqdm bar on a terminal, log lines in a batch job's log.

When stderr is a terminal, a step's progress is a tqdm bar that disappears when the step
ends. When it is not (a SLURM job's log file, ``2> run.log``, a pipe), the bar's carriage
returns would fill the log with half-lines; the progress is logged instead, one line each
time the step has advanced another 10 % of its work *and* at least
``ALE_APP_PROGRESS_INTERVAL`` seconds (default 30) have passed since the last line,
whichever comes later, and at 100 % once a line was logged. A step shorter than the
interval logs no progress line (the workflow's "... done in 12.3 s" says when it ended).
``-q`` hides both.

Steps compute; this module only counts and logs.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from contextlib import contextmanager

LGR = logging.getLogger("ale_app")

#: The environment variable that sets the least number of seconds between two progress
#: lines in a log (a number >= 0; 0 logs every 10 %).
INTERVAL_ENV = "ALE_APP_PROGRESS_INTERVAL"
#: Seconds between two progress lines when the variable is not set.
DEFAULT_INTERVAL = 30.0
#: The least fraction of the work between two progress lines.
STEP_FRACTION = 0.10


def log_interval() -> float:
    """The seconds between two progress lines: ``ALE_APP_PROGRESS_INTERVAL``, else 30; a value
    that is not a number >= 0 is reported once in the log and replaced by the default."""
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        LGR.warning("%s=%r is not a number of seconds >= 0; progress lines are at least %g s apart",
                    INTERVAL_ENV, raw[:40], DEFAULT_INTERVAL)
        return DEFAULT_INTERVAL
    return value


def _stderr_is_terminal() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError, OSError):  # closed or replaced
        return False


class ProgressLog:
    """Counts a step's work and logs a line at the intervals described in the module.

    Parameters
    ----------
    total : int
        The units of work of the step (iterations, experiments).
    desc : str
        The step's name in the line ("FWE", "jackknife").
    unit : str
        The unit's name, plural ("iterations").
    interval : float
        The least seconds between two lines (the one at 100 % follows any earlier one at once).
    clock : callable
        The clock (``time.monotonic``; tests hand their own).
    """

    def __init__(self, total: int, desc: str, unit: str, interval: float, clock=time.monotonic):
        self.total, self.desc, self.unit, self.interval, self.clock = int(total), desc, unit, interval, clock
        self.n = 0
        self.start = self.last_time = clock()
        self.last_n = 0
        self.min_step = max(1, math.ceil(STEP_FRACTION * self.total))
        self.lock = threading.Lock()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units done; log a line when one is due."""
        with self.lock:
            if self.n >= self.total:
                return
            self.n = min(self.total, self.n + int(n))
            now = self.clock()
            due = (self.n - self.last_n >= self.min_step and now - self.last_time >= self.interval) or (
                self.n >= self.total and self.last_n > 0)  # the closing line, after earlier ones
            if not due:
                return
            self.last_n, self.last_time = self.n, now
            LGR.info("%s", self.line(now))

    def line(self, now: float) -> str:
        """The progress line, e.g. ``FWE: 40% (400/1000 iterations), 0:12 elapsed, about 0:18 left``."""
        from tqdm import tqdm

        elapsed = now - self.start
        percent = int(100 * self.n // self.total) if self.total else 100
        text = f"{self.desc}: {percent}% ({self.n}/{self.total} {self.unit}), {tqdm.format_interval(elapsed)} elapsed"
        if 0 < self.n < self.total and elapsed > 0:
            text += f", about {tqdm.format_interval(elapsed * (self.total - self.n) / self.n)} left"
        return text


@contextmanager
def progress_bar(total: int, desc: str, unit: str = "experiments"):
    """Yield a callable that counts ``n`` units of the step's work done: a tqdm bar when
    stderr is a terminal, progress lines in the log otherwise (see the module), nothing
    with ``-q``."""
    if total <= 0 or not LGR.isEnabledFor(logging.INFO):
        yield lambda n=1: None
        return
    if not _stderr_is_terminal():
        yield ProgressLog(total, desc, unit, log_interval()).update
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=desc, unit=unit.rstrip("s") or unit, leave=False, file=sys.stderr) as bar:
        yield bar.update
