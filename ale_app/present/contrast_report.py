"""Temporary: the names ``ale_app/outputs/`` still imports from here, until it imports them
from their modules (:mod:`ale_app.present.page`). Delete this module then; nothing else may import it.
"""

from ale_app.present.page import contrast_citation, contrast_report_html

__all__ = ["contrast_citation", "contrast_report_html"]
