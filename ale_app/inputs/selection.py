"""``select`` of an input (or of a version-2 group): which analyses of what was read enter
the meta-analysis, in file order, by ``first``, ``ids`` or ``where`` and then ``exclude``,
with messages that name what the input holds.
"""

from __future__ import annotations

from ale_app.errors import InputDataError
from ale_app.inputs.readers.base import plural
from ale_app.spec.models import InputSpec

#: At most this many columns or values are listed in a ``select.where`` message.
MAX_LISTED = 20
#: Format names in messages.
FORMAT_NAMES = {"sleuth": "Sleuth", "tsv": "TSV/CSV", "xlsx": "Excel", "nimads": "NIMADS",
                "nimare-json": "NiMARE JSON", "jale": "JALE experiment"}


def select_ids(read, input_spec: InputSpec, label: str = "", field: str = "input") -> list[str]:
    """The selected analysis ids, in file order (``field`` names the spec field in messages):
    ``first``, ``ids`` or ``where``, then without those of ``exclude``."""
    select = input_spec.select
    if select is None:
        return list(read.ids)
    kept = _select_kept(read, select, label, field)
    if select.exclude is None:
        return kept
    exclude = _as_read(select.exclude, read.ids)
    known = set(read.ids)
    unknown = [i for i in exclude if i not in known]
    if unknown:
        raise InputDataError(
            f"{field}.select.exclude names analyses that are not in the input: {listed(_shown(unknown), MAX_LISTED)}.",
            hint=f"Ids are '<study id>-<analysis id>' as in the input, e.g. {_example_ids(read.ids)}; "
            "'ale-app SPEC OUT --validate-only' lists them.",
        )
    chosen = set(kept)
    outside = [i for i in exclude if i not in chosen]
    if outside:
        how = next(k for k in ("first", "ids", "where", "tags") if getattr(select, k) is not None)
        raise InputDataError(
            f"{field}.select.exclude names analyses that {field}.select.{how} does not keep, so excluding "
            f"them changes nothing: {listed(_shown(outside), MAX_LISTED)}.",
            hint=f"Remove them from {field}.select.exclude, or check the ids.",
        )
    excluded = set(exclude)
    return [i for i in kept if i not in excluded]


def _as_read(ids: list[str], read_ids: list[str]) -> list[str]:
    """The spec's ids as the input spells them: an id written in another Unicode form of the
    same letters (an accent as one character or as a combining mark) is the input's id."""
    from ale_app.inputs.checks import same_name

    spelling: dict[str | None, str] = {}
    for i in read_ids:
        spelling.setdefault(same_name(i), i)
    return [spelling.get(same_name(i), i) for i in ids]


def _shown(ids: list[str]) -> list[str]:
    """Ids quoted for a message, each cut to 200 characters."""
    return [repr(i[:200]) + ("..." if len(i) > 200 else "") for i in ids[:MAX_LISTED]] + ids[MAX_LISTED:]


def _example_ids(ids: list[str]) -> str:
    return ", ".join(i[:200] for i in ids[:5]) + (", ..." if len(ids) > 5 else "")


def _select_kept(read, select, label: str, field: str) -> list[str]:
    """What ``first``, ``ids`` or ``where`` keeps (all analyses when none is given)."""
    all_ids = read.ids
    if select.where is not None:
        return _select_where(read, select.where, label, f"{field}.select.where")
    if select.tags is not None:
        return select_tags(read, select.tags, label, f"{field}.select.tags")
    if select.first is None and select.ids is None:
        return list(all_ids)
    if select.first is not None:
        if select.first > len(all_ids):
            raise InputDataError(
                f"{field}.select.first is {select.first}, but the input has only "
                f"{len(all_ids)} analyses.",
                hint=f"Use a number from 2 to {len(all_ids)}, or remove {field}.select.",
            )
        return list(all_ids[: select.first])
    known = set(all_ids)
    ids = _as_read(select.ids, all_ids)
    unknown = [i for i in ids if i not in known]
    if unknown:
        shown = _example_ids(all_ids)
        raise InputDataError(
            f"{field}.select.ids names analyses that are not in the input: {listed(_shown(unknown), MAX_LISTED)}.",
            hint=f"Ids are '<study id>-<analysis id>' as in the input, e.g. {shown}.",
        )
    wanted = set(ids)
    return [i for i in all_ids if i in wanted]


def listed(items: list[str], limit: int = MAX_LISTED) -> str:
    """``items`` joined by commas, the first ``limit`` of them and how many more."""
    shown = ", ".join(items[:limit])
    return shown + (f", ... and {len(items) - limit} more" if len(items) > limit else "")


