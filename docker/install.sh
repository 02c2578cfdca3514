#!/bin/sh
# Install ale-app into a Debian image. Shared by the Dockerfile and apptainer.def, so
# both images get the same system packages, the same locked dependency set (with hashes)
# and the same layout.
#
#   install.sh system          Debian packages to build with: python3, python3-venv, ca-certificates
#   install.sh runtime-system  Debian packages to run with: python3 only (the final stage)
#   install.sh deps SRC        venv in $ALE_APP_VENV; SRC/requirements.lock with --require-hashes
#   install.sh project SRC     SRC itself with --no-deps
#   install.sh slim            what a run never needs out of the venv (see below), pip too;
#                              then the bytecode is compiled
#   install.sh all SRC         system, deps, project, slim, then the build-only Debian
#                              packages are removed (Apptainer's single stage)
# (The Dockerfile runs them as separate layers of a build stage, so a code change reuses
# the dependency layer, and copies the venv into a final stage that has only python3.)
#
# SRC is a folder holding pyproject.toml, README.md, requirements.lock and ale_app/.
set -eu

ALE_APP_VENV="${ALE_APP_VENV:-/opt/ale-app}"

# Locked distributions that no code path of ale-app imports, left out of the images (the
# tests environment keeps them). Checked by running the examples (pain-qualitative, the
# 906-analysis parquet example, a refit jackknife) and NiMARE's ALE + Monte Carlo FWE
# (inferential mode) and listing sys.modules at the end; .ci/container-test.sh runs the
# oracle tests inside the image. statsmodels, patsy and formulaic (+ interface-meta, wrapt)
# serve NiMARE's CBMR and pymare's likelihood estimators; cognitiveatlas and
# neurostore-sdk (+ lazy-imports) NiMARE's online downloads.
UNUSED_AT_RUN_TIME="statsmodels patsy formulaic interface-meta wrapt cognitiveatlas neurostore-sdk lazy-imports"

install_system() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv ca-certificates
    apt-get clean
    rm -rf /var/lib/apt/lists/*
}

install_runtime_system() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends python3
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log
}

remove_build_system() {
    # What install_system added only to build: the venv module, pip's wheels, CA certificates.
    export DEBIAN_FRONTEND=noninteractive
    apt-get purge -y --auto-remove python3-venv ca-certificates
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log
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
}

slim() {
    pip_setup
    # shellcheck disable=SC2086
    "$pip" uninstall --no-input --disable-pip-version-check -y $UNUSED_AT_RUN_TIME
    # The packages' own test suites (ale-app's tests run from the source tree, not from here).
    find "$ALE_APP_VENV/lib" -depth -type d \( -name tests -o -name test \) -path '*/site-packages/*' \
        -exec rm -rf {} +
    # No pip at run time: the image installs nothing once built.
    "$pip" uninstall --no-input --disable-pip-version-check -y pip
    rm -f "$ALE_APP_VENV"/bin/pip "$ALE_APP_VENV"/bin/pip3*
    # Compile bytecode now: the image is read-only at run time and PYTHONDONTWRITEBYTECODE=1.
    "$ALE_APP_VENV/bin/python" -m compileall -q -j 0 "$ALE_APP_VENV/lib"
    "$ALE_APP_VENV/bin/ale-app" --version
}

case "${1:-}" in
    system) install_system ;;
    runtime-system) install_runtime_system ;;
    deps) install_deps "${2:?install.sh deps SRC}" ;;
    project) install_project "${2:?install.sh project SRC}" ;;
    slim) slim ;;
    all) install_system; install_deps "${2:?install.sh all SRC}"; install_project "$2"; slim; remove_build_system ;;
    *) echo "usage: install.sh system | runtime-system | deps SRC | project SRC | slim | all SRC" >&2; exit 64 ;;
esac
