"""Shared fixtures: the Agg backend, figures closed after each test, no network, the
example analysis run once per session through the real command line, and its refit
variant run with one and two jobs; and a prefix that runs a command as another user with no
network (:func:`as_user_prefix`, for tests/test_hardening_readonly.py and
tests/test_kernel_cache.py). More helpers the test modules share are in tests/helpers/.

``pytest -m "not slow"`` leaves out the tests marked ``slow`` (each takes a minute or more
on a 2-core machine); plain ``pytest``, which CI runs, runs them all. In CI (``CI=true``)
a test whose optional tool is missing fails instead of skipping (:func:`require`,
:func:`skip_or_fail`); so does a subprocess test where no empty network namespace can be
made for the subprocess (:func:`offline`)."""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

# The helpers the test modules share (tests/helpers/) keep pytest's assertion messages.
pytest.register_assert_rewrite("helpers")

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = "example:pain-qualitative"
#: CI sets CI=true: there a missing optional tool is a failure, never a skip.
IN_CI = os.environ.get("CI", "").strip().lower() == "true"


def skip_or_fail(message: str, fix: str = "") -> None:
    """Skip a test that cannot run here (``message`` says why); in CI (CI=true) fail it."""
    if IN_CI:
        pytest.fail(f"{message}; CI=true runs every test{', ' + fix if fix else ''}", pytrace=False)
    pytest.skip(message)


def require(module: str, why: str):
    """Import ``module`` for a test; skip where it is not installed, but fail in CI."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        skip_or_fail(f"{module} is not installed ({why}): {exc}", "install requirements-test.lock")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


OFFLINE_SITE = Path(__file__).resolve().parent / "offline"
LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost", "")


class NetworkBlocked(OSError):
    """Raised instead of opening an internet connection during the tests."""


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Any attempt to reach a non-loopback address fails the test (connect, connect_ex,
    create_connection and name lookups); subprocesses are covered by :func:`offline`."""
    real_connect, real_connect_ex, real_getaddrinfo = (
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo)

    def check(host):
        host = host.decode() if isinstance(host, bytes) else host
        if host not in LOCAL_HOSTS and not str(host).startswith("/"):
            raise NetworkBlocked(f"test tried to reach the network: {host!r}")

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            check(address[0])
        return real_connect(self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            check(address[0])
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        check(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _unshare_prefix() -> tuple[list[str], str]:
    """The command prefix that runs a process in a new, empty network namespace
    (``unshare -rn``; as root, ``unshare -n`` too), or ``[]`` and why none works here."""
    exe = shutil.which("unshare")
    if exe is None:
        return [], "unshare (util-linux) is not installed"
    failures = []
    for flags in [["-rn"]] + ([["-n"]] if os.geteuid() == 0 else []):
        proc = subprocess.run([exe, *flags, "true"], capture_output=True, text=True)
        if proc.returncode == 0:
            return [exe, *flags], ""
        failures.append(f"'unshare {flags[0]} true' failed: {proc.stderr.strip() or proc.returncode}")
    return [], "; ".join(failures)


UNSHARE, UNSHARE_PROBLEM = _unshare_prefix()


def require_network_namespace() -> list[str]:
    """The ``unshare`` prefix of :func:`offline`; where no network namespace can be made,
    the test is skipped, and in CI (CI=true) it fails: a subprocess is never run with the
    network silently left on."""
    if not UNSHARE:
        skip_or_fail(f"cannot run the subprocess in an empty network namespace: {UNSHARE_PROBLEM}",
                     "run it where 'unshare -rn' works (or as root with CAP_SYS_ADMIN)")
    return UNSHARE


def offline(cmd: list[str], env: dict | None = None) -> tuple[list[str], dict]:
    """A subprocess command and environment with no network: the process runs in an empty
    network namespace (``unshare -rn``; the test is skipped where that is impossible, and
    fails in CI), and its Python loads ``tests/offline/sitecustomize.py`` (sockets to
    non-loopback addresses raise)."""
    prefix = require_network_namespace()
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(OFFLINE_SITE), env.get("PYTHONPATH")) if p)
    return [*prefix, *cmd], env


#: The user :func:`as_user_prefix` runs a command as.
OTHER_UID = 4242


@pytest.fixture()
def as_user_prefix() -> list[str]:
    """``unshare -n setpriv --reuid=4242 ...``: another user, no network. Skipped where that
    cannot be made (not root, no setpriv, no network namespace); with CI=true, failed."""
    if os.geteuid() != 0:
        skip_or_fail("needs root to run ale-app as another user (uid 4242)", "run the tests as root")
    setpriv, unshare = shutil.which("setpriv"), shutil.which("unshare")
    if setpriv is None or unshare is None:
        skip_or_fail("setpriv and unshare (util-linux) are needed", "install util-linux")
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        skip_or_fail(f"'unshare -n true' failed: {probe.stderr.strip()}", "give the tests CAP_SYS_ADMIN")
    return [unshare, "-n", setpriv, f"--reuid={OTHER_UID}", f"--regid={OTHER_UID}", "--clear-groups"]


