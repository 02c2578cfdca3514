"""Provenance records: ``provenance.json`` and ``dataset_description.json``.

``provenance.json`` says how a folder was made: the command line, when, with which software
(ale-app's version and git revision, Python, every installed distribution, the lock file's
hash when the source tree has one), on which platform and container, with how many CPUs,
the seed of anything random, and the SHA-256 of the spec, every input and every output.
It is the only file with times and durations in it (:data:`VOLATILE_FIELDS`), so every
other file of a run is byte-identical on every re-run. It is written last: its presence
means the run completed.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from ale_app import CODE_URL, __version__
from ale_app.outputs.names import PROVENANCE
from ale_app.process.cpus import available_cpus

BIDS_VERSION = "1.10.0"
PROVENANCE_VERSION = 1
RUNTIME_DISTRIBUTIONS = (
    "ale-app", "nimare", "nilearn", "nibabel", "numpy", "scipy", "pandas", "matplotlib",
    "pydantic", "joblib", "PyYAML", "scikit-learn", "numba",
)
#: Top-level fields of ``provenance.json`` that change from one run to the next by design
#: (when and where the run happened, and how it was executed); everything else is a
#: function of the spec, the inputs and the software.
VOLATILE_FIELDS = ("Command", "CommandLine", "WorkingDirectory", "StartTime", "EndTime",
                   "DurationSeconds", "StepSeconds", "Execution", "Spec")


#: The variable ale-app's images set to the git commit they were built from.
IMAGE_REVISION_VARIABLE = "ALE_APP_IMAGE_REVISION"


def container_info() -> dict[str, Any] | None:
    """The ale-app image this process runs in, from the variables the image sets; else None.

    Only ale-app's own images set ``ALE_APP_CONTAINER`` (``docker`` or ``apptainer``) and the
    ``ALE_APP_IMAGE_VERSION``/``_REVISION``/``_SOURCE`` values of their labels; a run elsewhere
    (even inside some other container) records None rather than a guess.
    """
    kind = os.environ.get("ALE_APP_CONTAINER")
    if not kind:
        return None
    # The tag or digest the user ran (ALE_APP_IMAGE), else the .sif Apptainer reports.
    tag = next((os.environ[v] for v in ("ALE_APP_IMAGE", "APPTAINER_CONTAINER", "SINGULARITY_CONTAINER")
                if os.environ.get(v)), "")
    info = {"Type": kind, "Tag": tag}
    # The label values baked in when the image was built.
    for key in ("Version", "Revision", "Source"):
        value = os.environ.get(f"ALE_APP_IMAGE_{key.upper()}")
        if value:
            info[key] = value
    return info


def dataset_description(title: str, sources: list[dict[str, str]]) -> dict[str, Any]:
    """``dataset_description.json`` of a BIDS derivative.

    ``SourceDatasets`` names each input file as the spec gave it, with its SHA-256 (no
    absolute path: the file must be identical wherever the analysis is re-run).
    """
    generated: dict[str, Any] = {"Name": "ale-app", "Version": __version__, "CodeURL": CODE_URL}
    container = container_info()
    if container:
        generated["Container"] = container
    return {
        "Name": title or "ale-app descriptive ALE meta-analysis",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [generated],
        "SourceDatasets": [{"URL": source["path"], "Digest": {"SHA-256": source["sha256"]}} for source in sources],
    }


def software_versions() -> dict[str, str]:
    """Versions of Python and of the distributions that can change a result."""
    versions = {"python": platform.python_version()}
    for dist in RUNTIME_DISTRIBUTIONS:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def installed_distributions() -> dict[str, str]:
    """Every installed distribution and its version, sorted by name."""
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[name] = dist.version
    return dict(sorted(found.items(), key=lambda kv: kv[0].lower()))


def source_tree() -> Path | None:
    """The source checkout ale-app runs from (an editable install), else None."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "ale_app").is_dir() else None


