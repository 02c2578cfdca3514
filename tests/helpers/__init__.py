"""Helpers the test modules share; none of these modules is a test module.

pytest (default "prepend" import mode, no ``tests/__init__.py``) puts ``tests/`` on
``sys.path`` before it imports ``conftest.py`` and the test modules, so a test imports
``from helpers.oracles import ...`` with no ``sys.path`` entry of its own. A test module
never imports another test module (tests/test_test_layout.py checks it); fixtures shared
across modules are in ``tests/conftest.py``.

- :mod:`helpers.studysets`: the evidence bases of the oracle tests (the pain studyset and
  its two groups, the seeded generator's groups, the planted dataset) and ale-app's fits.
- :mod:`helpers.oracles`: NiMARE's own computations, run in the test, to compare against.
- :mod:`helpers.reports`: reading a report's tables back, and its words written by hand.
- :mod:`helpers.runs`: comparing output folders, interrupting runs, re-running the
  NiMARE script a run writes, and the small fast spec.
- :mod:`helpers.tables`: the hand-written coordinate table (workbook and CSV) and
  ``--validate-only`` runs of it.
- :mod:`helpers.bad_cases`: the bad-input corpus (tests/data/bad/cases.yaml); also read by
  ``python tests/list_bad_cases.py``.

``tests/generate.py`` (the seeded evidence-base generator, also a script) stays in
``tests/`` and is imported as ``generate``.
"""
