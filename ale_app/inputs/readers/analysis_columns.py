"""The columns that describe analyses (for ``select.where``): :class:`AnalysisColumns`, loaded
once when a column is first asked for, and :func:`value_text`, a cell as the text
``select.where`` compares with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def value_text(value: Any) -> str | None:
    """A scalar value as the text ``select.where`` compares with; None for no value (null,
    NaN) or a value that is not a scalar (a list or an object).

    Booleans are ``true``/``false`` (as JSON writes them) and whole floats lose their
    ``.0`` (a parquet column of sample sizes reads ``20.0`` for ``20``).
    """
    if value is None or isinstance(value, (list, tuple, dict, set)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    kind = type(value).__name__
    if isinstance(value, bool) or kind in ("bool_", "bool"):
        return "true" if bool(value) else "false"
    if hasattr(value, "ndim") and getattr(value, "ndim", 0) != 0:
        return None  # an array cell
    if isinstance(value, int) or kind.startswith(("int", "uint")):
        return str(int(value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number:  # NaN: no value
        return None
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


class AnalysisColumns:
    """The columns that describe analyses (a table's group column, a studyset's annotations
    and metadata, a NIMADS analysis's metadata keys), for ``select.where``.

    Parameters
    ----------
    load : callable
        Returns ``(attributes, varying)``: analysis id -> {column: value as text}, and
        column -> where it is not constant within one analysis (such a column cannot
        select analyses). Called once, when a column is first asked for.
    names : list of str or None
        The columns in the input's order; None takes them from the loaded table.
    aliases : dict or None
        Another name -> a column (a table's ``group`` -> the header ``columns.group`` maps).
    """

    def __init__(self, load: Callable[[], tuple[dict[str, dict[str, str]], dict[str, str]]],
                 names: list[str] | None = None, aliases: dict[str, str] | None = None):
        self._load = load
        self._names = names
        self.aliases = dict(aliases or {})
        self._table: tuple[dict[str, dict[str, str]], dict[str, str]] | None = None

    def resolve(self, name: str) -> str | None:
        """The column ``name`` means: itself, or the column an alias names; None if neither."""
        if name in self.names:
            return name
        return self.aliases.get(name)

    def _loaded(self) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
        if self._table is None:
            self._table = self._load()
        return self._table

    @property
    def names(self) -> list[str]:
        """Every descriptive column, in the input's order (selectable or not)."""
        if self._names is None:
            attributes, varying = self._loaded()
            seen = dict.fromkeys(varying)
            for row in attributes.values():
                seen.update(dict.fromkeys(row))
            self._names = list(seen)
        return list(self._names)

    @property
    def attributes(self) -> dict[str, dict[str, str]]:
        """Analysis id -> {column: value as text}."""
        return self._loaded()[0]

    def varying(self, name: str) -> str | None:
        """Where column ``name`` differs within one analysis (for the message), else None."""
        return self._loaded()[1].get(name)

    def column(self, name: str) -> dict[str, str]:
        """Analysis id -> the value of column ``name`` as text (analyses with none left out)."""
        return {aid: row[name] for aid, row in self.attributes.items() if name in row}
