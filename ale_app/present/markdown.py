"""Text for Markdown files (``CITATION.md``): names as literal text, never markup.

Markdown renderers (GitHub, GitLab, Zenodo, OSF) render archived ``CITATION.md`` files and
pass raw HTML through, so a study named ``<img src=x onerror=...>`` or ``[x](javascript:...)``
must reach the file escaped. The paragraphs are written once, as plain text, for both the
HTML page and ``CITATION.md``; :func:`markdown_text` escapes every name they may carry (and,
as a safety net, any markup they carry from a name it was not given) without touching
ale-app's own words, and ordinary names (``pain_01.nidm-1``) stay as they are typed. Escaping
never changes what a renderer shows, only that it is text. :func:`markdown_escape` escapes
a whole line that may stand at a line's start (the title heading).

May import: the standard library only.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

#: Characters a Markdown renderer may read as syntax; a name's are backslashed.
MARKDOWN_PUNCTUATION = "\\`*_{}[]()#+-.!|~>"

#: Markup ale-app's own words never write: the start of an HTML tag, comment or declaration,
#: code spans, emphasis, links, tables, strikethrough, backslash escapes, and an underscore
#: at a word's edge (``desc-jackknife_table.tsv`` keeps its own, which no renderer reads).
_STRAY_MARKUP = r"<(?=[A-Za-z/!?])|[`*\[\]\\|~]|(?<!\w)_|_(?!\w)"


def markdown_escape(text: str) -> str:
    """``text`` as literal Markdown: HTML is escaped and Markdown's punctuation backslashed
    (runs of whitespace, including line breaks, become one space)."""
    text = html.escape(" ".join(str(text).split()), quote=False)
    return "".join("\\" + ch if ch in MARKDOWN_PUNCTUATION else ch for ch in text)


#: In a name inside a paragraph: the characters that start markup there (HTML tags and
#: entities, code spans, emphasis, links and images, strikethrough, table cells, escapes).
_NAME_MARKUP = re.compile(r"[<>&]|[`*\[\]\\|~]|(?<!\w)_|_(?!\w)")


def _escape_char(ch: str) -> str:
    return {"<": "&lt;", ">": "&gt;", "&": "&amp;"}.get(ch) or "\\" + ch


def markdown_name(name: str) -> str:
    """A name as literal Markdown inside a paragraph: ``< > &`` as HTML entities, and code,
    emphasis, link, strikethrough and table characters backslashed; ordinary names
    (``pain_01.nidm-1``, ``Smith et al. 2010-faces``) are unchanged. Runs of whitespace,
    including line breaks, become one space."""
    return _NAME_MARKUP.sub(lambda m: _escape_char(m.group(0)), " ".join(str(name).split()))


def markdown_text(text: str, names: Iterable[str]) -> str:
    """Plain ``text`` (a paragraph ale-app wrote) as Markdown: each occurrence of each of
    ``names`` (ids, study and group names, file names) escaped by :func:`markdown_name`,
    longest first, in one pass; then markup from anywhere else escaped too (an HTML tag's
    ``<`` as ``&lt;``; ``` ` * [ ] \\ | ~ ``` and an underscore at a word's edge backslashed)."""
    wanted = sorted({n for n in map(str, names) if n and markdown_name(n) != n and n in text},
                    key=lambda n: (-len(n), n))
    parts = [re.escape(n) for n in wanted] + [_STRAY_MARKUP]
    pattern = re.compile("|".join(f"(?:{p})" for p in parts))
    known = set(wanted)

    def escape(match: re.Match) -> str:
        found = match.group(0)
        return markdown_name(found) if found in known else _escape_char(found)

    return pattern.sub(escape, text)