def _select_where(read, where, label: str, field: str) -> list[str]:
    """The analyses whose column ``where.column`` holds one of ``where.values``, in file order."""
    import difflib

    columns = read.columns
    if columns is None:
        raise InputDataError(
            f"{field} selects by column {where.column!r}, but {label} is a "
            f"{FORMAT_NAMES.get(read.format, read.format)} file, which "
            "has no columns that describe analyses.",
            hint=f"Select by ids ({field[:-len('.where')]}.ids), or give each group its own file.",
        )
    names = columns.names
    column = columns.resolve(where.column) or where.column
    if column not in names:
        near = difflib.get_close_matches(where.column, names, n=3)
        guess = f" (did you mean {' or '.join(repr(n) for n in near)}?)" if near else ""
        # Plain names first: a studyset's annotations flatten nested records into many
        # columns ('Extractor.groups[0].age_mean') that are seldom the one meant.
        shown = sorted(names, key=lambda n: ("[" in n, "." in n))
        has = (f"its {plural(len(names), 'column')} {'is' if len(names) == 1 else 'are'} "
               f"{listed([repr(n) for n in shown])}" if names else "it has no columns that describe analyses")
        raise InputDataError(
            f"{field}.column is {where.column!r}, but {label} has no such column{guess}; {has}.",
            hint=_where_hint(read.format),
        )
    shown_column = repr(where.column) if column == where.column else f"{where.column!r} ({column!r})"
    varies = columns.varying(column)
    if varies:
        raise InputDataError(
            f"{field}.column {shown_column} of {label} differs within one analysis ({varies}), so it "
            "cannot select analyses.",
            hint="Give every row of one analysis the same value in the column, or select by another column.",
        )
    values = columns.column(column)
    held = [values.get(i) for i in read.ids]
    counts: dict[str, int] = {}
    for text in held:
        if text is not None:
            counts[text] = counts.get(text, 0) + 1
    missing = [v for v in where.values if v not in counts]
    if missing:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        counted = [f"{v!r} ({n})" for v, n in ranked]
        empty = sum(1 for text in held if text is None)
        none = f"; {plural(empty, 'analysis', 'analyses')} {'has' if empty == 1 else 'have'} no value" if empty else ""
        holds = f"holds {listed(counted)}" if counted else "holds no value"
        raise InputDataError(
            f"{field}.values {listed(_shown(missing), MAX_LISTED)} "
            f"{'matches' if len(missing) == 1 else 'match'} no analysis in {label}; column "
            f"{shown_column} {holds}{none}.",
            hint="Values are compared as text, exactly (case and spaces count).",
        )
    wanted = set(where.values)
    return [i for i, text in zip(read.ids, held) if text in wanted]


_TABLE_WHERE_HINT = ("Every column of a table but the coordinates (x, y, z, or those input.columns maps) describes "
                     "analyses, including the study, analysis, space and sample size columns: name one as it is "
                     "written in the header, or 'group' for the column input.columns.group maps.")


def _where_hint(fmt: str) -> str:
    return {
        "tsv": _TABLE_WHERE_HINT,
        "xlsx": _TABLE_WHERE_HINT,
        "parquet": "The columns of the studyset's annotations.parquet and metadata.parquet describe analyses.",
        "nimads": "The keys of an analysis's (or its study's) 'metadata' with a text, number or true/false "
                  "value describe analyses.",
        "nimare-json": "The keys of a contrast's (or its study's) 'metadata' with a text, number or "
                       "true/false value describe analyses.",
    }.get(fmt, "Name a column of the input.")


def select_tags(read, rule, label: str, field: str) -> list[str]:
    """The analyses whose tags meet ``rule`` (a :class:`~ale_app.spec.input.TagRuleSpec`), in
    file order; a tag that no analysis holds is refused (as JALE refuses it), naming the tags
    the input holds."""
    if read.tags is None:
        raise InputDataError(
            f"{field} selects by tags, but {label} is a {FORMAT_NAMES.get(read.format, read.format)} file, which "
            "has no tags.",
            hint="Tags are the tag columns of JALE's experiment workbook (format 'jale'); select by a column "
            f"({field[:-len('.tags')]}.where) in other inputs.")
    counts: dict[str, int] = {}
    for aid in read.ids:
        for tag in read.tags.get(aid, ()):
            counts[tag] = counts.get(tag, 0) + 1
    unknown = [t for t in rule.named() if t not in counts]
    if unknown:
        held = [f"{t!r} ({n})" for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        raise InputDataError(
            f"{field} names {plural(len(unknown), 'tag')} that no experiment of {label} has: "
            f"{listed([repr(t) for t in unknown])}; its experiments' tags are {listed(held) or 'none'}.",
            hint="Tags are compared in lower case, without surrounding spaces; check the spelling against the "
            "tag columns.")
    return [aid for aid in read.ids if rule.keeps(read.tags.get(aid, frozenset()))]
