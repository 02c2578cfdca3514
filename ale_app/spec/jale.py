"""A JALE project folder as a version-3 spec: ``config.yml`` (the SPEC argument), its
``experiment_info`` workbook (the shared input, format ``jale``) and its ``analysis_info``
sheet (one row per analysis), read by JALE 0.2.10's rules (``jale/ale.py``,
``jale/core/utils/compile_experiments.py``, ``jale/core/utils/input.py``).

Rows (first column the type, second the name, then the tag rules):

``M``
    a group's main effect (each group of a project gets one).
``P<N>``
    a group with subsampling stability on subsets of N experiments (JALE's probabilistic
    ALE), ``subsample_n`` subsets.
``C``
    this row and the next (JALE's second row has no type) as two groups, and their
    subtraction with the conjunction.
``B<N>``
    the same two rows as a balanced contrast with ``target_n`` N.

Tag rules: ``+tag`` (AND), ``-tag`` (NOT), ``?`` (OR of the ``+tag`` before it) become the
group's ``select.tags`` (:class:`~ale_app.spec.input.TagRuleSpec`). A row of the same name
and rule as an earlier one is the same group. A type written with surrounding spaces
(JALE's own example writes ``"C "``, which JALE 0.2.10 skips) is read as meant, with a
warning. A row ale-app cannot run (an ROI mask ``$mask.nii``, MA clustering ``Cluster``, a
``P`` or ``B`` without N, an unknown type, a rule that selects nothing, a ``C`` row under
``contrast_correction_method: tfce``) is refused before
anything runs, every such row named with its reason. ``config.yml`` values become the
spec's settings; those ale-app does not apply, and keys JALE does not know, are listed in
one warning and recorded (``jale`` in ``spec.json``).

This is the one place that turns a JALE project into a spec; :func:`ale_app.spec.load.parse_spec`
calls it.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from pathlib import Path
from typing import Any

from ale_app.digests import sha256_bytes
from ale_app.errors import MissingInputError, SpecError
from ale_app.files import RECORD_LIMIT, RefusedFile, read_regular
from ale_app.spec.jale_record import JaleOriginSpec, JaleRowSpec

__all__ = ["is_jale_config", "jale_spec"]

LGR = logging.getLogger(__name__)

#: JALE 0.2.10's config keys (``validate_config``) and its example's values, used for a key
#: the file leaves out.
JALE_DEFAULTS: dict[str, Any] = {
    "parameters.pool_experiments": False, "parameters.tfce_enabled": True, "parameters.gm_masking": True,
    "parameters.bin_steps": 0.0001, "parameters.cutoff_predict_enabled": True,
    "parameters.significance_threshold": 0.05, "parameters.cluster_forming_threshold": 0.001,
    "parameters.monte_carlo_iterations": 5000, "parameters.subsample_n": 2500,
    "parameters.contrast_permutations": 10000, "parameters.contrast_correction_method": "cFWE",
    "parameters.difference_iterations": 1000, "parameters.nprocesses": 2,
}
CLUSTERING_KEYS = ("max_clusters", "subsample_fraction", "sampling_iterations", "null_iterations",
                   "correlation_type", "clustering_method", "linkage_method", "use_pooled_std")
#: What ale-app does with the JALE keys it does not apply.
NOT_APPLIED = {
    "parameters.tfce_enabled": "ale-app computes no TFCE maps; it reports cluster- and voxel-level FWE",
    "parameters.gm_masking": "ale-app masks with the template's brain mask (NiMARE's); JALE's grey-matter mask "
                             "(the JALE profile) is not built",
    "parameters.bin_steps": "ale-app's null histograms are NiMARE's",
    "parameters.cutoff_predict_enabled": "predicted thresholds are not built; ale-app runs the Monte Carlo "
                                         "(with JALE's values for it when prediction is on: p 0.05, cluster-forming "
                                         "0.001, 5000 iterations)",
    "parameters.contrast_permutations": "ale-app's subtraction permutes inference.n_iterations times "
                                        "(monte_carlo_iterations)",
    "parameters.nprocesses": "an execution option: give --n-jobs on the command line",
}
ROW_TYPE = re.compile(r"^(M|C|P\d*|B\d*|Cluster)$")
GROUP_NAME_LENGTH = 32


def is_jale_config(data: Any) -> bool:
    """Whether parsed YAML ``data`` is a JALE project's ``config.yml`` (a ``project`` section
    naming its workbooks, and no ``spec_version``)."""
    return (isinstance(data, dict) and "spec_version" not in data and isinstance(data.get("project"), dict)
            and ("experiment_info" in data["project"] or "analysis_info" in data["project"]))


def _flat(data: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, name + "."))
        else:
            out[name] = value if isinstance(value, (bool, int, float, str)) or value is None else str(value)
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_analysis_rows(path: Path) -> tuple[list[tuple[int, list[str]]], str]:
    """The non-empty rows of JALE's analysis sheet (``.xlsx`` or ``.csv``, no header) as
    ``(row number, cells as text)``, in order, and the file's SHA-256. The file is read once,
    as a regular file of at most :data:`~ale_app.files.RECORD_LIMIT` bytes."""
    try:
        data = read_regular(path, RECORD_LIMIT)
    except RefusedFile as exc:
        raise SpecError(f"The JALE analysis sheet {str(path)!r} is {exc.reason}.",
                        hint="Give project.analysis_info as a regular .xlsx or .csv file.") from None
    except OSError:
        raise MissingInputError(f"The JALE analysis sheet {str(path)!r} (project.analysis_info) does not exist or "
                                "cannot be read.",
                                hint="Check project.analysis_info in config.yml (relative to its folder).") from None
    if path.suffix.lower() == ".csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SpecError(f"The JALE analysis sheet {str(path)!r} is not UTF-8 text.",
                            hint="Save it as UTF-8 CSV, or as .xlsx.") from None
        raw = [(i, row) for i, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)]
    else:
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
        except Exception as exc:  # not a workbook, damaged: said with the file
            raise SpecError(f"The JALE analysis sheet {str(path)!r} cannot be read as an Excel workbook: "
                            f"{type(exc).__name__}: {str(exc)[:200]}",
                            hint="Save it again as .xlsx (or .csv) and check project.analysis_info.") from None
        try:
            sheet = book.worksheets[0]
            sheet.reset_dimensions()
            raw = [(i, [_cell(v) for v in values]) for i, values in
                   enumerate(sheet.iter_rows(values_only=True), start=1)]
        finally:
            book.close()
    return [(i, row) for i, row in raw if any(c.strip() for c in row)], sha256_bytes(data)


def _group_name(name: str, taken: set[str], row: int) -> str:
    """A BIDS-label group name from JALE's analysis name: letters and digits, each word after a
    separator capitalised (``ResponseInhibition_no_high`` -> ``ResponseInhibitionNoHigh``)."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name) if w]
    label = "".join(w if i == 0 else w[:1].upper() + w[1:] for i, w in enumerate(words)) or f"row{row}"
    label = label[:GROUP_NAME_LENGTH]
    if label.casefold() in taken:
        suffix = f"Row{row}"
        label = label[:GROUP_NAME_LENGTH - len(suffix)] + suffix
    return label


