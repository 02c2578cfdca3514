"""The tests' own layout: no test module imports another, and nothing edits ``sys.path``.

A helper that more than one test module uses lives in ``tests/helpers/`` (or, for a fixture,
in ``tests/conftest.py``), never in a test module that others import: importing a test module
runs its module-level code and hands its tests to a second namespace. pytest's default
"prepend" import mode puts ``tests/`` on ``sys.path`` itself, and a script run as
``python tests/NAME.py`` has its own folder there, so no file in ``tests/`` adds an entry.
The check reads every ``import`` (at module level and inside functions) and every change to
``sys.path`` from the source of ``tests/*.py`` and ``tests/helpers/*.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def checked_files(folder: Path) -> list[Path]:
    """The Python files of a tests folder: its own and its ``helpers`` package's."""
    return sorted(folder.glob("*.py")) + sorted((folder / "helpers").glob("*.py"))


def _is_sys_path(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name)
            and node.value.id == "sys")


def _imported_modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and not node.level and node.module:
        return [node.module]
    return []


def layout_problems(folder: Path) -> list[str]:
    """``file:line: what`` for each import of a ``test_*`` module and each change to
    ``sys.path`` (a method call such as ``insert`` or ``append``, an assignment) in
    :func:`checked_files`."""
    found = []
    for path in checked_files(folder):
        name = path.relative_to(folder).as_posix()
        here = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            for module in _imported_modules(node):
                if module.split(".")[0].startswith("test_"):
                    here.append((node.lineno, f"imports the test module {module}"))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_sys_path(node.func.value):
                here.append((node.lineno, f"sys.path.{node.func.attr}"))
            targets = (node.targets if isinstance(node, ast.Assign)
                       else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
            for target in targets:
                if _is_sys_path(target) or (isinstance(target, ast.Subscript) and _is_sys_path(target.value)):
                    here.append((node.lineno, "assigns to sys.path"))
        found += [f"{name}:{line}: {what}" for line, what in sorted(here)]
    return found


def test_no_test_module_imports_another_and_nothing_edits_sys_path():
    files = {p.relative_to(TESTS).as_posix() for p in checked_files(TESTS)}
    assert {"conftest.py", "generate.py", "list_bad_cases.py", "test_subtraction.py",
            "helpers/__init__.py", "helpers/oracles.py"} <= files
    assert layout_problems(TESTS) == []


def test_the_layout_check_sees_each_form(tmp_path):
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("")
    (tmp_path / "helpers" / "shared.py").write_text("from test_b import helper\n")
    (tmp_path / "conftest.py").write_text("import sys\nsys.path.append('x')\n")
    (tmp_path / "test_a.py").write_text(
        "import sys\n"
        "from pathlib import Path\n"
        "sys.path.insert(0, str(Path(__file__).parent))\n"
        "import test_b\n"
        "from test_b import _helper\n"
        "def test_x():\n"
        "    from test_c.sub import y\n"
        "    sys.path[:0] = ['z']\n"
        "    sys.path += ['w']\n")
    (tmp_path / "test_b.py").write_text(
        "import conftest\n"
        "from conftest import offline\n"
        "from helpers.shared import helper\n"
        "from . import test_x\n"  # relative: not a top-level test module (tests/ has no __init__.py)
        "import contest_test\n"
        "text = 'sys.path.insert(0, \"in a string\")'\n")
    assert layout_problems(tmp_path) == [
        "conftest.py:2: sys.path.append",
        "test_a.py:3: sys.path.insert",
        "test_a.py:4: imports the test module test_b",
        "test_a.py:5: imports the test module test_b",
        "test_a.py:7: imports the test module test_c.sub",
        "test_a.py:8: assigns to sys.path",
        "test_a.py:9: assigns to sys.path",
        "helpers/shared.py:1: imports the test module test_b",
    ]
