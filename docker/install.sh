#!/bin/sh
# Install ale-app into a Debian image. Shared by the Dockerfile and apptainer.def, so
# both images get the same system packages, the same locked dependency set (with hashes)
# and the same layout.
#
#   install.sh system          Debian packages: python3, python3-venv, ca-certificates
#   install.sh deps SRC        venv in $ALE_APP_VENV; SRC/requirements.lock with --require-hashes
#   install.sh project SRC     SRC itself with --no-deps; bytecode compiled
#   install.sh all SRC         all three, in that order
# (The Dockerfile runs them as separate layers, so a code change reuses the dependency layer.)
#
# SRC is a folder holding pyproject.toml, README.md, requirements.lock and ale_app/.
set -eu

ALE_APP_VENV="${ALE_APP_VENV:-/opt/ale-app}"

install_system() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv ca-certificates
    apt-get clean
    rm -rf /var/lib/apt/lists/*
}

pip_setup() {
    pip="$ALE_APP_VENV/bin/pip"
    # A pip cache only when a build mounts one (ALE_APP_PIP_CACHE); never left in the image.
    if [ -n "${ALE_APP_PIP_CACHE:-}" ]; then
        export PIP_CACHE_DIR="$ALE_APP_PIP_CACHE"
    else
        export PIP_NO_CACHE_DIR=1
    fi
}

install_deps() {
    src="$1"
    python3 -m venv "$ALE_APP_VENV"
    pip_setup
    # No pip self-upgrade: the venv's pip comes from Debian's python3-venv and the lock
    # file alone decides what is installed.
    "$pip" install --no-input --disable-pip-version-check --require-hashes -r "$src/requirements.lock"
}

install_project() {
    src="$1"
    pip_setup
    "$pip" install --no-input --disable-pip-version-check --no-deps "$src"
    # Compile bytecode now: the image is read-only at run time and PYTHONDONTWRITEBYTECODE=1.
    "$ALE_APP_VENV/bin/python" -m compileall -q -j 0 "$ALE_APP_VENV/lib"
    "$ALE_APP_VENV/bin/ale-app" --version
}

case "${1:-}" in
    system) install_system ;;
    deps) install_deps "${2:?install.sh deps SRC}" ;;
    project) install_project "${2:?install.sh project SRC}" ;;
    all) install_system; install_deps "${2:?install.sh all SRC}"; install_project "$2" ;;
    *) echo "usage: install.sh system | deps SRC | project SRC | all SRC" >&2; exit 64 ;;
esac