def tag_rule(conditions: list[str]) -> tuple[dict | None, str | None]:
    """``(select.tags, None)`` of JALE's conditions, or ``(None, why)`` for conditions ale-app
    cannot run. ``?`` makes every ``+tag`` before it (and an earlier ``?``'s) one OR set, as
    JALE's ``compile_experiments`` does; ``-tag`` removes."""
    plus: list[str] = []
    any_of: list[str] = []
    none: list[str] = []
    for raw in conditions:
        text = raw.strip()
        if not text:
            continue
        operation, argument = text[0], text[1:].strip().lower()
        if operation in "+-" and not argument:
            return None, f"the rule {raw!r} names no tag"
        if operation == "+":
            plus.append(argument)
        elif operation == "-":
            none.append(argument)
        elif operation == "?":
            if not plus and not any_of:
                return None, "'?' (OR) has no +tag before it to join"
            any_of, plus = list(dict.fromkeys(any_of + plus)), []
        elif operation == "$":
            return None, (f"{raw!r} is an ROI analysis (ALE inside a mask), which ale-app does not run yet; remove "
                          "the $mask cell to run the row's main effect")
        else:
            return None, f"the rule {raw!r} does not start with +, -, ? or $ (JALE would ignore it)"
    if not plus and not any_of:
        return None, "it names no +tag, so it selects no experiment (JALE fails on it)"
    rule: dict[str, list[str]] = {}
    if plus:
        rule["all"] = list(dict.fromkeys(plus))
    if any_of:
        rule["any"] = any_of
    if none:
        rule["none"] = list(dict.fromkeys(none))
    return rule, None


