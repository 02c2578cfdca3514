"""What ``spec.json`` records of an input: the keys added after specs were first archived
are left out when unset, so that an archived analysis re-runs to the same bytes."""

from __future__ import annotations

from typing import Any

#: Keys added to ``input`` and ``select`` after specs were first archived: left out of
#: ``spec.json`` when unset, so that an archived analysis re-runs to the same bytes.
LATER_INPUT_KEYS = ("columns", "sheet")
LATER_SELECT_KEYS = {1: ("where", "tags", "exclude"), 2: ("tags", "exclude")}


def omit_unset_input_keys(record: dict[str, Any] | None, version: int) -> None:
    """Drop the unset later keys of one recorded ``input`` (or group) in place, and
    ``study_rule`` and ``pool_experiments`` when they are the defaults (``study-id``, false)."""
    if not record:
        return
    for key in LATER_INPUT_KEYS:
        if record.get(key, 0) is None:
            del record[key]
    if record.get("study_rule") == "study-id":
        del record["study_rule"]
    if record.get("pool_experiments") is False:
        del record["pool_experiments"]
    if "robustness" in record and record["robustness"] is None:  # a version-3 group without its own
        del record["robustness"]
    select = record.get("select")
    if select:
        for key in LATER_SELECT_KEYS[version]:
            if select.get(key, 0) is None:
                del select[key]
