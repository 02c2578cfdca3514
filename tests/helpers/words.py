"""Checks of the report's words that several tests apply: spec keys in prose, the
recommendation a cited paper makes, and the length of a paragraph.
"""

from __future__ import annotations

import re

#: A spec key written as in the spec ("inference.min_experiments", "ale.sample_size").
SPEC_KEY = re.compile(r"\b(?:input|ale|inference|jackknife|display|report|figures|labels|robustness|contrast|"
                      r"stability|failsafe)\.[a-z_]+\b|\bmode: (?:inferential|descriptive)\b")

#: What Eickhoff et al. (2016) recommend: at least 17 to 20 experiments per analysis.
EICKHOFF_2016 = {17, 20}

#: The ways a sentence quotes that recommendation (each group: a number it attributes to the paper).
QUOTES = (
    r"the (\d+)(?: to (\d+))? (?:experiments )?that Eickhoff et al\.,? \(?2016",
    r"Eickhoff et al\.,? \(?2016\)?,? recommends? (?:at least )?(\d+)(?: to (\d+))?",
    r"at least (\d+)(?: to (\d+))? experiments[^.;]*?Eickhoff et al\.,? \(?2016",
    r"fewer than (?:the )?(\d+)(?: to (\d+))?[^.;]*?Eickhoff et al\.,? \(?2016",
)


def spec_keys(text: str) -> list[str]:
    """The spec keys ``text`` names."""
    return SPEC_KEY.findall(text)


def misquoted(text: str) -> list[str]:
    """The numbers of experiments ``text`` attributes to Eickhoff et al. (2016) that the
    paper does not recommend (its recommendation is 17 to 20)."""
    found = []
    for pattern in QUOTES:
        for match in re.finditer(pattern, text):
            found += [int(n) for n in match.groups() if n and int(n) not in EICKHOFF_2016]
    return found


def word_count(text: str) -> int:
    return len(text.split())
