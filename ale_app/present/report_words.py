"""Temporary: the names ``ale_app/outputs/`` still imports from here, until it imports them
from their modules (:mod:`ale_app.present.page`, :mod:`ale_app.present.dependence`). Delete this module then; nothing else may import it.
"""

from ale_app.present.dependence import RESTS_ON
from ale_app.present.page import citation_markdown

__all__ = ["RESTS_ON", "citation_markdown"]