def jale_spec(data: dict, folder: Path, origin: str):
    """The version-3 spec of the JALE project whose parsed ``config.yml`` is ``data``
    (``folder`` its folder, ``origin`` its path in messages)."""
    from ale_app.spec.v3 import AnalysisSpecV3

    values = _flat(data)
    project = data.get("project") or {}
    given_names = {key: project.get(key) for key in ("experiment_info", "analysis_info")}
    missing = [k for k, v in given_names.items() if not isinstance(v, str) or not v]
    if missing:
        raise SpecError(f"The JALE config {origin} names no {' and no '.join('project.' + k for k in missing)}.",
                        hint="A JALE config.yml names its workbooks: project: {analysis_info: analysis_info.xlsx, "
                        "experiment_info: experiment_info.xlsx}.")
    names = {k: str(v) for k, v in given_names.items()}
    given = {**JALE_DEFAULTS, **{k: v for k, v in values.items() if k in JALE_DEFAULTS}}
    _check_types(given, origin)
    applied, not_applied, settings = _settings(given, values)
    rows, digest = read_analysis_rows(folder / names["analysis_info"])
    groups, contrasts, records, refused = _rows(rows, given, names["analysis_info"])
    if refused:
        raise SpecError(
            f"The JALE project {origin} has {len(refused)} row(s) of {names['analysis_info']} that ale-app cannot "
            "run (nothing has run):\n" + "\n".join(f"  row {n}: {why}" for n, why in refused),
            hint="Fix or remove the rows named above (a JALE row that ale-app cannot run is never skipped "
            "silently).")
    if not groups:
        raise SpecError(f"The JALE project {origin}: {names['analysis_info']} has no analysis rows.",
                        hint="Add a row: M, a name and a +tag.")
    unused = {k: why for k, why in not_applied.items() if k in values or k == "clustering_parameters"}
    if unused:
        LGR.warning("JALE config %s: %d value(s) ale-app does not apply: %s", origin, len(unused),
                    "; ".join(f"{k} ({why})" for k, why in unused.items()))
    left_out = [k for k in JALE_DEFAULTS if k not in values]
    if left_out:
        LGR.warning("JALE config %s leaves out %s; JALE's defaults are used.", origin, ", ".join(left_out))
    spec = {
        "spec_version": 3,
        "title": f"JALE project {folder.name}"[:200],
        "mode": "inferential",
        "input": {"path": names["experiment_info"], "format": "jale",
                  "pool_experiments": bool(given["parameters.pool_experiments"])},
        "groups": groups,
        "contrasts": contrasts,
        **settings,
        "jale": JaleOriginSpec(config=Path(origin).name, experiment_info=names["experiment_info"],
                               analysis_info=names["analysis_info"],
                               analysis_info_sha256=digest,
                               parameters=values, applied=applied,
                               not_applied=not_applied, rows=records).model_dump(),
    }
    return AnalysisSpecV3.model_validate(spec)


