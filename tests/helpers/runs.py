"""Runs and their output folders: comparing folders file by file, interrupting a run at a
file write, re-running the NiMARE script a run writes, and the small fast spec."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import offline, write_small_spec

from ale_app.cli import main
from ale_app.outputs import folder as D
from ale_app.outputs import provenance as P
from ale_app.outputs import registry as O

# --------------------------------------------------------------------------- folders


def folder_files(folder: Path) -> dict[str, Path]:
    """Every file in ``folder`` (relative ``/`` names), the lock file and the work area a
    resumed run reads (``.ale-app-work``, left by an unfinished run on purpose) apart."""
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != D.LOCK and p.relative_to(folder).parts[0] != D.WORK}


def stable_provenance(path: Path) -> dict:
    """``provenance.json`` without the fields that record when, where and how a run ran."""
    record = json.loads(path.read_text())
    return {k: v for k, v in record.items() if k not in P.VOLATILE_FIELDS}


def differences(folder: Path, reference: Path, allow_missing: bool = False) -> list[str]:
    """Names of files that are not byte-identical between the folders (provenance.json
    compared without its volatile fields); missing files count unless ``allow_missing``."""
    ours, theirs = folder_files(folder), folder_files(reference)
    found = [] if allow_missing else [f"missing {n}" for n in sorted(set(theirs) - set(ours))]
    for name, path in ours.items():
        if name not in theirs:
            found.append(f"extra {name}")
        elif name == O.PROVENANCE:
            if stable_provenance(path) != stable_provenance(theirs[name]):
                found.append(name)
        elif path.read_bytes() != theirs[name].read_bytes():
            found.append(name)
    return found


# --------------------------------------------------------------------------- interrupted runs


def kill_hook(k: int, sig: str, phase: str):
    """An output folder's ``events`` callable that sends this process ``SIG<sig>`` at the
    ``phase`` (``before-rename`` or ``after-rename``) of its ``k``-th file write."""
    signum = int(getattr(signal, "SIG" + sig))

    def hook(n_write: int, at: str) -> None:
        if n_write == k and at == phase:
            os.kill(os.getpid(), signum)

    return hook


def folder_with_events(hook):
    """An :class:`OutputFolder` whose ``events`` is ``hook`` (the workflow makes its folder
    through ``D.OutputFolder``, so patching that name hands the run this one)."""

    class Folder(D.OutputFolder):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs, events=hook)

    return Folder


def fork_main(args: list[str], hook=None) -> int:
    """Run ``main(args)`` in a forked child (no re-import), with ``hook`` as the output
    folder's events; return its pid."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            if hook is not None:
                D.OutputFolder = folder_with_events(hook)
            code = main(args)
        finally:
            os._exit(code)
    return pid


# --------------------------------------------------------------------------- the re-run script


def run_rerun_script(out: Path, *extra: str) -> subprocess.CompletedProcess:
    """A run's ``code/nimare_rerun.py`` as a user runs it: a subprocess with no network."""
    cmd, env = offline([sys.executable, str(out / O.RERUN_SCRIPT), *extra])
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)


def rerun_differences(stdout: str) -> dict[str, float]:
    """The re-run script's ``NAME: max |NiMARE - ale-app| = VALUE`` lines, by name."""
    found = {}
    for line in stdout.splitlines():
        if ": max |NiMARE - ale-app| = " in line:
            name, value = line.split(": max |NiMARE - ale-app| = ")
            found[name] = float(value)
    return found


# --------------------------------------------------------------------------- a fast spec

FAST_SPEC = """\
spec_version: 1
title: Small example for the signal tests
input:
  path: studyset.json
  select:
    first: 3
ale:
  kernel_fwhm: 10
jackknife:
  method: closed-form
  cluster_threshold_mm3: 200
figures:
  formats: [png]
  dpi: 50
"""


def fast_spec(folder: Path) -> Path:
    """:func:`conftest.write_small_spec`'s folder with :data:`FAST_SPEC` (three analyses,
    a fixed kernel, PNG figures at 50 dpi) as its spec."""
    spec = write_small_spec(folder)
    spec.write_text(FAST_SPEC)
    return spec
