"""Whether a cluster rests on one or two experiments: the rule (:data:`RESTS_ON`,
:data:`DEPENDENCE_RULE`), read from a group's leave-one-out table
(:func:`cluster_dependence`) or a contrast's (:func:`contrast_cluster_dependence`), the
experiments that dominate a group on average, and the sentences that name them.
"""

from __future__ import annotations

import pandas as pd

from ale_app.present.html_parts import DESCRIPTIVE_PREFIX


#: A cluster "rests on" one experiment when leaving that experiment out removes at least this
#: share of the cluster's value (its ALE, or a contrast's difference; mean over its voxels).
#: The single-group and the contrast reports apply the same rule.
RESTS_ON = 0.5


def dominant_analyses(jackknife: pd.DataFrame, ratio: float, minimum: float) -> list[str]:
    """Ids whose mean contribution is >= ``ratio`` x the median of all means and >= ``minimum``."""
    means = jackknife["mean"].astype(float)
    median = float(means.median())
    keep = (means >= ratio * median) & (means >= minimum)
    return jackknife.loc[keep, "id"].tolist()


#: At most this many clusters are named per sentence (the tables list them all).
NAMED = 8


#: The rule :func:`cluster_dependence` applies, as the paragraph and the methods state it.
DEPENDENCE_RULE = (
    f"A cluster rests on one experiment when leaving that experiment out removes at least {RESTS_ON:.0%} of the "
    "cluster's ALE (mean over its voxels), and on two when no single experiment does but the two largest such "
    f"shares add up to at least {RESTS_ON:.0%}; the rule is ale-app's (its contrast report uses the same), a check "
    "of the concern of Eickhoff et al. (2016) that ALE results can be driven by one or two experiments."
)


def cluster_dependence(jackknife: pd.DataFrame | None, prefix: str = DESCRIPTIVE_PREFIX) -> list[dict]:
    """Per cluster of a leave-one-out ``jackknife`` table (columns ``cluster_<n>``): the two
    experiments whose removal lowers it most, their shares, and whether the cluster rests on
    one or two experiments (:data:`RESTS_ON`; ``rests_on`` is 1, 2 or 0). Ties go to the
    experiment first in file order."""
    if jackknife is None or not len(jackknife):
        return []
    out = []
    by_id = jackknife.set_index("id")
    for column in [c for c in jackknife.columns if str(c).startswith("cluster_")]:
        values = by_id[column].astype(float).dropna().sort_values(ascending=False, kind="stable")
        if not len(values):
            continue
        top, second = float(values.iloc[0]), float(values.iloc[1]) if len(values) > 1 else 0.0
        rests = 1 if top >= RESTS_ON else 2 if top + second >= RESTS_ON else 0
        out.append({"cluster": f"{prefix}{column.split('_', 1)[1]}", "column": column,
                    "top_id": str(values.index[0]), "top": top,
                    "second_id": str(values.index[1]) if len(values) > 1 else None, "second": second,
                    "rests_on": rests})
    return out


def contrast_cluster_dependence(result) -> list[dict]:
    """Per contrast cluster: its largest leave-one-out contribution and whose it is, and
    whether the cluster rests on one experiment (contribution at least :data:`RESTS_ON`)."""
    jk, cc = result.contrast_jackknife, result.contrast_clusters
    if jk is None or cc is None:
        return []
    out = []
    for label in cc.labels:
        column = f"cluster_{label}"
        values = jk[["id", "group", column]].dropna()
        values = values[values["group"] == (result.names[0] if cc.tail_of(label) == "positive" else result.names[1])]
        if not len(values):
            continue
        top = values.loc[values[column].astype(float).idxmax()]
        out.append({"cluster": label, "tail": cc.tail_of(label), "top_id": str(top["id"]),
                    "top": float(top[column]), "rests_on_one": float(top[column]) >= RESTS_ON})
    return out


def _name_clusters(items: list[dict], two: bool) -> str:
    shown = items[:NAMED]
    if two:
        named = [f"{d['cluster']}: {d['top_id']} {d['top']:.2f} + {d['second_id']} {d['second']:.2f}" for d in shown]
    else:
        named = [f"{d['cluster']}: {d['top_id']} {d['top']:.2f}" for d in shown]
    more = len(items) - len(shown)
    return "; ".join(named) + (f"; and {more} more, all in the table" if more else "")


def dependence_text(deps: list[dict], what: str) -> str:
    """The paragraph's sentences on which ``what`` (e.g. "descriptive clusters") rest on one or
    two experiments, named and counted, with the rule; every number is in ``deps``."""
    if not deps:
        return ""
    one = [d for d in deps if d["rests_on"] == 1]
    two = [d for d in deps if d["rests_on"] == 2]
    k = len(deps)
    if not one and not two:
        top = max(deps, key=lambda d: d["top"])
        return (f"Taken one by one, none of the {k} {what} rests on one or two experiments: leaving out any single "
                f"experiment removes at most {top['top']:.2f} of a cluster's ALE ({top['cluster']}, "
                f"{top['top_id']}). {DEPENDENCE_RULE}")
    parts = []
    if one:
        parts.append(f"{len(one)} of the {k} {what} rest{'s' if len(one) == 1 else ''} on one experiment ("
                     + _name_clusters(one, two=False) + ")")
    if two:
        of = "" if one else f" of the {k} {what}"
        parts.append(f"{len(two)}{of} rest{'s' if len(two) == 1 else ''} on two ("
                     + _name_clusters(two, two=True) + ")")
    return ("Taken one by one, " + " and ".join(parts) + "; these should not be described as convergence across "
            f"experiments. {DEPENDENCE_RULE}")
