"""Every output name, sidecar and provenance record; atomic, deterministic writes.

Each file is written to a temporary name in its folder and renamed into place, so it
appears complete or not at all. NIfTI files are float32 (labels int16), gzipped with no
timestamp or file name in the header; figures carry no date or software stamp.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import platform
import sys
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from ale_app import CODE_URL, __version__
from ale_app.errors import OutputError

SPACE = "space-MNI152NLin6Asym_res-2"
STATMAP = f"{SPACE}_stat-ale_statmap.nii.gz"
CLUSTER_MAP = f"{SPACE}_desc-clusters_dseg.nii.gz"
CLUSTER_TABLE = "desc-clusters_table.tsv"
JACKKNIFE_TABLE = "desc-jackknife_table.tsv"
COORDINATES = "coordinates.tsv"
FIG_COORDINATES = "figures/desc-coordinates_glassbrain"
FIG_OVERLAY = "figures/stat-ale_desc-overlay_glassbrain"
FIG_PEAK = "figures/stat-ale_desc-peak_orthoview"
FIG_JACKKNIFE = "figures/desc-jackknife_barplot"
DATASET_DESCRIPTION = "dataset_description.json"
SPEC_JSON = "spec.json"
PROVENANCE = "provenance.json"
REPORT = "report.html"
CITATION = "CITATION.md"

BIDS_VERSION = "1.10.0"
RUNTIME_DISTRIBUTIONS = (
    "ale-app", "nimare", "nilearn", "nibabel", "numpy", "scipy", "pandas", "matplotlib",
    "pydantic", "joblib", "PyYAML", "scikit-learn", "numba",
)


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sidecar_name(name: str) -> str:
    """The JSON sidecar name of data file ``name``."""
    for ext in (".nii.gz", ".tsv"):
        if name.endswith(ext):
            return name[: -len(ext)] + ".json"
    raise ValueError(name)


class OutputFolder:
    """An output folder that records the digest of every file it writes.

    Parameters
    ----------
    root : Path
        The derivatives folder; it must exist.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.digests: dict[str, str] = {}

    def write_bytes(self, name: str, data: bytes) -> str:
        """Write ``data`` to ``name`` atomically; return its SHA-256."""
        target = self.root / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise OutputError(
                f"Cannot write {target}: {exc.strerror or exc}.",
                hint="Check that the output folder is writable and the disk is not full.",
            ) from None
        digest = sha256_bytes(data)
        self.digests[name] = digest
        return digest

    def write_json(self, name: str, obj: Any) -> str:
        """Write ``obj`` as indented UTF-8 JSON."""
        text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        return self.write_bytes(name, text.encode("utf-8"))

    def write_text(self, name: str, text: str) -> str:
        """Write UTF-8 text."""
        return self.write_bytes(name, text.encode("utf-8"))

    def write_tsv(self, name: str, table: pd.DataFrame) -> str:
        """Write a table as TSV, ``n/a`` for missing values, full float precision."""
        buf = io.StringIO()
        table.to_csv(buf, sep="\t", index=False, na_rep="n/a", lineterminator="\n", float_format="%.9g")
        return self.write_text(name, buf.getvalue())

    def write_nifti(self, name: str, img) -> str:
        """Write a NIfTI image, gzipped deterministically (no mtime, no file name)."""
        raw = img.to_bytes()
        data = gzip.compress(raw, compresslevel=6, mtime=0)
        return self.write_bytes(name, data)

    def write_figure(self, stem: str, fig, formats: list[str], dpi: int) -> dict[str, str]:
        """Save a matplotlib figure in each format with no date or software stamp; close it."""
        import matplotlib
        import matplotlib.pyplot as plt

        out = {}
        try:
            for fmt in formats:
                buf = io.BytesIO()
                meta = {"Date": None} if fmt == "svg" else {"Software": None}
                with matplotlib.rc_context({"svg.hashsalt": "ale-app", "svg.fonttype": "path"}):
                    fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta, bbox_inches="tight",
                                facecolor="white")
                out[fmt] = self.write_bytes(f"{stem}.{fmt}", buf.getvalue())
        finally:
            plt.close(fig)
        return out

    def write_sidecar(self, name: str, description: str, sources: list[str], parameters: dict[str, Any],
                      **extra: Any) -> str:
        """Write the JSON sidecar of data file ``name`` (which must be written already)."""
        sidecar = {
            "Description": description,
            "Sources": sources,
            "Parameters": parameters,
            **extra,
            "Digest": {"SHA-256": self.digests[name]},
            "GeneratedBy": {"Name": "ale-app", "Version": __version__},
        }
        return self.write_json(sidecar_name(name), sidecar)


