"""Resuming an interrupted run: each finished analysis (a group's own analysis, a contrast) is
kept in the output folder's work area and reused by the next run of the same spec into the
same folder.

A unit's record is ``.ale-app-work/<unit>.pkl`` (what its steps computed, the group's MA maps
and NiMARE estimator left out) and ``<unit>.json`` (its key and the pickle's SHA-256). The key
is the SHA-256 of everything the unit's numbers follow from: its settings as validated, its
input files' SHA-256, the experiments selected, the keys of the groups a contrast reads, and
the versions of ale-app and of every library that can change a number. A record is reused
only when its key and its SHA-256 both match (never by file dates); anything else is computed
again. The work area is removed before ``provenance.json`` is written, so a finished folder
holds none; the folder's rules ignore it (:data:`ale_app.outputs.folder.INTERNAL_NAMES`).

The pickles are read only from the output folder a run writes, which the user owns: like any
file of the folder, they are as trustworthy as the folder.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from ale_app.digests import sha256_bytes
from ale_app.outputs.folder import WORK

LGR = logging.getLogger("ale_app")

__all__ = ["UnitStore"]


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


class UnitStore:
    """The finished units of a run in ``root``'s work area (see the module's text)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.dir = self.root / WORK
        self.reused: list[str] = []

    # ------------------------------------------------------------------ keys
    @staticmethod
    def _versions() -> dict:
        from ale_app import __version__
        from ale_app.outputs.provenance import software_versions

        return {"ale-app": __version__, **software_versions()}

    def group_key(self, group) -> str:
        """The key of a group's own analysis (an :class:`~ale_app.result.AnalysisResult`)."""
        ev = group.evidence
        return sha256_bytes(_canonical({
            "unit": "group", "spec": group.spec.model_dump(mode="json"),
            "inputs": [f["sha256"] for f in ev.input_files], "ids": list(ev.ids), "versions": self._versions()}))

    def contrast_key(self, label: str, contrast, group_keys: list[str]) -> str:
        """The key of a contrast (a :class:`~ale_app.result.ContrastResult`) reading groups
        whose keys are ``group_keys``."""
        return sha256_bytes(_canonical({
            "unit": "contrast", "label": label, "spec": contrast.spec.model_dump(mode="json"),
            "groups": group_keys, "versions": self._versions()}))

    # ------------------------------------------------------------------ records
    def _usable(self) -> bool:
        return not self.dir.is_symlink() and (not self.dir.exists() or self.dir.is_dir())

    def load(self, unit: str, key: str) -> dict | None:
        """The fields unit ``unit`` computed, when its record matches ``key``; else None."""
        if not self._usable():
            return None
        try:
            meta = json.loads((self.dir / f"{unit}.json").read_text(encoding="utf-8"))
            if meta.get("key") != key:
                return None
            data = (self.dir / f"{unit}.pkl").read_bytes()
        except (OSError, ValueError):
            return None
        if sha256_bytes(data) != meta.get("sha256"):
            return None
        try:
            fields = pickle.loads(data)
        except Exception:  # noqa: BLE001 - an unreadable record is computed again
            return None
        self.reused.append(unit)
        return fields

    def save(self, unit: str, key: str, fields: dict) -> None:
        """Keep what ``unit`` computed under ``key`` (a failure to keep it only costs a re-run)."""
        if not self._usable():
            return
        tmp = None
        try:
            self.dir.mkdir(exist_ok=True)
            data = pickle.dumps(fields, protocol=pickle.HIGHEST_PROTOCOL)
            (self.dir / f"{unit}.json").unlink(missing_ok=True)  # an earlier record is not this one's
            for name, content in ((f"{unit}.pkl", data),
                                  (f"{unit}.json", _canonical({"key": key, "sha256": sha256_bytes(data)}))):
                tmp = self.dir / f".{name}.tmp"
                with open(tmp, "wb") as handle:
                    handle.write(content)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.dir / name)
                tmp = None
        except OSError as exc:  # a full disk, a file-size limit: the record is left out, not half-written
            if tmp is not None:
                try:
                    tmp.unlink(missing_ok=True)
                except OSError:
                    pass
            LGR.warning("Could not keep the finished %s for a resumed run (%s); the run goes on.", unit,
                        exc.strerror or exc)

    def clear(self) -> None:
        """Remove the work area (the run is complete)."""
        if self.dir.is_symlink():
            self.dir.unlink()
        elif self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)


def kept_fields(part, names: tuple[str, ...]) -> dict:
    """The fields ``names`` of a result part as a record keeps them: a fit without its MA maps
    and NiMARE estimator (the largest objects; a contrast that needs them fits the group again)."""
    fields = {name: getattr(part, name) for name in names}
    if fields.get("fit") is not None:
        fields["fit"] = replace(fields["fit"], ma=None, estimator=None)
    fields["step_status"] = dict(part.step_status)
    return fields
