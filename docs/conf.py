"""Sphinx configuration of ale-app's docs site: the Markdown pages of docs/ read by myst-parser,
Sphinx's own plain theme (alabaster), nothing fetched from the network.

Build it as CI does (tests/test_docs_build.py), warnings as errors::

    sphinx-build -W --keep-going -b html docs docs/_build/html

The reference pages (docs/reference/) are generated from the code by docs/gen_reference.py;
the build checks them first and fails (a warning) when one is stale.
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))  # gen_reference, beside this file

from ale_app import __version__  # noqa: E402

project = "ale-app"
author = "The ale-app developers"
version = release = __version__
extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
# GitHub's heading anchors (#compiled-kernels-the-first-run), so links work on GitHub and here;
# a link to a missing page or anchor is a warning.
myst_heading_anchors = 4
html_theme = "alabaster"
html_theme_options = {"nosidebar": False, "page_width": "1100px"}
html_static_path: list[str] = []
html_show_sourcelink = False


def _check_reference(app):
    from sphinx.util import logging

    import gen_reference

    for page in gen_reference.stale_pages():
        logging.getLogger(__name__).warning(
            "%s is stale: it differs from what the code generates; run `python docs/gen_reference.py`", page)


def setup(app):
    app.connect("builder-inited", _check_reference)