# --------------------------------------------------------------------------- output folder


def prepare_output_dir(path: Path, overwrite: bool) -> Path:
    """Create the output folder, or check that an existing one may be written.

    An empty folder is used as it is. A folder holding an earlier, finished ale-app run
    (its ``provenance.json`` written) is refused unless ``overwrite``; an unfinished one (an
    interrupted run) is completed. A folder holding anything else is refused.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"Cannot create the output folder {str(path)!r}: {exc.strerror or exc}.",
            hint="Choose a folder you can write to.",
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(
            f"The output folder {str(path)!r} is not writable.",
            hint="Choose a folder you can write to.",
        )
    entries = [p.name for p in path.iterdir()]
    if not entries:
        return path
    if not _is_ale_app_output(path):
        raise OutputError(
            f"The output folder {str(path)!r} is not empty and does not hold an ale-app run.",
            hint="Choose an empty or new folder; ale-app never mixes its outputs with other files.",
        )
    if not overwrite and (path / PROVENANCE).exists():
        raise OutputError(
            f"The output folder {str(path)!r} already holds an ale-app run.",
            hint="Pass --overwrite to replace it, or choose another folder.",
        )
    return path


def _is_ale_app_output(path: Path) -> bool:
    try:
        desc = json.loads((path / DATASET_DESCRIPTION).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    generated = desc.get("GeneratedBy") or []
    return any(isinstance(g, dict) and g.get("Name") == "ale-app" for g in generated)


# --------------------------------------------------------------------------- records


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


def dataset_description(title: str, source: dict[str, str]) -> dict[str, Any]:
    """``dataset_description.json`` of a BIDS derivative."""
    generated = {"Name": "ale-app", "Version": __version__, "CodeURL": CODE_URL}
    container = container_info()
    if container:
        generated["Container"] = container
    return {
        "Name": title or "ale-app descriptive ALE meta-analysis",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [generated],
        "SourceDatasets": [{"URL": source["path"], "Digest": {"SHA-256": source["sha256"]}}],
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


def provenance_record(
    argv: list[str],
    started: datetime,
    spec_sha256: str,
    inputs: dict[str, str],
    outputs: dict[str, str],
    n_jobs: int,
    backend: str,
    timings: dict[str, float],
) -> dict[str, Any]:
    """The content of ``provenance.json`` (written last, once every other file is in place)."""
    ended = datetime.now(timezone.utc)
    return {
        "Command": argv,
        "StartTime": started.isoformat(timespec="seconds"),
        "EndTime": ended.isoformat(timespec="seconds"),
        "DurationSeconds": round((ended - started).total_seconds(), 3),
        "StepSeconds": {k: round(v, 3) for k, v in timings.items()},
        "Software": software_versions(),
        "InstalledDistributions": installed_distributions(),
        "Platform": {
            "System": platform.system(),
            "Release": platform.release(),
            "Machine": platform.machine(),
            "Python": sys.version.split()[0],
        },
        "Container": container_info(),
        "Execution": {"NJobs": n_jobs, "ParallelBackend": backend},
        "RandomSeed": None,
        "SpecSHA256": spec_sha256,
        "Inputs": inputs,
        "Outputs": dict(sorted(outputs.items())),
    }
