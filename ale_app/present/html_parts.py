"""The report's HTML pieces: the inline style, embedded figures, definition lists, cluster
tables, the experiment key, the failure line, the page's closing and the self-contained page
around it. Nothing here chooses words about the results (:mod:`ale_app.present.interpretation_words`)
or reads a result (:mod:`ale_app.present.report_view`).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path

import pandas as pd


#: Cluster ids in words, figures and tables: D1, D2 ... (descriptive), F1, F2 ... (passed
#: cluster-level FWE), C1, C2 ... (a contrast's). The files keep the numbers of their label
#: maps (1, 2 ...).
DESCRIPTIVE_PREFIX = "D"


FWE_PREFIX = "F"


CONTRAST_PREFIX = "C"


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;max-width:76em;
margin:auto;padding:1em 2em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
img{max-width:100%;height:auto}figure{margin:1em 0}figcaption{font-size:.9em;color:#555}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.note{background:#fff7e0;border-left:4px solid #e0a800;padding:.5em 1em}
.fail{background:#fde8e8;border-left:4px solid #c00;padding:.5em 1em}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0}
code{font-size:.85em;word-break:break-all}
.wide{overflow-x:auto}table.jackknife td:nth-child(2),table.jackknife th:nth-child(2){text-align:left}tr.dominant td{color:#a01010;font-weight:600}tr.rest td{text-align:left;color:#555}
td.text,th.text{text-align:left}td.nowrap{white-space:nowrap}
td.text{overflow-wrap:anywhere}
"""


def img_tag(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    cap = html.escape(caption)
    return f'<figure><img alt="{cap}" src="data:{mime};base64,{data}"/><figcaption>{cap}</figcaption></figure>'


def dl(items: Mapping[str, object]) -> str:
    rows = "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>" for k, v in items.items())
    return f"<dl>{rows}</dl>"


#: The cluster table's columns as the report shows them (name, with units).
CLUSTER_COLUMNS = {"cluster_id": "Cluster", "peak": "Peak", "x": "x (mm)", "y": "y (mm)", "z": "z (mm)",
                   "ale": "ALE value", "size_mm3": "Volume (mm\u00b3)", "region": "Region",
                   "composition": "Cluster volume by region", "size_voxels": "Size (voxels)", "mass": "Mass",
                   "p_fwe": "FWE p (cluster size)", "p_fwe_se": "Monte Carlo SE",
                   "rests_on": "Rests on one or two experiments?",
                   "stability": "Stability (share of subsets)", "failsafe_n": "Fail-safe N"}


