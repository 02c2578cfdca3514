#!/usr/bin/env bash
# CI container test (see docs/running.md, "Container images", and docs/development.md, "How CI checks the images"):
#   1. build the Dockerfile with buildah (chroot isolation) on a Debian bookworm base made
#      with debootstrap, no image registry needed;
#   2. run the image's ENTRYPOINT on the examples as UID 4242 (no passwd entry, no writable
#      home), with no network (unshare -n), the specs mounted read-only and /tmp a tmpfs:
#      example:pain-qualitative (descriptive mode) and example:pain-inferential (inferential
#      mode: 21 analyses, 10,000 Monte Carlo iterations, --n-jobs 2), the inferential run
#      checked to load the numba kernels precompiled at build time and compile none;
#   3. check their NIfTI and TSV outputs are byte-identical to the same runs on the host;
#   4. run the oracle tests (ale-app against NiMARE) inside the image, with pytest mounted
#      from the host, so that what the image leaves out is shown never to be needed;
#   5. execute apptainer.def's %files and %post in a fresh container of the same base, then
#      its %test and %runscript (as UID 4242, no network; %runscript on both examples), and
#      compare those outputs too.
# Prints the image's size and fails when it exceeds ALE_APP_IMAGE_MAX_MB (default 900).
# Fails on any build, run or comparison failure. Skips, saying why, only where buildah
# cannot be installed, and never in CI (CI=true): there that is a failure. Caches (base rootfs tarball, base image, pip downloads, build layers)
# live in $ALE_APP_CI_CACHE (default /var/cache/ale-app-ci).
#
# Usage: .ci/container-test.sh [HOST_VENV]   (default: .venv, made by .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
HOST_VENV="$(cd "${1:-.venv}" && pwd)"
CACHE="${ALE_APP_CI_CACHE:-/var/cache/ale-app-ci}"
BASE="localhost/ale-app-ci-base:bookworm-slim"
IMAGE="localhost/ale-app:ci"
UIDGID="4242:4242"
MAX_MB="${ALE_APP_IMAGE_MAX_MB:-900}"
T0=$SECONDS

log() { echo "[container-test +$((SECONDS - T0))s] $*"; }
fail() { log "FAILED: $*"; exit 1; }

# retry_start CMD...: run CMD (a buildah run), and run it again (at most 3 times in all) when
# buildah itself failed to start the container because the kernel refused to seal its memfd
# copy of the runtime ("sealing memfd copy: Device or resource busy", EBUSY from
# fcntl(F_ADD_SEALS), a transient kernel condition seen once here). Such a failure happens
# before anything runs in the container, so a retry repeats nothing. CMD's stderr is passed
# on after it ends; its exit status is CMD's.
retry_start() {
    local err code attempt
    err="$(mktemp)"
    for attempt in 1 2 3; do
        "$@" 2>"$err"
        code=$?
        if [ "$code" -ne 0 ] && grep -q "sealing memfd copy" "$err" && [ "$attempt" -lt 3 ]; then
            log "buildah could not start the container (sealing memfd copy: EBUSY), attempt $attempt; retrying" >&2
            sleep 2
            continue
        fi
        break
    done
    cat "$err" >&2
    rm -f "$err"
    return "$code"
}

# --- tools --------------------------------------------------------------------------------
if ! command -v buildah >/dev/null || ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null; then
    log "installing buildah, podman and debootstrap with apt-get"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah podman debootstrap; } \
        >/tmp/ale-app-container-test-apt.log 2>&1; then
        tail -n 5 /tmp/ale-app-container-test-apt.log || true
        why="buildah cannot be installed on this machine (apt-get install buildah podman debootstrap failed, log above)"
        [ "${CI:-}" != "true" ] || fail "$why; CI must build and run the images (CI=true)"
        log "SKIPPED: $why"
        exit 0
    fi
fi
log "$(buildah --version); $(podman --version)"

