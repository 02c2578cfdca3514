#!/usr/bin/env bash
# Regenerate requirements.lock (runtime) and requirements-test.lock (runtime + test tools)
# from pyproject.toml with uv, hashes included, for CPython 3.11 on Linux x86_64/aarch64
# (the images' Python, Debian bookworm's). The test lock is constrained by the runtime lock,
# so both environments hold the same versions of every runtime package.
#
# Usage: bash .ci/lock.sh [extra uv pip compile options, e.g. --upgrade-package numpy]
set -euo pipefail
cd "$(dirname "$0")/.."

compile() {  # compile OUTPUT INSTALL_COMMAND UV_OPTIONS...
    local out="$1" install="$2"; shift 2
    # uv keeps the versions already pinned in OUTPUT unless pyproject.toml asks otherwise.
    uv pip compile pyproject.toml --python-version 3.11 --generate-hashes --no-header "$@" -o "$out"
    cp "$out" "$out.tmp"
    {
        echo "# ale-app's locked dependency set ($out), generated from pyproject.toml by .ci/lock.sh:"
        echo "#   uv pip compile pyproject.toml --python-version 3.11 --generate-hashes --no-header${*:+ $*} -o $out"
        echo "# Install (Python 3.11, in a fresh virtual environment, from a clone of the repository):"
        echo "#   $install"
        echo "#"
        cat "$out.tmp"
    } >"$out"
    rm -f "$out.tmp"
}

compile requirements.lock \
    "pip install --require-hashes -r requirements.lock && pip install --no-deps ." \
    "$@"
compile requirements-test.lock \
    "pip install --require-hashes -r requirements-test.lock && pip install --no-deps ." \
    --extra test -c requirements.lock "${@}"