def cluster_html(table: pd.DataFrame, prefix: str = "", dependence: list[dict] | None = None,
                  n_iterations: int | None = None) -> str:
    """The cluster table with readable headings; sub-peak rows leave the volume empty.
    ``prefix`` names the clusters (D1, F1); ``dependence`` (:func:`cluster_dependence`) adds
    a column with each cluster's largest leave-one-out share and whether it rests on one or
    two experiments; with ``n_iterations`` an FWE p at the Monte Carlo floor reads "<= 1/n"."""
    table = table.copy()
    if dependence:
        by = {d["cluster"]: d for d in dependence}
        words: list[str | None] = []
        for row in table.itertuples():
            d = by.get(f"{prefix}{row.cluster_id}") if row.peak == "main" else None
            if d is None:
                words.append(None)
            elif d["rests_on"] == 1:
                words.append(f"one: {d['top_id']} ({d['top']:.2f})")
            elif d["rests_on"] == 2:
                words.append(f"two: {d['top_id']} ({d['top']:.2f}) + {d['second_id']} ({d['second']:.2f})")
            else:
                words.append(f"no (largest {d['top']:.2f}, {d['top_id']})")
        table["rests_on"] = words
    if prefix:
        table["cluster_id"] = [f"{prefix}{c}" for c in table["cluster_id"]]
    floor = 1.0 / n_iterations if n_iterations else None
    shown = table.rename(columns=CLUSTER_COLUMNS)
    head = "".join(f'<th class="text">{html.escape(str(c))}</th>' if c in _TEXT_COLUMNS
                   else f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = []
    for _, row in shown.iterrows():
        cells = []
        for c in shown.columns:
            v = row[c]
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                text = ""
            elif c == "ALE value":
                text = f"{float(v):.5f}"
            elif c in ("x (mm)", "y (mm)", "z (mm)"):
                text = f"{float(v):.0f}"
            elif c in _P_OF_SE.values() and floor and float(v) <= floor * (1 + 1e-6):
                text = f"\u2264 {floor:.2g}"
            elif c in _P_OF_SE and floor and _at_floor(row.get(_P_OF_SE[c]), floor):
                # No standard error means anything at the floor: p is only known to be at most 1/n.
                text = f"none: p \u2264 1/{n_iterations:,}"
            elif c in ("FWE p (cluster size)", "Monte Carlo SE", "Mass", "Balanced p (null extremes)",
                       "Balanced p SE"):
                text = f"{float(v):.4g}"
            else:
                text = str(v)
            css = _TEXT_COLUMNS.get(c)
            cells.append(f'<td class="{css}">{html.escape(text)}</td>' if css else f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            "</div>")


#: The standard error columns of the cluster tables, each with the p it belongs to.
_P_OF_SE = {"Monte Carlo SE": "FWE p (cluster size)", "Balanced p SE": "Balanced p (null extremes)"}


def _at_floor(p, floor: float) -> bool:
    """Whether a p (maybe missing) is at the Monte Carlo floor 1/n."""
    return p is not None and not pd.isna(p) and float(p) <= floor * (1 + 1e-6)


#: Cluster-table columns of words, not numbers: read left-aligned ("sub-a" on one line).
_TEXT_COLUMNS = {"Peak": "text nowrap", "Region": "text", "Cluster volume by region": "text",
                 "Rests on one or two experiments?": "text", "Fail-safe N": "text"}


def cluster_heading(column: str, prefix: str = DESCRIPTIVE_PREFIX) -> str:
    return prefix + column.split("_", 1)[1] if column.startswith("cluster_") else column


def colour_key_html(study_colors: dict[str, str]) -> str:
    swatches = "".join(
        f'<span style="display:inline-block;margin:0 .8em .2em 0;white-space:nowrap">'
        f'<span style="display:inline-block;width:.8em;height:.8em;border-radius:50%;background:{c};'
        f'border:1px solid #333;vertical-align:middle"></span> {html.escape(sid)}</span>'
        for sid, c in study_colors.items())
    return (f'<details><summary>Colour key of the coordinate figure ({len(study_colors)} studies)</summary>'
            f'<p style="font-size:.8em">{swatches}</p></details>')


#: Headings of the experiment key's columns (see :func:`ale_app.inputs.evidence_summary.experiment_key`).
KEY_HEADINGS = {"id": "Experiment id", "study_id": "Study id", "authors": "First author", "study": "Study",
                "analysis": "Analysis", "published": "Published in", "subjects": "Subjects", "foci": "Foci"}


#: Up to this many experiments the key is open; beyond, folded (one click opens it).
KEY_OPEN_UP_TO = 30


def experiment_key_html(key: pd.DataFrame, group: str | None = None, coloured_by_study: bool = False) -> str:
    """The experiment key: every experiment under the id that every table and figure uses,
    with what the input says of it."""
    cls = [' class="text"' if c not in ("subjects", "foci") else "" for c in key.columns]
    head = "".join(f"<th{k}>{html.escape(KEY_HEADINGS.get(c, c))}</th>" for c, k in zip(key.columns, cls))
    body = "".join("<tr>" + "".join(f"<td{k}>{html.escape(str(v))}</td>" for v, k in zip(row, cls)) + "</tr>"
                   for row in key.itertuples(index=False))
    whose = f" of group {html.escape(group)}" if group else ""
    colours = ("" if not coloured_by_study else
               "; the coordinate figure colours foci by study (the Study id column)")
    intro = (f"<p>Every table and figure names an experiment{whose} by its id, &lt;study id&gt;-&lt;analysis "
             f"id&gt; as the input gives them{colours}. The key below adds what the input records of each "
             "experiment.</p>")
    table = f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    if len(key) > KEY_OPEN_UP_TO:
        table = f"<details><summary>All {len(key)} experiments{whose}</summary>{table}</details>"
    return intro + table


def failure_html(failed_step: str | None) -> list[str]:
    """The line a page opens with when a step failed: which one, and that the results shown
    are those finished before it."""
    if not failed_step:
        return []
    return [f'<p class="fail">The run stopped during the <b>{html.escape(failed_step)}</b> step; '
            "the results below are those finished before it.</p>"]


def closing_html(references: list[str], versions: dict, digests: dict[str, str] | None) -> list[str]:
    """The end of every page: the references, the software versions and each file's SHA-256."""
    parts = ["<h2>References</h2><ul>" + "".join(f"<li>{html.escape(text)}</li>" for text in references) + "</ul>",
             "<h2>Software</h2>" + dl(versions)]
    if digests:
        parts.append("<h2>File digests (SHA-256)</h2>" + dl(dict(sorted(digests.items())))
                     .replace("<dd>", "<dd><code>").replace("</dd>", "</code></dd>"))
    return parts


def page_html(title: str, parts: list[str]) -> str:
    """The self-contained page around ``parts`` (``title`` already escaped)."""
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")