def _runs_the_cli(argv: list[str]) -> bool:
    """Whether a subprocess command runs ale-app's command line."""
    return any(Path(a).name == "ale-app" or "ale_app.cli" in a for a in argv) or any(
        a == "-m" and b == "ale_app" for a, b in zip(argv, argv[1:]))


def _in_network_namespace(argv: list[str]) -> bool:
    if len(argv) > 1 and Path(argv[0]).name == "nsenter":  # into a namespace an unshare -n made
        return "-n" in argv[1:argv.index("--")] if "--" in argv else False
    return (len(argv) > 1 and Path(argv[0]).name == "unshare"
            and any(a.startswith("-") and not a.startswith("--") and "n" in a for a in argv[1:3]))


@pytest.fixture(autouse=True)
def _cli_subprocesses_offline(monkeypatch):
    """A test that starts ale-app's command line in a subprocess must start it through
    :func:`offline` (or another ``unshare -n``, or ``nsenter -n ... --`` into one, as the
    dask tests do): the README says the tests run it offline."""
    real_popen = subprocess.Popen

    class GuardedPopen(real_popen):
        def __init__(self, args, *rest, **kwargs):
            argv = [os.fspath(a) for a in args] if isinstance(args, (list, tuple)) else [os.fspath(args)]
            if _runs_the_cli(argv) and not _in_network_namespace(argv):
                raise AssertionError(f"ale-app started outside a network namespace (use offline()): {argv}")
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", GuardedPopen)


def ale_app_command() -> list[str]:
    """The installed console script, or the module run with this interpreter."""
    exe = shutil.which("ale-app", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "ale_app"]


@pytest.fixture(scope="session")
def run_jobs1(tmp_path_factory):
    """The example run in-process through ``main`` with one job."""
    from ale_app.cli import main

    out = tmp_path_factory.mktemp("run") / "jobs1"
    code = main([EXAMPLE, str(out), "group", "--n-jobs", "1", "-q"])
    assert code == 0
    return out


@pytest.fixture(scope="session")
def run_jobs2(tmp_path_factory):
    """The example run as a subprocess through the console script with two jobs."""
    out = tmp_path_factory.mktemp("run") / "jobs2"
    cmd, env = offline([*ale_app_command(), EXAMPLE, str(out), "--n-jobs", "2"],
                       {**os.environ, "PYTHONWARNINGS": "ignore"})
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stderr


SMALL_SPEC = """\
spec_version: 1
title: Small example for the reproducibility tests
input:
  path: studyset.json
  select:
    first: 3
ale:
  kernel_fwhm: 10
jackknife:
  method: refit
  cluster_threshold_mm3: 200
figures:
  formats: [png]
  dpi: 50
"""


def write_small_spec(folder: Path) -> Path:
    """A small, quick analysis (3 analyses of NiMARE's pain studyset, PNG figures at 50 dpi)
    whose input is a copy of the studyset next to the spec; returns the spec's path."""
    from nimare.utils import get_resource_path

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(get_resource_path()) / "nidm_pain_studyset.json", folder / "studyset.json")
    spec = folder / "small.yaml"
    spec.write_text(SMALL_SPEC)
    return spec


@pytest.fixture(scope="session")
def small_spec(tmp_path_factory):
    """The small spec in a session folder (tests must not change its input)."""
    return write_small_spec(tmp_path_factory.mktemp("small-spec"))


@pytest.fixture(scope="session")
def small_reference(tmp_path_factory, small_spec):
    """One uninterrupted run of the small spec: the folder every other small run must equal."""
    from ale_app.cli import main

    out = tmp_path_factory.mktemp("small") / "reference"
    assert main([str(small_spec), str(out), "--n-jobs", "1", "-q"]) == 0
    return out


def refit_spec_text() -> str:
    """The bundled example with ``jackknife.method: refit``: the path that reads ``--n-jobs``."""
    from ale_app.spec.load import example_path

    text = example_path("pain-qualitative").read_text()
    assert "method: closed-form" in text
    return text.replace("method: closed-form", "method: refit", 1)


@pytest.fixture(scope="session")
def refit_spec(tmp_path_factory):
    spec = tmp_path_factory.mktemp("refit-spec") / "pain-qualitative-refit.yaml"
    spec.write_text(refit_spec_text())
    return spec


def _run_console_script(args: list[str]) -> subprocess.CompletedProcess:
    cmd, env = offline([*ale_app_command(), *args], {**os.environ, "PYTHONWARNINGS": "ignore"})
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="session")
def refit_jobs1(tmp_path_factory, refit_spec):
    """The refit example through the console script with one job (loky)."""
    out = tmp_path_factory.mktemp("refit") / "jobs1"
    _run_console_script([str(refit_spec), str(out), "--n-jobs", "1", "-q"])
    return out