def _check_types(given: dict, origin: str) -> None:
    """Refuse config values of another type than JALE's (``True``/``False``, a number, a whole
    number, text), naming every such key, as JALE's own schema refuses them."""
    wrong = []
    for key, default in JALE_DEFAULTS.items():
        value = given[key]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
        else:
            ok = isinstance(value, str) and value in ("cFWE", "vFWE", "tfce")
        if not ok:
            wrong.append(f"{key}: {value!r}")
    if wrong:
        raise SpecError(f"The JALE config {origin} has values JALE 0.2.10 does not accept: {'; '.join(wrong)}.",
                        hint="Switches are True or False, iterations whole numbers of at least 1, thresholds numbers "
                        "from 0 to 1, contrast_correction_method one of cFWE, vFWE, tfce (as JALE's example config).")


def _settings(given: dict, values: dict) -> tuple[dict[str, str], dict[str, str], dict]:
    """``(applied, not_applied, sections)``: each config key's ale-app setting, the keys ale-app
    does not apply with why, and the spec sections they make."""
    predicted = bool(given["parameters.cutoff_predict_enabled"])
    alpha = 0.05 if predicted else float(given["parameters.significance_threshold"])
    voxel_p = 0.001 if predicted else float(given["parameters.cluster_forming_threshold"])
    iterations = 5000 if predicted else int(given["parameters.monte_carlo_iterations"])
    why = " (JALE's value with cutoff_predict_enabled)" if predicted else ""
    applied = {
        "parameters.pool_experiments": f"input.pool_experiments = {bool(given['parameters.pool_experiments'])}",
        "parameters.significance_threshold": f"inference.fwe_alpha = {alpha:g}{why}",
        "parameters.cluster_forming_threshold": f"inference.voxel_p = {voxel_p:g}{why}",
        "parameters.monte_carlo_iterations": f"inference.n_iterations = {iterations}{why}; balanced "
                                             f"null_iterations = {iterations}",
        "parameters.subsample_n": f"P rows' stability n_subsets and B rows' balanced subsamples = "
                                  f"{given['parameters.subsample_n']}",
        "parameters.difference_iterations": f"B rows' balanced difference_iterations = "
                                            f"{given['parameters.difference_iterations']}",
        "parameters.contrast_correction_method": f"C rows: ale-app's subtraction with voxel- and cluster-level FWE "
                                                 f"({given['parameters.contrast_correction_method']} read)",
    }
    not_applied = dict(NOT_APPLIED)
    for key in values:
        if key.startswith("clustering_parameters."):
            not_applied["clustering_parameters"] = "MA clustering (Cluster rows) is not built in ale-app"
        elif key.startswith("project.") and key.split(".", 1)[1] in ("analysis_info", "experiment_info"):
            applied[key] = "read"
        elif key not in JALE_DEFAULTS:
            not_applied[key] = "not a key of JALE 0.2.10's config"
    sections = {"inference": {"fwe_alpha": alpha, "voxel_p": voxel_p, "n_iterations": iterations}}
    return applied, not_applied, sections