def build_info() -> dict[str, Any]:
    """What ``setup.py`` recorded when this installed copy was built (``_build_info.json``:
    ``GitRevision`` and ``LockFiles``); empty for an editable install, which reads its checkout."""
    path = Path(__file__).resolve().parents[1] / "_build_info.json"
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def git_revision() -> dict[str, Any] | None:
    """The git commit ale-app was built from, and whether it had uncommitted changes.

    In ale-app's images, ``ALE_APP_IMAGE_REVISION`` (the ``REVISION`` build argument, also
    the image's ``org.opencontainers.image.revision`` label) wins, unless the build left it
    at its default ``unknown``. An editable install reads its checkout; an installed copy
    (``pip install .``) what its build recorded; None when neither knows.
    """
    env = os.environ.get(IMAGE_REVISION_VARIABLE, "").strip()
    if env and env != "unknown":
        return {"Commit": env, "Dirty": None}
    root = source_tree()
    if root is None:
        return build_info().get("GitRevision")
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"Commit": commit, "Dirty": bool(status.strip())}


def lock_file_digests() -> dict[str, str]:
    """SHA-256 of ``requirements*.lock`` in the source checkout, or, for an installed copy,
    of those its build recorded (``setup.py``)."""
    from ale_app.digests import sha256_bytes

    root = source_tree()
    if root is None:
        return dict(build_info().get("LockFiles") or {})
    return {p.name: sha256_bytes(p.read_bytes()) for p in sorted(root.glob("requirements*.lock"))}


def provenance_record(
    argv: list[str],
    started: datetime,
    spec_sha256: str,
    inputs: list[dict[str, str]],
    outputs: dict[str, str],
    n_jobs: int,
    backend: str,
    timings: dict[str, float],
    spec_folder: Path | None = None,
    output_dir: Path | None = None,
    random_seed: int | None = None,
) -> dict[str, Any]:
    """The content of ``provenance.json`` (written last, once every other file is in place).

    Parameters
    ----------
    argv : list of str
        The command line, program name first.
    started : datetime
        When the run started (UTC).
    spec_sha256 : str
        SHA-256 of the spec's text as read.
    inputs : list of dict
        One entry per input file: ``path`` as the spec gave it, ``resolved`` absolute path,
        ``sha256`` and ``format``.
    outputs : dict
        Output name -> SHA-256, for every file but ``provenance.json``.
    n_jobs, backend : int, str
        How the jackknife was executed.
    timings : dict
        Seconds per step.
    spec_folder : Path, optional
        The folder relative input paths were resolved against (``--verify`` uses it).
    output_dir : Path, optional
        The output folder; the spec folder is also recorded relative to it, so that
        ``--verify`` finds the inputs of an archive that was moved as a whole.
    random_seed : int, optional
        The one seed of every random draw of the run; None when no step draws any.
    """
    ended = datetime.now(timezone.utc)
    return {
        "ProvenanceVersion": PROVENANCE_VERSION,
        "Command": argv,
        "CommandLine": shlex.join(argv),
        "WorkingDirectory": os.getcwd(),
        "StartTime": started.isoformat(timespec="seconds"),
        "EndTime": ended.isoformat(timespec="seconds"),
        "DurationSeconds": round((ended - started).total_seconds(), 3),
        "StepSeconds": {k: round(v, 3) for k, v in timings.items()},
        "GeneratedBy": {"Name": "ale-app", "Version": __version__, "CodeURL": CODE_URL,
                        "GitRevision": git_revision()},
        "Software": software_versions(),
        "InstalledDistributions": installed_distributions(),
        "LockFiles": lock_file_digests(),
        "Platform": {
            "System": platform.system(),
            "Release": platform.release(),
            "Machine": platform.machine(),
            "Python": sys.version.split()[0],
            "PythonImplementation": platform.python_implementation(),
            "Libc": "-".join(platform.libc_ver()).strip("-") or None,
        },
        "Container": container_info(),
        "Execution": {"NJobs": n_jobs, "ParallelBackend": backend, "CPUsAvailable": available_cpus(),
                      "CPUCount": os.cpu_count()},
        "RandomSeed": random_seed,
        "Randomness": ("No step draws random numbers (ALE, clusters, jackknife and figures are "
                       "deterministic), so there is no seed to record." if random_seed is None else
                       "Every random draw of the run comes from one generator seeded with RandomSeed."),
        "Spec": {"Folder": str(spec_folder) if spec_folder is not None else None,
                 "FolderFromOutput": (os.path.relpath(Path(spec_folder).resolve(), Path(output_dir).resolve())
                                      if spec_folder is not None and output_dir is not None else None),
                 "SHA256": spec_sha256},
        "SpecSHA256": spec_sha256,
        "Inputs": {i["path"]: i["sha256"] for i in inputs},
        "InputFiles": [{"Path": i["path"], "Resolved": i.get("resolved"), "SHA256": i["sha256"],
                        "Format": i.get("format"), "Encoding": i.get("encoding")} for i in inputs],
        "Outputs": dict(sorted(outputs.items())),
    }


