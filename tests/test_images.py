"""The Docker and Apptainer recipes agree with each other and with the package, and the
container record in the outputs comes from the variables the images set."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from spython.main.parse.parsers import SingularityParser

from ale_app import __version__
from ale_app.errors import ExitCode
from ale_app.outputs import provenance as P

REPO = Path(__file__).resolve().parents[1]
RUNTIME_VARIABLES = {
    "MPLCONFIGDIR", "NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "NIMARE_DATA", "NILEARN_DATA",
    "JOBLIB_TEMP_FOLDER", "PYTHONNOUSERSITE", "PYTHONDONTWRITEBYTECODE", "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "ALE_APP_CONTAINER", "ALE_APP_IMAGE_VERSION",
    "ALE_APP_IMAGE_REVISION", "ALE_APP_IMAGE_SOURCE", "PATH",
}


def _dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


def _docker_env() -> dict[str, str]:
    text = re.sub(r"\\\n", " ", _dockerfile())
    env = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
    return env


def _docker_arg(name: str) -> str:
    return re.search(rf"^ARG {name}=(\S*)$", _dockerfile(), re.M).group(1)


@pytest.fixture(scope="module")
def recipe():
    (layer,) = SingularityParser(str(REPO / "apptainer.def")).recipe.values()
    return layer


def test_apptainer_def_parses_and_uses_the_dockerfile_base(recipe):
    assert recipe.fromHeader == _docker_arg("BASE_IMAGE") == "debian:bookworm-slim"


def test_apptainer_def_installs_with_the_shared_script(recipe):
    copied = {line.split()[0] for line in recipe.files}
    assert {"docker/install.sh", "requirements.lock", "pyproject.toml", "ale_app"} <= copied
    for source in copied:
        assert (REPO / source).exists(), source
    assert any("docker/install.sh all /opt/ale-app-src" in line for line in recipe.install)
    assert "docker/install.sh system" in _dockerfile()
    assert "docker/install.sh deps /opt/ale-app-src" in _dockerfile()
    assert "docker/install.sh project /opt/ale-app-src" in _dockerfile()
    install = (REPO / "docker" / "install.sh").read_text()
    assert "--require-hashes -r \"$src/requirements.lock\"" in install
    assert "--no-deps" in install


def test_apptainer_runscript_and_test(recipe):
    assert recipe.cmd == 'exec ale-app "$@"'
    assert recipe.test  # spython keeps %test as a script written during the build
    assert any("ale-app example:pain-qualitative" in line for line in recipe.install)


def test_both_images_set_the_same_run_time_environment(recipe):
    docker = _docker_env()
    apptainer = dict(line.split("=", 1) for line in recipe.environ)
    assert RUNTIME_VARIABLES <= set(docker) and RUNTIME_VARIABLES <= set(apptainer)
    for name in RUNTIME_VARIABLES - {"ALE_APP_CONTAINER", "ALE_APP_IMAGE_REVISION", "ALE_APP_IMAGE_VERSION",
                                     "ALE_APP_IMAGE_SOURCE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "MKL_NUM_THREADS"}:
        assert docker[name] == apptainer[name], name
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        assert docker[name] == "1" and apptainer[name] == f"${{{name}:-1}}"
    for name in ("MPLCONFIGDIR", "NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "NIMARE_DATA", "NILEARN_DATA",
                 "JOBLIB_TEMP_FOLDER"):
        assert docker[name].startswith("/tmp"), name
    assert (docker["ALE_APP_CONTAINER"], apptainer["ALE_APP_CONTAINER"]) == ("docker", "apptainer")


def test_image_versions_and_labels_match_the_package(recipe):
    assert _docker_arg("VERSION") == __version__
    assert dict(line.split("=", 1) for line in recipe.environ)["ALE_APP_IMAGE_VERSION"] == __version__
    labels = dict(line.split(None, 1) for line in recipe.labels)
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.revision"] == "{{ REVISION }}"
    for key in ("title", "version", "revision", "source", "licenses"):
        assert f"org.opencontainers.image.{key}=" in _dockerfile(), key
    assert re.search(r'^ENTRYPOINT \["ale-app"\]$', _dockerfile(), re.M)
    assert re.search(r"^USER ale$", _dockerfile(), re.M)


def _apptainer_section(name: str) -> str:
    text = (REPO / "apptainer.def").read_text()
    match = re.search(rf"^%{name}\s*\n(.*?)(?=^%\w+\s*$|\Z)", text, re.M | re.S)
    assert match, name
    return match.group(1)


def test_apptainer_help_lists_every_exit_code():
    """`apptainer run-help` names every code the command line can exit with (ExitCode)."""
    codes = _apptainer_section("help").split("Exit codes:", 1)[1]
    listed = {int(m) for m in re.findall(r"^\s+(\d+)\s", codes, re.M)}
    assert listed == {int(c) for c in ExitCode}


def test_packaging_describes_both_modes(recipe):
    """The Dockerfile label, the Apptainer label and help, and pyproject's description name the
    two modes and that the inferential one computes z and p (not "descriptive only")."""
    labels = dict(line.split(None, 1) for line in recipe.labels)
    docker = re.search(r'org\.opencontainers\.image\.description="([^"]+)"', _dockerfile()).group(1)
    assert labels["org.opencontainers.image.description"] == docker
    pyproject = re.search(r'^description = "(.+)"$', (REPO / "pyproject.toml").read_text(), re.M).group(1)
    for text in (docker, pyproject, _apptainer_section("help")):
        assert "descriptive" in text and "inferential" in text and "FWE" in text, text
        assert "z" in re.findall(r"\b[zp]\b", text) and "p" in re.findall(r"\b[zp]\b", text), text


def test_container_info_outside_an_image(monkeypatch):
    monkeypatch.delenv("ALE_APP_CONTAINER", raising=False)
    assert P.container_info() is None
    assert "Container" not in P.dataset_description("t", [{"path": "p", "sha256": "0"}])["GeneratedBy"][0]


def test_container_info_reports_the_baked_in_labels(monkeypatch):
    for name in ("ALE_APP_IMAGE", "APPTAINER_CONTAINER", "SINGULARITY_CONTAINER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALE_APP_CONTAINER", "docker")
    monkeypatch.setenv("ALE_APP_IMAGE_VERSION", "9.8.7")
    monkeypatch.setenv("ALE_APP_IMAGE_REVISION", "abc123")
    monkeypatch.setenv("ALE_APP_IMAGE_SOURCE", "https://example.org/ale-app")
    expected = {"Type": "docker", "Tag": "", "Version": "9.8.7", "Revision": "abc123",
                "Source": "https://example.org/ale-app"}
    assert P.container_info() == expected
    assert P.dataset_description("t", [{"path": "p", "sha256": "0"}])["GeneratedBy"][0]["Container"] == expected

    monkeypatch.setenv("APPTAINER_CONTAINER", "/scratch/ale-app.sif")
    assert P.container_info()["Tag"] == "/scratch/ale-app.sif"
    monkeypatch.setenv("ALE_APP_IMAGE", "ghcr.io/ale-app/ale-app@sha256:0123")
    assert P.container_info()["Tag"] == "ghcr.io/ale-app/ale-app@sha256:0123"