mkdir -p "$CACHE/pip"
WORK="$(mktemp -d /tmp/ale-app-container-test.XXXXXX)"
CONTAINERS=()
cleanup() {
    for c in "${CONTAINERS[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
# pip inside the build trusts this machine's CA bundle through mounts that stay out of the image.
printf '[global]\ncert = /run/host-ca.crt\n' >"$WORK/pip.conf"
BUILD_MOUNTS=(-v "$WORK/pip.conf:/etc/pip.conf:ro" -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro
              -v "$CACHE/pip:/var/cache/ale-app-pip")

# --- base image: debootstrap bookworm minbase from the machine's Debian mirror, made slim as
# the debian:bookworm-slim image is (no docs, man pages or translations, now or on apt-get
# install), so that the image size measured here is the size users get ----------------------
if ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
    if [ ! -s "$CACHE/bookworm-minbase.tar.gz" ]; then
        mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
        mirror="${mirror:-http://deb.debian.org/debian}"
        log "debootstrap --variant=minbase bookworm from $mirror"
        rm -rf "$CACHE/rootfs.tmp"
        debootstrap --variant=minbase bookworm "$CACHE/rootfs.tmp" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
            || { tail -n 20 "$WORK/debootstrap.log"; fail "debootstrap"; }
        rm -rf "$CACHE"/rootfs.tmp/var/cache/apt/archives/*.deb "$CACHE"/rootfs.tmp/var/lib/apt/lists/*
        tar --numeric-owner -C "$CACHE/rootfs.tmp" -c . | gzip -1 >"$CACHE/bookworm-minbase.tar.gz.tmp"
        mv "$CACHE/bookworm-minbase.tar.gz.tmp" "$CACHE/bookworm-minbase.tar.gz"
        rm -rf "$CACHE/rootfs.tmp"
    fi
    log "podman import $CACHE/bookworm-minbase.tar.gz, made slim as debian:bookworm-slim -> $BASE"
    podman import --quiet "$CACHE/bookworm-minbase.tar.gz" "$BASE-full" >/dev/null
    b="$(buildah from --quiet --pull=never "containers-storage:$BASE-full")"
    buildah run --isolation chroot "$b" -- /bin/sh -ec '
        printf "%s\n" "path-exclude /usr/share/doc/*" "path-include /usr/share/doc/*/copyright" \
            "path-exclude /usr/share/man/*" "path-exclude /usr/share/groff/*" "path-exclude /usr/share/info/*" \
            "path-exclude /usr/share/lintian/*" "path-exclude /usr/share/linda/*" "path-exclude /usr/share/locale/*" \
            >/etc/dpkg/dpkg.cfg.d/docker-slim
        find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
        find /usr/share/doc -mindepth 1 -type d -empty -delete
        rm -rf /usr/share/man/* /usr/share/groff/* /usr/share/info/* /usr/share/lintian/* /usr/share/locale/*'
    buildah commit --quiet --squash "$b" "$BASE" >/dev/null
    buildah rm "$b" >/dev/null
    buildah rmi "$BASE-full" >/dev/null 2>&1 || true
else
    log "base image $BASE (cached)"
fi

# --- 1. build the Dockerfile ---------------------------------------------------------------
REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
log "build: buildah bud --isolation chroot --layers --build-arg BASE_IMAGE=$BASE --build-arg REVISION=$REVISION -t $IMAGE ."
t=$SECONDS
if ! buildah bud --isolation chroot --layers "${BUILD_MOUNTS[@]}" \
        --build-arg ALE_APP_PIP_CACHE=/var/cache/ale-app-pip --build-arg BASE_IMAGE="$BASE" \
        --build-arg REVISION="$REVISION" -t "$IMAGE" . >"$WORK/build.log" 2>&1; then
    tail -n 60 "$WORK/build.log"
    fail "buildah bud (Dockerfile)"
fi
grep -E '^(STEP [0-9]+/[0-9]+: (FROM|RUN|COPY|ENTRYPOINT|USER)|--> Using cache|COMMIT|Successfully tagged|ale-app [0-9]|compiled the numba kernels)' \
    "$WORK/build.log" | cut -c1-150 | sed 's/^/[build] /'
log "build: done in $((SECONDS - t)) s"
buildah rmi --prune >/dev/null 2>&1 || true  # earlier builds' untagged images; current layers stay
size="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
log "image: $IMAGE $(buildah images --noheading --format '{{.ID}}' "$IMAGE")"
log "image size: $((size / 1000000)) MB ($size bytes; budget $MAX_MB MB, checked at the end)"
inspect() { buildah inspect --type image "$IMAGE" | "$HOST_VENV/bin/python" -c "import json, sys; c = json.load(sys.stdin)['OCIv1']['config']; $1"; }
log "image labels: $(inspect 'print(json.dumps(c.get("Labels"), sort_keys=True))')"
log "image user: $(inspect 'print(c.get("User"))'); entrypoint: $(inspect 'print(json.dumps(c["Entrypoint"]))')"
mapfile -t ENTRYPOINT < <(inspect 'print("\n".join(c["Entrypoint"]))')
[ "${#ENTRYPOINT[@]}" -gt 0 ] || fail "the image has no ENTRYPOINT"

# --- inputs and the host run -----------------------------------------------------------------
mkdir -p "$WORK/in" "$WORK/out" "$WORK/host"
cp ale_app/examples/pain-qualitative.yaml "$WORK/in/spec.yaml"  # = example:pain-qualitative
cp ale_app/examples/pain-inferential.yaml "$WORK/in/inferential.yaml"  # = example:pain-inferential
chmod -R a+rX "$WORK/in"
chown 4242:4242 "$WORK/out"
log "host run: $HOST_VENV/bin/ale-app $WORK/in/spec.yaml $WORK/host/deriv"
t=$SECONDS
"$HOST_VENV/bin/ale-app" "$WORK/in/spec.yaml" "$WORK/host/deriv" --quiet || fail "host run"
log "host run: done in $((SECONDS - t)) s"
# The inferential example: the files only that mode writes must be there, or the comparisons
# below would check a descriptive run twice.
INFERENTIAL_ONLY=(space-MNI152NLin6Asym_res-2_stat-z_statmap.nii.gz space-MNI152NLin6Asym_res-2_stat-p_statmap.nii.gz
                  space-MNI152NLin6Asym_res-2_stat-logp_desc-clusterFWE_statmap.nii.gz
                  space-MNI152NLin6Asym_res-2_stat-logp_desc-voxelFWE_statmap.nii.gz
                  space-MNI152NLin6Asym_res-2_desc-fweclusters_dseg.nii.gz desc-fweclusters_table.tsv
                  desc-fwejackknife_table.tsv desc-fwefocuscounts_table.tsv desc-mcnull_table.tsv)
log "host run (inferential): $HOST_VENV/bin/ale-app $WORK/in/inferential.yaml $WORK/host/inferential --n-jobs 2"
t=$SECONDS
"$HOST_VENV/bin/ale-app" "$WORK/in/inferential.yaml" "$WORK/host/inferential" --n-jobs 2 --quiet \
    || fail "host run (inferential)"
for f in "${INFERENTIAL_ONLY[@]}"; do
    [ -s "$WORK/host/inferential/$f" ] || fail "host run (inferential) wrote no $f"
done
log "host run (inferential): done in $((SECONDS - t)) s; $(($(wc -l <"$WORK/host/inferential/desc-fweclusters_table.tsv") - 1)) FWE cluster table rows"

# run_in CONTAINER ARGS...: as UID 4242, no network, /tmp a fresh tmpfs, spec read-only
# (extra buildah run options, such as --env, in the RUN_OPTS array).
RUN_OPTS=()
run_in() {
    local c="$1"; shift
    retry_start unshare -n buildah run --isolation chroot --user "$UIDGID" --mount type=tmpfs,destination=/tmp \
        -v "$WORK/in:/in:ro" -v "$WORK/out:/out" "${RUN_OPTS[@]}" "$c" -- "$@"
}

# check_no_compile NAME LOG: the run whose output (with NUMBA_DEBUG_CACHE=1) is LOG loaded
# the numba kernels precompiled into the image and compiled none: numba saved nothing to its
# cache, loaded from it, and ale-app logged no "Compiling the ... kernels" line.
check_no_compile() {
    local name="$1" logfile="$2" saved loaded
    saved="$(grep -c '\[cache\] data saved' "$logfile" || true)"
    loaded="$(grep -c '\[cache\] data loaded' "$logfile" || true)"
    grep -v '^\[cache\]' "$logfile" | sed "s/^/[$name] /"
    log "$name: numba loaded $loaded compiled functions from its cache and saved $saved"
    if [ "$saved" -ne 0 ] || [ "$loaded" -eq 0 ] || grep -q 'Compiling the' "$logfile"; then
        fail "$name compiled numba kernels (the image's precompiled ones were not used)"
    fi
}

# compare NAME DIR [HOST_DIR]: NIfTI and TSV files byte-identical to the host run in HOST_DIR
# (default: the descriptive example's, $WORK/host/deriv) (the check), others reported.
compare() {
    local name="$1" dir="$2" host="${3:-$WORK/host/deriv}" bad=0 n=0 f
    while IFS= read -r f; do
        n=$((n + 1))
        if [ ! -f "$dir/$f" ]; then log "$name: MISSING $f"; bad=1
        elif ! cmp -s "$host/$f" "$dir/$f"; then log "$name: DIFFERS $f"; bad=1; fi
    done < <(cd "$host" && find . -type f \( -name '*.nii.gz' -o -name '*.tsv' \) | sort)
    [ "$n" -ge 5 ] || fail "$name: the host run wrote only $n NIfTI/TSV files"
    [ "$bad" -eq 0 ] || fail "$name: NIfTI/TSV outputs differ from the host run"
    log "$name: all $n NIfTI and TSV files byte-identical to the host run: $(cd "$dir" && find . -type f \( -name '*.nii.gz' -o -name '*.tsv' \) | sort | xargs sha256sum | sha256sum | cut -c1-16) (sha256 of the sha256 list)"
    local same=0 other=0
    while IFS= read -r f; do
        if cmp -s "$host/$f" "$dir/$f"; then same=$((same + 1)); else other=$((other + 1)); log "$name: (info) differs from host: $f"; fi
    done < <(cd "$host" && find . -type f ! -name '*.nii.gz' ! -name '*.tsv' | sort)
    log "$name: (info) other files identical to the host run: $same, different: $other"
}

# --- 2. run the Docker image -----------------------------------------------------------------
c="$(buildah from --quiet --pull=never "containers-storage:$IMAGE")"
CONTAINERS+=("$c")
log "in-image checks (same flags as the run):"
run_in "$c" /bin/sh -c '
    echo "  id: $(id)"; echo "  passwd entry for $(id -u): $(getent passwd "$(id -u)" || echo none)"
    echo "  HOME=${HOME:-unset}; writable: $([ -w "${HOME:-/}" ] && echo yes || echo no)"
    echo "  network interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\n" " ")"
    echo "  write to /in: $(touch /in/x 2>/dev/null && echo allowed || echo refused)"
    echo "  write to /opt/ale-app: $(touch /opt/ale-app/x 2>/dev/null && echo allowed || echo refused)"
    python3 -c "
import socket
for address in ((\"deb.debian.org\", 80), (\"1.1.1.1\", 443)):
    try:
        socket.create_connection(address, timeout=5).close(); print(\"  network:\", address, \"REACHABLE\")
    except OSError as e:
        print(\"  network:\", address, \"unreachable (\" + type(e).__name__ + \": \" + str(e) + \")\")"' \
    | tee "$WORK/checks.txt"
grep -q "uid=4242" "$WORK/checks.txt" || fail "the container did not run as UID 4242"
grep -q "writable: no" "$WORK/checks.txt" || fail "the container has a writable home"
if grep -q "REACHABLE" "$WORK/checks.txt" || [ "$(grep -c "unreachable" "$WORK/checks.txt")" -ne 2 ]; then
    fail "the container reached the network"
fi
grep -q "write to /in: refused" "$WORK/checks.txt" || fail "the input mount is writable"
mnt="$(buildah mount "$c")"
touch "$WORK/marker"; sleep 1
log "in-image run: ${ENTRYPOINT[*]} /in/spec.yaml /out/deriv (UID 4242, no network, read-only /in, tmpfs /tmp)"
t=$SECONDS
set +e
run_in "$c" "${ENTRYPOINT[@]}" /in/spec.yaml /out/deriv 2>&1 | sed 's/^/[image] /'
code="${PIPESTATUS[0]}"
set -e
log "in-image run: exit $code in $((SECONDS - t)) s"
[ "$code" -eq 0 ] || fail "in-image run exited $code"
# The first run in a fresh container (empty /tmp, so an empty NUMBA_CACHE_DIR) must load the
# kernels precompiled at build time, not compile them.
log "in-image run (inferential): NUMBA_DEBUG_CACHE=1 ${ENTRYPOINT[*]} /in/inferential.yaml /out/inferential --n-jobs 2"
t=$SECONDS
set +e
RUN_OPTS=(--env NUMBA_DEBUG_CACHE=1)
run_in "$c" "${ENTRYPOINT[@]}" /in/inferential.yaml /out/inferential --n-jobs 2 >"$WORK/inferential.log" 2>&1
code=$?
RUN_OPTS=()
set -e
log "in-image run (inferential): exit $code in $((SECONDS - t)) s"
[ "$code" -eq 0 ] || { grep -v '^\[cache\]' "$WORK/inferential.log" | tail -n 20; fail "in-image run (inferential) exited $code"; }
check_no_compile image "$WORK/inferential.log"
written="$(cd "$mnt" && find . -xdev -newer "$WORK/marker" ! -path './tmp*' ! -path './in*' ! -path './out*' \
          ! -path './dev*' ! -path './proc*' ! -path './sys*' ! -path './run*' ! -path './etc/hosts' \
          ! -path './etc/resolv.conf' ! -path './etc/hostname' ! -path '.' -print | head -n 20)"
buildah umount "$c" >/dev/null
[ -z "$written" ] || { echo "$written"; fail "the run wrote into the image's file system (outside /tmp)"; }
log "in-image runs wrote nothing into the image outside /tmp and /out"
"$HOST_VENV/bin/python" -c "import json, sys; d = json.load(open(sys.argv[1])); print('[container-test] provenance Container:', json.dumps(d['Container']))" \
    "$WORK/out/deriv/provenance.json"
"$HOST_VENV/bin/python" - "$WORK/out/deriv/provenance.json" "$REVISION" <<'PY' || fail "provenance does not record the image's revision"
import json, sys
d = json.load(open(sys.argv[1]))
got = (d["GeneratedBy"]["GitRevision"] or {}).get("Commit")
print("[container-test] provenance GeneratedBy.GitRevision:", json.dumps(d["GeneratedBy"]["GitRevision"]))
sys.exit(0 if got == sys.argv[2] == d["Container"]["Revision"] else 1)
PY
compare "docker image" "$WORK/out/deriv"
"$HOST_VENV/bin/python" - "$WORK/out/inferential/provenance.json" <<'PY' || fail "the inferential run's provenance does not record its seed"
import json, sys
d = json.load(open(sys.argv[1]))
print("[container-test] inferential provenance RandomSeed:", json.dumps(d.get("RandomSeed")))
sys.exit(0 if d.get("RandomSeed") == 0 else 1)  # example:pain-inferential's inference.seed
PY
compare "docker image (inferential)" "$WORK/out/inferential" "$WORK/host/inferential"

# --- 3. the oracle tests inside the image: pytest (pure Python) comes from the host venv ----
mkdir -p "$WORK/testsrc" "$WORK/testsite"
cp -r tests "$WORK/testsrc/tests"
cp pyproject.toml "$WORK/testsrc/"
host_site="$("$HOST_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
for name in pytest _pytest pluggy iniconfig pygments py.py; do
    cp -r "$host_site/$name" "$WORK/testsite/" 2>/dev/null || true
done
chmod -R a+rX "$WORK/testsrc" "$WORK/testsite"
ORACLE_TESTS=(/src/tests/test_oracle.py /src/tests/test_jackknife.py -k "not dask")
log "in-image oracle tests: python -m pytest ${ORACLE_TESTS[*]} (UID 4242, no network)"
t=$SECONDS
set +e
retry_start unshare -n buildah run --isolation chroot --user "$UIDGID" --mount type=tmpfs,destination=/tmp \
    -v "$WORK/testsrc:/src:ro" -v "$WORK/testsite:/testsite:ro" --env PYTHONPATH=/testsite "$c" -- \
    /bin/sh -c 'cd /tmp && exec python -m pytest -p no:cacheprovider --rootdir /src -c /src/pyproject.toml -q "$@"' \
    sh "${ORACLE_TESTS[@]}" 2>&1 | tail -n 15 | sed 's/^/[image pytest] /'
code="${PIPESTATUS[0]}"
set -e
log "in-image oracle tests: exit $code in $((SECONDS - t)) s"
[ "$code" -eq 0 ] || fail "the oracle tests failed inside the image"

# --- 4. apptainer.def: %files + %post in the same base, then %test and %runscript ------------
"$HOST_VENV/bin/python" .ci/apptainer_sections.py apptainer.def "$WORK/apptainer" "REVISION=$REVISION" \
    || fail "apptainer.def could not be split into sections"
log "apptainer.def: From $(cat "$WORK/apptainer/from.txt") -> executed on $BASE"
a="$(buildah from --quiet --pull=never "containers-storage:$BASE")"
CONTAINERS+=("$a")
while read -r src dst; do
    [ -n "$src" ] || continue
    buildah copy "$a" "$src" "$dst" >/dev/null || fail "apptainer.def %files: $src $dst"
done <"$WORK/apptainer/files.txt"
log "apptainer.def %post"
t=$SECONDS
if ! buildah run --isolation chroot "${BUILD_MOUNTS[@]}" -v "$WORK/apptainer:/.ale-app-ci:ro" \
        --env ALE_APP_PIP_CACHE=/var/cache/ale-app-pip "$a" -- /bin/sh -e /.ale-app-ci/post.sh \
        >"$WORK/post.log" 2>&1; then
    tail -n 40 "$WORK/post.log"
    fail "apptainer.def %post"
fi
grep -E '^(Successfully installed|ale-app [0-9]|compiled the numba kernels)' "$WORK/post.log" | cut -c1-150 | sed 's/^/[%post] /'
log "apptainer.def %post: done in $((SECONDS - t)) s"
app_run() {  # as Apptainer runs a section: %environment sourced, then the script with arguments
    local section="$1"; shift
    retry_start unshare -n buildah run --isolation chroot --user "$UIDGID" --mount type=tmpfs,destination=/tmp \
        -v "$WORK/in:/in:ro" -v "$WORK/out:/out" -v "$WORK/apptainer:/.ale-app-ci:ro" "${RUN_OPTS[@]}" "$a" -- \
        /bin/sh -c '. /.ale-app-ci/environment.sh && exec /bin/sh "/.ale-app-ci/$0.sh" "$@"' "$section" "$@"
}
log "apptainer.def %test"
t=$SECONDS
set +e
app_run test 2>&1 | sed 's/^/[%test] /'
code="${PIPESTATUS[0]}"
set -e
log "apptainer.def %test: exit $code in $((SECONDS - t)) s"
[ "$code" -eq 0 ] || fail "apptainer.def %test exited $code"
log "apptainer.def %runscript /in/spec.yaml /out/apptainer --quiet"
t=$SECONDS
set +e
app_run runscript /in/spec.yaml /out/apptainer --quiet 2>&1 | sed 's/^/[%runscript] /'
code="${PIPESTATUS[0]}"
set -e
log "apptainer.def %runscript: exit $code in $((SECONDS - t)) s"
[ "$code" -eq 0 ] || fail "apptainer.def %runscript exited $code"
"$HOST_VENV/bin/python" -c "import json, sys; d = json.load(open(sys.argv[1])); print('[container-test] provenance Container:', json.dumps(d['Container']))" \
    "$WORK/out/apptainer/provenance.json"
compare "apptainer recipe" "$WORK/out/apptainer"
log "apptainer.def %runscript /in/inferential.yaml /out/apptainer-inferential --n-jobs 2 (NUMBA_DEBUG_CACHE=1)"
t=$SECONDS
set +e
RUN_OPTS=(--env NUMBA_DEBUG_CACHE=1)
app_run runscript /in/inferential.yaml /out/apptainer-inferential --n-jobs 2 >"$WORK/apptainer-inferential.log" 2>&1
code=$?
RUN_OPTS=()
set -e
log "apptainer.def %runscript (inferential): exit $code in $((SECONDS - t)) s"
[ "$code" -eq 0 ] || { grep -v '^\[cache\]' "$WORK/apptainer-inferential.log" | tail -n 20; fail "apptainer.def %runscript (inferential) exited $code"; }
check_no_compile %runscript "$WORK/apptainer-inferential.log"
compare "apptainer recipe (inferential)" "$WORK/out/apptainer-inferential" "$WORK/host/inferential"

log "image size: $((size / 1000000)) MB ($size bytes), base $BASE $(($(podman image inspect --format '{{.Size}}' "$BASE") / 1000000)) MB"
[ "$size" -le "$((MAX_MB * 1000000))" ] || fail "the image is $((size / 1000000)) MB, over the budget of $MAX_MB MB"
log "PASSED in $((SECONDS - T0)) s"