#: The file :func:`write_provenance` writes, last of a run.
FILE_NAME = PROVENANCE


def write_provenance(result, out) -> dict[str, str]:
    """Write ``provenance.json`` into the locked folder ``out`` (an
    :class:`~ale_app.outputs.folder.OutputFolder`), last, from the digests of every file
    written; return them.

    ``result`` is the run's :class:`~ale_app.result.ProjectResult`. With one group (shape
    ``single``) the record is version 1's. Otherwise each group's seconds per step are keyed
    ``<group>:<step>`` and its input format and space conversions are given per group; the
    one contrast of shape ``pair`` is ``Contrast``, the contrasts of a project ``Contrasts``
    (their steps' seconds keyed ``<label>:<step>``).
    """
    from ale_app.digests import sha256_bytes

    rec = result.record
    groups = result.groups
    outputs = dict(out.digests)
    timings = dict(result.timings)
    if result.shape != "single":
        for name, group in groups.items():
            timings.update({f"{name}:{k}": v for k, v in group.timings.items()})
    if result.shape == "project":
        for label, contrast in result.contrasts.items():
            timings.update({f"{label}:{k}": v for k, v in contrast.timings.items()})
    record = provenance_record(
        rec.argv, rec.started, sha256_bytes(rec.spec_text.encode("utf-8")),
        _input_files(groups.values(), once=result.shape == "project"), outputs, rec.n_jobs, rec.backend, timings,
        spec_folder=rec.spec_dir, output_dir=out.destination, random_seed=result.random_seed)
    spec = result.spec
    record["Mode"] = spec.mode
    if result.shape == "single":
        (part,) = groups.values()
        ev = part.evidence
        record["JackknifeMethod"] = spec.jackknife.method if spec.jackknife.enabled else None
        record["InputFormat"] = ev.source["format"]
        record["InputSpaceConversions"] = ev.conversions
        out.write_json(FILE_NAME, record)
        return outputs
    described = [_contrast_record(c) for c in result.contrasts.values()]
    if result.shape == "pair":
        record["Contrast"] = described[0]
    else:
        record["Contrasts"] = [{"Label": label, **d} for label, d in zip(result.contrasts, described)]
    record["InputFormat"] = {n: g.evidence.source["format"] for n, g in groups.items()}
    record["InputSpaceConversions"] = {n: g.evidence.conversions for n, g in groups.items()}
    out.write_json(FILE_NAME, record)
    return outputs


def _input_files(groups, once: bool) -> list[dict]:
    """Every group's input files in run order; with ``once``, a file several groups read is
    listed once (a version-2 run lists it per group, as it always has)."""
    files = [f for group in groups for f in group.evidence.input_files]
    if not once:
        return files
    seen: dict[tuple, dict] = {}
    for f in files:
        seen.setdefault((f["path"], f["sha256"]), f)
    return list(seen.values())


def _contrast_record(contrast) -> dict[str, Any]:
    """What provenance says of one contrast (a :class:`~ale_app.result.ContrastResult`)."""
    spec = contrast.spec
    described: dict[str, Any] = {"Groups": list(contrast.names), "Conjunction": spec.contrast.conjunction,
                                 "Method": spec.contrast.method}
    if contrast.balanced is not None:
        bal = contrast.balanced
        described["Balanced"] = {
            "Procedure": "NiMARE's BalancedALESubtraction(null_method='random-foci'), computed by ale-app's engine",
            "TargetN": bal.target_n, "Subsamples": bal.n_subsamples, "SubsamplesUsed": list(bal.n_subsamples_used),
            "DifferenceIterations": bal.difference_iterations, "NullIterations": bal.n_iterations,
            "MaskCoverage": bal.mask_coverage, "Seeds": {"FirstGroupAndDifferences": bal.seed,
                                                        "SecondGroup": bal.seed + 1}}
    return described
