"""``ale-app --verify OUTPUT_DIR``: check an archived analysis against its own records,
then re-run it and compare, file by file.

1. Every file ``provenance.json`` lists is checked against the SHA-256 recorded there
   (``spec.json`` included, so an edited spec is caught before it is re-run); a file of
   ale-app's that the record does not list is reported as extra.
2. The inputs are looked up where the recorded spec folder says and checked against their
   recorded SHA-256.
3. The analysis is re-run from ``spec.json`` into a scratch folder and every derivative is
   compared byte for byte with the archived one (``provenance.json`` apart: it records
   times and places). The scratch folder is removed at the end; the ones that killed
   ``--verify`` runs left behind are removed first (:mod:`ale_app.run.scratch`).

Any difference, in the records or in the re-run, is a failure: never "identical".
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ale_app.outputs.lock import lock_output_dir
from ale_app.outputs import registry as O
from ale_app.outputs.registry import known_output_names
from ale_app.outputs import swap as S
from ale_app.outputs import provenance as P
from ale_app.run import scratch as T
from ale_app.files import OUTPUT_LIMIT, RECORD_LIMIT, RefusedFile, read_regular_text, sha256_regular
from ale_app.errors import MissingInputError, OutputError


@dataclass
class Verification:
    """The outcome of a verification.

    Attributes
    ----------
    inputs : list of (str, str)
        Input path and ``"unchanged"``, ``"changed"`` or ``"missing"``.
    records : list of (str, str)
        Output name and ``"as recorded"``, ``"differs from its recorded digest"``,
        ``"missing"`` or ``"extra (not recorded)"``: the archive against ``provenance.json``.
    files : list of (str, str)
        Output name and ``"identical"``, ``"differs"``, ``"missing"`` (not in the archived
        folder) or ``"not produced"`` (the re-run did not write it).
    software : list of (str, str, str)
        Distribution, recorded version, current version, for every one that differs.
    rerun : bool
        Whether the analysis was re-run (not when an input is missing or changed).
    makers : dict of str to str
        For each file that is not identical, the step that made it, in words
        (``"jackknife step"``, ``"ALE subtraction step"``, ``"jackknife step of group a"``).
    """

    inputs: list[tuple[str, str]] = field(default_factory=list)
    records: list[tuple[str, str]] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)
    software: list[tuple[str, str, str]] = field(default_factory=list)
    rerun: bool = False
    makers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True only when every record holds, every input is unchanged and every file identical."""
        return (self.rerun and all(s == "unchanged" for _, s in self.inputs)
                and all(s == "as recorded" for _, s in self.records)
                and all(s == "identical" for _, s in self.files))

    @property
    def tampered(self) -> list[str]:
        """The archived files that do not match what ``provenance.json`` recorded."""
        return [f"{n} ({s})" for n, s in self.records if s != "as recorded"]


def _read_record(folder: Path, name: str) -> dict:
    """``provenance.json`` or ``spec.json`` of the archive, through the bounded opener.

    Without a readable record there is nothing to verify against: a missing record, one
    that is not a regular file (a pipe, a device, a link to one), one above the record
    limit and one that is not a JSON object are all exit 66, before anything else is read.
    """
    path = folder / name
    try:
        record = json.loads(read_regular_text(path, RECORD_LIMIT))
    except FileNotFoundError:
        raise MissingInputError(
            f"{str(folder)!r} has no {name}, so it does not hold a completed ale-app run.",
            hint="Give the OUTPUT_DIR of a finished ale-app run (provenance.json is written last).",
        ) from None
    except RefusedFile as exc:
        raise MissingInputError(f"Cannot read {path}: it is {exc.reason}, not the record ale-app writes.",
                                hint="The archived run is damaged; restore it from the archive.") from None
    except (OSError, ValueError) as exc:
        raise MissingInputError(f"Cannot read {path}: {exc}.",
                                hint="The archived run is damaged; restore it from the archive.") from None
    if not isinstance(record, dict):
        raise MissingInputError(f"Cannot read {path}: it is not a JSON object.",
                                hint="The archived run is damaged; restore it from the archive.")
    return record


def _refused_status(exc: RefusedFile) -> str:
    return exc.reason


def rebuild_spec(spec_record: dict):
    """The :class:`~ale_app.spec.models.AnalysisSpec` a run recorded in ``spec.json``."""
    from ale_app.spec.load import parse_spec

    data = json.loads(json.dumps(spec_record))
    for key in O.RECORDED_INPUT_KEYS:
        (data.get("input") or {}).pop(key, None)
    data.pop("recorded_inputs", None)  # a contrast run's record of each group's input
    text = json.dumps(data, indent=2)
    return parse_spec(text, "spec.json"), text


