"""Numbers as a person writes them: what a reader takes as a number, and why it refuses one
that Python would read (``4_2``, full-width or Arabic-Indic digits)."""

from __future__ import annotations

import re
import unicodedata


#: A number as a file should write it: ASCII digits, an optional sign, point and exponent
#: (``nan`` and ``inf`` read as numbers here and are refused as not finite by the readers).
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                           r"|[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_PLAIN_WHOLE = re.compile(r"[+-]?[0-9]+")
NUMBER_HINT = ("Write numbers with the digits 0-9, a point for decimals and nothing between the digits, "
               "e.g. '-42 18 6' or '-41.5'.")


def read_number(text: str, whole: bool = False) -> float | int:
    """``text`` as a number (``whole``: an integer), as a person reads it.

    Python's ``float`` and ``int`` read more than that: ``4_2`` as 42, and full-width
    (``４２``) or Arabic-Indic (``٤٢``) digits as their values. Those raise a ValueError whose
    message says what is in the way; text that is no number at all raises one with an empty
    message.
    """
    text = text.strip()
    pattern = _PLAIN_WHOLE if whole else _PLAIN_NUMBER
    if pattern.fullmatch(text):
        return int(text) if whole else float(text)
    try:
        int(text) if whole else float(text)
    except (ValueError, OverflowError):
        raise ValueError("") from None
    raise ValueError(f"it is not written with the digits 0-9 only ({_odd_characters(text)})")


def _odd_characters(text: str) -> str:
    odd = [c for c in dict.fromkeys(text) if not (c.isascii() and (c.isdigit() or c in "+-.eE"))]
    return ", ".join(("an underscore" if c == "_" else
                      f"{unicodedata.name(c, 'character').lower()} U+{ord(c):04X}") for c in odd[:3])