@pytest.fixture(scope="session")
def refit_jobs2(tmp_path_factory, refit_spec):
    """The refit example through the console script with two jobs (loky)."""
    out = tmp_path_factory.mktemp("refit") / "jobs2"
    _run_console_script([str(refit_spec), str(out), "--n-jobs", "2", "-q"])
    return out


def assert_drawn_png(path: Path, min_side: int = 100, min_colours: int = 16) -> None:
    """``path`` is a PNG that Pillow reads whole, at least ``min_side`` pixels on each side,
    with at least ``min_colours`` distinct colours: a drawn figure, not an empty or blank one
    (a figure whose axes were never drawn, or an all-white page, has a handful)."""
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG", (path, image.format)
        image.load()
        assert min(image.size) >= min_side, (path, image.size)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24)
    assert colours is not None and len(colours) >= min_colours, (path, None if colours is None else len(colours))


# --------------------------------------------------------------------------- golden manifests
#
# A golden manifest (tests/golden/<case>.json) pins the bytes a version-1 or version-2 run
# writes: the SHA-256 of every file but provenance.json, and provenance.json's fields that
# do not record when, where or on what machine the run ran. Each manifest is checked against
# a run that a test module makes anyway (no run is added for it). Refactoring must leave
# them unchanged; a change of output that is meant is declared by regenerating them:
#     ALE_APP_WRITE_GOLDEN=1 pytest -m "" -k golden
# and saying so in the commit. PNG and SVG bytes follow the locked matplotlib and FreeType,
# so a manifest holds the versions it was made with, and a different environment is named.

GOLDEN = Path(__file__).resolve().parent / "golden"
WRITE_GOLDEN = os.environ.get("ALE_APP_WRITE_GOLDEN", "").strip() == "1"
#: provenance.json fields left out of a manifest besides the volatile ones: the machine,
#: the container, every installed distribution and the lock files' digests (environment),
#: and the git commit (every commit has its own).
GOLDEN_PROVENANCE_SKIP = ("Platform", "Container", "InstalledDistributions", "LockFiles")


def golden_manifest(out: Path) -> dict:
    """The manifest of the run folder ``out`` (see above)."""
    import hashlib
    import json

    from ale_app.outputs import provenance as P

    record = json.loads((out / "provenance.json").read_text())
    stable = {k: v for k, v in record.items()
              if k not in P.VOLATILE_FIELDS and k not in GOLDEN_PROVENANCE_SKIP}
    stable["GeneratedBy"] = {k: v for k, v in stable.get("GeneratedBy", {}).items() if k != "GitRevision"}
    stable["InputFiles"] = [{k: v for k, v in f.items() if k != "Resolved"}
                            for f in stable.get("InputFiles", [])]
    files = {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(out.rglob("*")) if p.is_file() and p.name != "provenance.json"}
    return {"software": record["Software"], "files": files, "provenance": stable}


def assert_matches_golden(out: Path, case: str) -> None:
    """The run folder ``out`` writes exactly the files of ``tests/golden/<case>.json``, byte
    for byte, with the same provenance. With ALE_APP_WRITE_GOLDEN=1 the manifest is written."""
    import json

    path = GOLDEN / f"{case}.json"
    ours = golden_manifest(out)
    if WRITE_GOLDEN:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(ours, indent=1, sort_keys=True) + "\n")
        return
    regenerate = ("if the change of output is meant, regenerate with "
                  "`ALE_APP_WRITE_GOLDEN=1 pytest -m \"\" -k golden` and say so in the commit")
    assert path.is_file(), f"no golden manifest {path.name}; {regenerate}"
    golden = json.loads(path.read_text())
    if ours["software"] != golden["software"]:
        changed = {k: (golden["software"].get(k), v) for k, v in ours["software"].items()
                   if golden["software"].get(k) != v}
        pytest.fail(f"{path.name} was made with other versions than these (golden, here): "
                    f"{changed}; install from requirements-test.lock, or {regenerate}")
    missing = sorted(set(golden["files"]) - set(ours["files"]))
    extra = sorted(set(ours["files"]) - set(golden["files"]))
    changed = sorted(n for n in set(ours["files"]) & set(golden["files"])
                     if ours["files"][n] != golden["files"][n])
    provenance = sorted(k for k in set(ours["provenance"]) | set(golden["provenance"])
                        if ours["provenance"].get(k) != golden["provenance"].get(k))
    assert not (missing or extra or changed or provenance), (
        f"{case}: missing {missing}, extra {extra}, changed {changed}, "
        f"provenance fields changed {provenance}; {regenerate}")