def _rows(rows: list[tuple[int, list[str]]], given: dict, sheet: str):
    """``(groups, contrasts, records, refused)`` of the analysis sheet's rows."""
    groups: dict[str, dict] = {}
    by_key: dict[tuple, str] = {}
    contrasts: list[dict] = []
    records: list[JaleRowSpec] = []
    refused: list[tuple[int, str]] = []
    runs_as: dict[int, list[str]] = {}
    group_at: dict[int, str] = {}

    def group_of(index: int, stability: int | None) -> str | None:
        number, cells = rows[index]
        name = cells[1].strip() if len(cells) > 1 else ""
        if not name:
            refused.append((number, "it gives no analysis name (second column)"))
            return None
        rule, why = tag_rule(cells[2:])
        if rule is None:
            refused.append((number, why or ""))
            return None
        key = (name, repr(sorted(rule.items())), stability)
        if key not in by_key:
            label = _group_name(name, {g.casefold() for g in groups}, number)
            group: dict[str, Any] = {"select": {"tags": rule}}
            if stability is not None:
                group["robustness"] = {"stability": {"enabled": True, "subset_size": stability,
                                                     "n_subsets": int(given["parameters.subsample_n"])}}
            groups[label] = group
            by_key[key] = label
        group_at[number] = by_key[key]
        return by_key[key]

    second_rows: set[int] = set()
    for index, (number, cells) in enumerate(rows):
        written = cells[0] if cells else ""
        kind = written.strip()
        if kind != written and kind:
            LGR.warning("%s row %d: the type %r is read as %r (JALE 0.2.10 skips a type with spaces).",
                        sheet, number, written, kind)
        if not kind:
            if index not in second_rows:
                refused.append((number, "it has no type (M, P<N>, C, B<N>) and is not the second row of a C or B "
                                        "row (JALE would skip it)"))
            continue
        if not ROW_TYPE.match(kind):
            refused.append((number, f"its type {written!r} is none of M, P<N>, C, B<N> (JALE would skip it)"))
            continue
        if kind == "Cluster":
            refused.append((number, "MA clustering (Cluster) is not built in ale-app"))
            continue
        if kind in ("P", "B"):
            if kind == "B":
                second_rows.add(index + 1)  # its second row is refused with it, not on its own
            refused.append((number, f"{kind} needs its N ({kind}25 for subsets of 25 experiments)"
                            + ("; JALE itself skips P without N" if kind == "P" else
                               "; JALE's own default N depends on the groups' sizes, write it out")))
            continue
        if kind == "M" or kind.startswith("P"):
            stability = int(kind[1:]) if kind.startswith("P") else None
            label = group_of(index, stability)
            if label is not None:
                runs_as.setdefault(number, []).append(
                    f"group {label}: main effect" + (f" and stability on subsets of {stability}" if stability else ""))
            continue
        if kind == "C" and str(given["parameters.contrast_correction_method"]).lower() == "tfce":
            second_rows.add(index + 1)
            refused.append((number, "contrast_correction_method is 'tfce' in config.yml, and ale-app computes no "
                            "TFCE; set it to 'cFWE' (ale-app's subtraction reports cluster- and voxel-level FWE)"))
            continue
        if index + 1 >= len(rows):
            refused.append((number, f"a {kind} row compares it with the next row, and there is none"))
            continue
        second_rows.add(index + 1)
        first, second = group_of(index, None), group_of(index + 1, None)
        if first is None or second is None:
            continue
        if first == second:
            refused.append((number, f"both rows select the same group {first!r}"))
            continue
        contrast: dict[str, Any] = {"groups": [first, second], "conjunction": True}
        label = f"{first}Minus{second[:1].upper()}{second[1:]}"
        if kind == "C":
            words = f"contrast {label}: subtraction and conjunction of groups {first} and {second}"
        else:
            contrast["method"] = "balanced"
            contrast["balanced"] = {"target_n": int(kind[1:]), "subsamples": int(given["parameters.subsample_n"]),
                                    "difference_iterations": int(given["parameters.difference_iterations"]),
                                    "null_iterations": 5000 if given["parameters.cutoff_predict_enabled"]
                                    else int(given["parameters.monte_carlo_iterations"])}
            label = f"{label}Balanced"
            words = f"contrast {label}: balanced contrast (target_n {kind[1:]}) and conjunction of groups " \
                    f"{first} and {second}"
        used = {c.get("name", f"{c['groups'][0]}Minus{c['groups'][1][:1].upper()}{c['groups'][1][1:]}").casefold()
                for c in contrasts}
        if label.casefold() in used or len(label) > 64:
            label = f"row{number}{kind}"
            words = words.replace(words.split(":")[0], f"contrast {label}")
        contrast["name"] = label
        if contrast.get("method") != "balanced" and label == f"{first}Minus{second[:1].upper()}{second[1:]}":
            del contrast["name"]
        contrasts.append(contrast)
        runs_as.setdefault(number, []).append(words)
        runs_as.setdefault(rows[index + 1][0], []).append(f"second group of row {number}'s contrast")
    for number, cells in rows:
        records.append(JaleRowSpec(row=number, type=cells[0] if cells else "",
                                   name=cells[1] if len(cells) > 1 else "",
                                   conditions=[c for c in cells[2:] if c.strip()],
                                   runs_as="; ".join(runs_as.get(number, [])), group=group_at.get(number)))
    return groups, contrasts, records, refused