def _spec_folder(spec_record: dict, output_dir: Path, paths: list[str]) -> Path:
    """The folder relative inputs are read from: the recorded one, else the one at the same
    place relative to OUTPUT_DIR (an archive moved as a whole), whichever has every input."""
    from ale_app.inputs.paths import resolve_input_path

    candidates = []
    if spec_record.get("Folder"):
        candidates.append(Path(spec_record["Folder"]))
    if spec_record.get("FolderFromOutput"):
        candidates.append(output_dir / spec_record["FolderFromOutput"])
    for folder in candidates:
        try:
            for path in paths:
                resolve_input_path(path, folder)
        except MissingInputError:
            continue
        return folder
    return candidates[0] if candidates else output_dir


def check_records(output_dir: Path, provenance: dict, project=None) -> list[tuple[str, str]]:
    """Each archived file against the SHA-256 ``provenance.json`` recorded for it, and the
    ale-app files in the folder that the record does not list."""
    recorded = provenance.get("Outputs")
    if not isinstance(recorded, dict):
        return [(O.PROVENANCE, "has no Outputs record")]
    found = []
    for name, digest in sorted(recorded.items()):
        path = output_dir / name
        if path.is_symlink() or not os.path.lexists(path):
            found.append((name, "missing"))
            continue
        try:
            same = sha256_regular(path, OUTPUT_LIMIT) == digest
        except RefusedFile as exc:
            found.append((name, _refused_status(exc)))
            continue
        except OSError as exc:
            found.append((name, f"unreadable ({exc.strerror or exc})"))
            continue
        found.append((name, "as recorded" if same else "differs from its recorded digest"))
    for name in sorted(known_output_names(project) - set(recorded) - {O.PROVENANCE}):
        if (output_dir / name).exists():
            found.append((name, "extra (not recorded)"))
    return found


def verify(output_dir: Path, n_jobs: int, backend: str, argv: list[str],
           on_step=None) -> Verification:
    """Check the recorded inputs, re-run the analysis in a scratch folder and compare."""
    from ale_app.inputs.paths import resolve_input_path, sha256_path
    from ale_app.run.pipeline import run
    from ale_app.run.steps import made_by
    from ale_app.run.workflow import RunOptions
    from ale_app.spec.project import to_project

    output_dir = Path(output_dir)
    T.remove_stale_scratch()  # those of a --verify killed (SIGKILL) before it could remove its own
    if S.pending_swap(output_dir):
        # A killed --overwrite: completed (or undone) first, as any run on the folder would.
        with lock_output_dir(output_dir, O.DATASET_DESCRIPTION):
            S.recover_output_dir(output_dir)
    provenance = _read_record(output_dir, O.PROVENANCE)
    spec, spec_text = rebuild_spec(_read_record(output_dir, O.SPEC_JSON))
    project = to_project(spec)
    result = Verification()
    result.records = check_records(output_dir, provenance, project)

    recorded = provenance.get("Software", {})
    current = P.software_versions()
    for name in sorted(set(recorded) | set(current), key=str.lower):
        if recorded.get(name) != current.get(name):
            result.software.append((name, recorded.get(name) or "-", current.get(name) or "-"))

    files = provenance.get("InputFiles") or [{"Path": p, "SHA256": h} for p, h in provenance["Inputs"].items()]
    spec_dir = _spec_folder(provenance.get("Spec") or {}, output_dir, [e["Path"] for e in files])
    for entry in files:
        try:
            path = resolve_input_path(entry["Path"], spec_dir)
        except MissingInputError:
            result.inputs.append((entry["Path"], "missing"))
            continue
        try:
            same = sha256_path(path) == entry["SHA256"]
        except RefusedFile as exc:
            result.inputs.append((entry["Path"], f"changed: {_refused_status(exc)}"))
            continue
        except OSError as exc:
            result.inputs.append((entry["Path"], f"unreadable ({exc.strerror or exc})"))
            continue
        result.inputs.append((entry["Path"], "unchanged" if same else "changed"))
    if any(status != "unchanged" for _, status in result.inputs):
        return result

    scratch = None
    try:  # an interrupt (InterruptedRun) or any other error still removes the scratch run
        scratch = T.make_scratch()
        rerun_dir = scratch / "out"
        options = RunOptions(n_jobs=n_jobs, backend=backend, argv=argv, on_step=on_step)
        run(project, spec_dir, spec_text, rerun_dir, options)
        result.rerun = True
        rerun = json.loads(read_regular_text(rerun_dir / O.PROVENANCE, RECORD_LIMIT))["Outputs"]
        for name in sorted(set(provenance["Outputs"]) | set(rerun)):
            archived = output_dir / name
            if name not in rerun:
                status = "not produced"
            elif archived.is_symlink() or not archived.is_file():
                status = "missing"
            else:
                try:  # the re-run's digest, as its provenance.json recorded it
                    status = "identical" if sha256_regular(archived, OUTPUT_LIMIT) == rerun[name] else "differs"
                except RefusedFile:
                    status = "differs"
            result.files.append((name, status))
            if status != "identical":
                result.makers[name] = made_by(name, project)
    except OSError as exc:
        raise OutputError(f"Cannot use the scratch folder {scratch or tempfile.gettempdir()}: {exc}.",
                          hint="Set TMPDIR to a writable folder with room for one run.") from None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return result
