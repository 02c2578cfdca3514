# ale-app as an OCI image (docker, podman, buildah; apptainer can run it too).
#
#   docker build -t ale-app:0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#   docker run --rm -u $(id -u):$(id -g) -v $PWD:/data ale-app:0.1.0 /data/spec.yaml /data/out
#
# Pin the base by digest for an archivable build, e.g.
#   --build-arg BASE_IMAGE=debian:bookworm-slim@sha256:<digest>
# The install steps live in docker/install.sh, shared with apptainer.def.
#
# Two stages: "build" makes the virtual environment (pip, CA certificates, the venv module);
# the final stage is the base with Debian's python3 and that environment copied in, with no
# pip, no package test suites and only what a run imports.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
# pip keeps no cache in the image unless a build mounts one and names it here (CI does).
ARG ALE_APP_PIP_CACHE=
# Debian packages first (their own layer, reused while install.sh is unchanged).
COPY docker/install.sh /opt/ale-app-src/docker/install.sh
RUN sh /opt/ale-app-src/docker/install.sh system
# The locked dependency set (with hashes), then the project itself with --no-deps.
COPY requirements.lock /opt/ale-app-src/
RUN sh /opt/ale-app-src/docker/install.sh deps /opt/ale-app-src
COPY pyproject.toml setup.py README.md /opt/ale-app-src/
COPY ale_app /opt/ale-app-src/ale_app
RUN sh /opt/ale-app-src/docker/install.sh project /opt/ale-app-src \
    && sh /opt/ale-app-src/docker/install.sh slim

FROM ${BASE_IMAGE}

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/ale-app/ale-app

LABEL org.opencontainers.image.title="ale-app" \
      org.opencontainers.image.description="ALE meta-analysis (NiMARE): mode descriptive (default; raw ALE map, display-only threshold, leave-one-out jackknife, no z or p) or inferential (cluster-level FWE from a Monte Carlo null equal to NiMARE draw for draw; z, p and FWE maps; refused below inference.min_experiments); BIDS-derivatives outputs" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.url="${SOURCE}" \
      org.opencontainers.image.licenses="MIT"

COPY docker/install.sh /tmp/install.sh
RUN sh /tmp/install.sh runtime-system \
    && rm /tmp/install.sh \
    && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
               --shell /usr/sbin/nologin ale \
    && mkdir -p /data
COPY --from=build /opt/ale-app /opt/ale-app

# Everything written at run time goes to /tmp (or a folder the user mounts there); the
# image itself can be read-only and the user need not exist or have a home.
ENV PATH=/opt/ale-app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    MPLCONFIGDIR=/tmp/ale-app/matplotlib \
    NUMBA_CACHE_DIR=/tmp/ale-app/numba \
    XDG_CACHE_HOME=/tmp/ale-app/cache \
    NIMARE_DATA=/tmp/ale-app/nimare \
    NILEARN_DATA=/tmp/ale-app/nilearn \
    JOBLIB_TEMP_FOLDER=/tmp \
    PYTHONNOUSERSITE=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OMP_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    ALE_APP_CONTAINER=docker \
    ALE_APP_IMAGE_VERSION=${VERSION} \
    ALE_APP_IMAGE_REVISION=${REVISION} \
    ALE_APP_IMAGE_SOURCE=${SOURCE}

USER ale
WORKDIR /data
ENTRYPOINT ["ale-app"]
CMD ["--help"]
