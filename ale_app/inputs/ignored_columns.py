"""A table's columns that nothing reads: which they are, the note that names them, and the
hint when one of them likely holds a role the table has no column for (``'Subjects'`` for the
sample size).
"""

from __future__ import annotations

from ale_app.inputs.readers.base import plural
from ale_app.inputs.selection import listed
from ale_app.spec.models import InputSpec


def ignored_columns(read, input_spec: InputSpec) -> list[str]:
    """A table's columns that nothing reads: not a role, not the group column, not the
    column ``select.where`` selects by."""
    if read.table_columns is None:
        return []
    used = set()
    if read.columns is not None:
        used.update(read.columns.aliases.values())
        where = getattr(input_spec.select, "where", None)
        if where is not None:
            used.add(read.columns.resolve(where.column) or where.column)
    return [c for c in read.table_columns if c not in used]


def ignored_note(ignored: list[str], label: str, field: str) -> str:
    return (f"{plural(len(ignored), 'column')} of {label} {'is' if len(ignored) == 1 else 'are'} not read and "
            f"{'was' if len(ignored) == 1 else 'were'} ignored: {listed([repr(c) for c in ignored])} "
            f"({field}.columns maps a column to what ale-app reads; select.where can select by one)")


def likely_roles(ignored: list[str], read, field: str) -> tuple[dict[str, str], str] | tuple[()]:
    """Ignored columns that often hold a role the table has no column for (``'Subjects'``
    for the sample size), as ``({role: header}, field)``; empty when there is none."""
    from ale_app.inputs.readers.table import likely_role

    found: dict[str, str] = {}
    for name in ignored:
        role = likely_role(name)
        if role in ROLE_NOUNS and role not in found and role not in (read.table_roles or ()):
            found[role] = name
    return (found, field) if found else ()


def ignored_hint(likely: tuple[dict[str, str], str], lead: bool = True) -> str:
    found, field = likely
    pairs = ", ".join(f"{role}: {name}" for role, name in found.items())
    said = (f"The table's {' and '.join(map(repr, found.values()))} {'was' if len(found) == 1 else 'were'} "
            "ignored; ") if lead else ""
    return (f"{said}if {'it holds' if len(found) == 1 else 'they hold'} the "
            f"{' and the '.join(ROLE_NOUNS[r] for r in found)}, map {'it' if len(found) == 1 else 'them'}: "
            f"{field}.columns: {{{pairs}}}.")


ROLE_NOUNS = {"sample_size": "number of subjects", "analysis": "analysis (contrast) names"}
