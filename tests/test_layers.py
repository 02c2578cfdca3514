"""The wings stay in their floors: no ale-app module imports one from a floor above its own.

Each wing's ``__init__`` docstring says what it may import; this test holds the code to it,
reading every ``import`` (at module level and inside functions) from the source.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ale_app

PACKAGE = Path(ale_app.__file__).parent

#: From the top floor down. A module may import its own wing and any wing on a lower floor.
FLOORS = [
    ("cli", {"ale_app.cli", "ale_app.__main__"}),
    ("run", {"ale_app.run"}),
    ("outputs", {"ale_app.outputs"}),
    ("present", {"ale_app.present"}),
    ("result", {"ale_app.result"}),
    ("stats", {"ale_app.stats"}),
    ("inputs", {"ale_app.inputs"}),
    ("spec", {"ale_app.spec"}),
    ("process", {"ale_app.process"}),
    ("base", {"ale_app", "ale_app.errors", "ale_app.constants", "ale_app.digests", "ale_app.files"}),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def floor_of(module: str) -> int:
    """The floor index (0 = top) of ``module``: the longest wing prefix that holds it."""
    best, best_len = None, -1
    for index, (_name, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best is None:
        raise AssertionError(f"{module} is in no wing; add it to FLOORS")
    # The package itself holds only the version: it is the base, whatever prefix matched.
    return len(FLOORS) - 1 if module == "ale_app" else best


def imported_modules(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, module) of every ale-app module ``path`` imports."""
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "ale_app"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != "ale_app":
                continue
            for alias in node.names:  # "from ale_app.outputs import folder" imports a module
                sub = f"{base}.{alias.name}"
                found.append((node.lineno, sub if (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").exists()
                              or (PACKAGE.parent / sub.replace(".", "/")).is_dir() else base))
    return found


def all_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_wing():
    for path in all_modules():
        floor_of(module_name(path))


#: Lower wings a wing still may not import (its ``__init__`` docstring says why).
FORBIDDEN_BELOW = {("stats", "inputs"), ("spec", "process")}


def upward_imports(path: Path, module: str) -> list[str]:
    """Every import in ``path`` (the source of ``module``) of a module on a higher floor, or
    of a lower wing that :data:`FORBIDDEN_BELOW` keeps it from."""
    here = floor_of(module)
    upward = []
    for line, target in imported_modules(path, module):
        there = floor_of(target)
        if there < here or (FLOORS[here][0], FLOORS[there][0]) in FORBIDDEN_BELOW:
            upward.append(f"{module}:{line} ({FLOORS[here][0]}) imports {target} ({FLOORS[there][0]})")
    return upward


def test_no_import_runs_up_a_floor():
    upward = [u for path in all_modules() for u in upward_imports(path, module_name(path))]
    assert upward == [], "imports that run up a floor:\n" + "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path):
    """The check above fails on an upward import, even one inside a function."""
    path = tmp_path / "fake.py"
    path.write_text("import numpy\nfrom ale_app.stats import ale\n\n\ndef _f():\n"
                    "    from ale_app.present import figures\n    from ..run import workflow\n", encoding="utf-8")
    assert upward_imports(path, "ale_app.stats.fake") == [
        "ale_app.stats.fake:6 (stats) imports ale_app.present.figures (present)",
        "ale_app.stats.fake:7 (stats) imports ale_app.run.workflow (run)",
    ]
    path.write_text("def _g():\n    from ale_app.inputs.evidence import load_evidence\n", encoding="utf-8")
    assert upward_imports(path, "ale_app.stats.fake") == [
        "ale_app.stats.fake:2 (stats) imports ale_app.inputs.evidence (inputs)"]


@pytest.mark.parametrize("wing", ["spec", "inputs", "stats", "run", "outputs", "present", "process"])
def test_each_wing_says_what_it_may_import(wing):
    doc = ast.get_docstring(ast.parse((PACKAGE / wing / "__init__.py").read_text(encoding="utf-8")))
    assert doc and "import" in doc, f"ale_app/{wing}/__init__.py needs a docstring saying what it may import"


def spec_version_reads(path: Path, module: str) -> list[str]:
    """Every place in ``path`` that names ``spec_version`` (an attribute, a name, a string or
    a keyword argument), as ``module:line``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        named = ((isinstance(node, ast.Attribute) and node.attr == "spec_version")
                 or (isinstance(node, ast.Name) and node.id == "spec_version")
                 or (isinstance(node, ast.Constant) and node.value == "spec_version")
                 or (isinstance(node, ast.keyword) and node.arg == "spec_version"))
        if named:
            found.append(f"{module}:{node.lineno}")
    return found


def test_the_spec_version_is_read_in_the_spec_wing_alone():
    """One pipeline (issue 34): the spec version is read where a spec becomes its project
    (ale_app.spec.project.to_project) and in the spec models; everything above reads the
    project."""
    found = [r for path in all_modules() if module_name(path).split(".")[:2] != ["ale_app", "spec"]
             for r in spec_version_reads(path, module_name(path))]
    assert found == [], "spec_version read outside ale_app.spec:\n" + "\n".join(found)


def test_the_spec_version_check_sees_each_form(tmp_path):
    path = tmp_path / "fake.py"
    path.write_text("a = spec.spec_version\nb = getattr(spec, 'spec_version', 1)\nc = dict(spec_version=2)\n"
                    "spec_version = 3\n", encoding="utf-8")
    assert sorted(spec_version_reads(path, "m")) == ["m:1", "m:2", "m:3", "m:4"]


#: The one module that may touch NiMARE's private names (docs/development.md, ale_app/stats/__init__.py).
NIMARE_ADAPTER = "ale_app.stats.nimare_adapter"


def _private(name: str) -> bool:
    """An underscore name that is not a dunder (``nimare.__version__`` is public)."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def nimare_private_uses(path: Path, module: str) -> list[str]:
    """Every place in ``path`` that imports a private NiMARE name or reads a private attribute
    of something imported from NiMARE, as ``module:line name``.

    Seen: ``from nimare... import _x`` (and a private module on the way, ``nimare._m`` or
    ``from nimare._m import x``), attribute chains such as ``nimare.utils._x`` or
    ``U._x`` where ``U`` was bound by an import from NiMARE (at module level or inside a
    function; ``import nimare.utils as U``, ``from nimare import utils as U``, ``from
    nimare.meta.cbma.ale import ALE``), and ``getattr``/``setattr``/``hasattr``/``delattr``
    of such a name with a private string. Not seen: private attributes of objects NiMARE's
    code returns (``estimator._fit``), which no source reading can type.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound: set[str] = set()  # local names that are NiMARE modules or NiMARE objects
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] != "nimare":
                    continue
                bound.add(alias.asname or parts[0])
                found += [f"{module}:{node.lineno} {alias.name}" for p in parts if _private(p)][:1]
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "nimare":
            private_module = any(_private(p) for p in node.module.split("."))
            for alias in node.names:
                bound.add(alias.asname or alias.name)
                if private_module or _private(alias.name):
                    found.append(f"{module}:{node.lineno} {node.module}.{alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain, root = [node.attr], node.value
            while isinstance(root, ast.Attribute):
                chain.append(root.attr)
                root = root.value
            # Each private link of a chain reports itself (ast.walk visits the inner links too).
            if isinstance(root, ast.Name) and root.id in bound and _private(node.attr):
                found.append(f"{module}:{node.lineno} {'.'.join([root.id, *reversed(chain)])}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
              and isinstance(node.args[0], ast.Name) and node.args[0].id in bound
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and _private(node.args[1].value)):
            found.append(f"{module}:{node.lineno} {node.func.id}({node.args[0].id}, {node.args[1].value!r})")
    return found


def test_nimare_internals_are_touched_in_the_adapter_alone():
    """Issue 35: a private NiMARE name (``_round2``, ``_RESAMPLED_GM_PRIOR_CACHE``, ...) is
    imported or read in ``ale_app/stats/nimare_adapter.py`` only; the other modules call the
    adapter's named functions."""
    found = [u for path in all_modules() if module_name(path) != NIMARE_ADAPTER
             for u in nimare_private_uses(path, module_name(path))]
    assert found == [], "NiMARE's private names used outside the adapter:\n" + "\n".join(found)


def test_the_nimare_check_sees_each_form(tmp_path):
    """The check above fails on each form, at module level and inside functions, and lets
    public names, dunders and other libraries' private names pass."""
    path = tmp_path / "fake.py"
    path.write_text(
        "import nimare\n"                                            # 1
        "import numpy as np\n"                                       # 2
        "from nimare.utils import _round2, get_template\n"           # 3
        "from nimare import utils as U\n"                            # 4
        "\n"                                                         # 5
        "v = nimare.__version__\n"                                   # 6
        "t = get_template\n"                                         # 7
        "e = np._NoValue\n"                                          # 8
        "\n"                                                         # 9
        "\n"                                                         # 10
        "def f(masker):\n"                                           # 11
        "    from nimare.meta.utils import _get_mask_flat_to_masked as g\n"  # 12
        "    import nimare.meta.cbma.null_utils as NU\n"             # 13
        "    from nimare.meta.cbma.ale import ALE\n"                 # 14
        "    cache = U._RESAMPLED_GM_PRIOR_CACHE\n"                  # 15
        "    x = nimare.utils._mask_coverage_to_mask(masker)\n"      # 16
        "    y = NU._ale_approximate_z_from_ma\n"                    # 17
        "    z = ALE._compute_summarystat\n"                         # 18
        "    w = getattr(U, '_round2')\n"                            # 19
        "    from nimare._version import get_versions\n"             # 20
        "    import nimare._version\n"                               # 21
        "    return ALE.fit, masker._private, g\n",                  # 22
        encoding="utf-8")
    assert sorted(nimare_private_uses(path, "m"), key=lambda s: int(s.split()[0][2:])) == [
        "m:3 nimare.utils._round2",
        "m:12 nimare.meta.utils._get_mask_flat_to_masked",
        "m:15 U._RESAMPLED_GM_PRIOR_CACHE",
        "m:16 nimare.utils._mask_coverage_to_mask",
        "m:17 NU._ale_approximate_z_from_ma",
        "m:18 ALE._compute_summarystat",
        "m:19 getattr(U, '_round2')",
        "m:20 nimare._version.get_versions",
        "m:21 nimare._version",
    ]


def import_cycles(paths: list[Path]) -> list[list[str]]:
    """The import circles among the modules at ``paths`` (each a sorted list of modules that
    import one another, directly or through each other; imports inside functions count)."""
    modules = {module_name(p): p for p in paths}
    graph = {m: {t for _, t in imported_modules(p, m) if t in modules and t != m} for m, p in modules.items()}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def test_no_import_circles():
    """No two ale-app modules import each other, directly or through others (issue 35): a
    module's pieces that another needs move below both."""
    cycles = import_cycles(all_modules())
    assert cycles == [], "import circles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_circle_check_sees_a_circle(tmp_path):
    pkg = tmp_path / "ale_app" / "stats"
    pkg.mkdir(parents=True)
    (pkg / "a.py").write_text("from ale_app.stats import b\n", encoding="utf-8")
    (pkg / "b.py").write_text("def f():\n    from ale_app.stats.a import x\n", encoding="utf-8")
    (pkg / "c.py").write_text("import ale_app.stats.a\n", encoding="utf-8")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "ale_app"
    try:
        assert import_cycles(sorted(pkg.glob("*.py"))) == [["ale_app.stats.a", "ale_app.stats.b"]]
    finally:
        PACKAGE = saved


#: Words that name a kind of analysis: a module ``<kind>_<name>.py`` beside ``<name>.py`` in the
#: same wing is a second copy of one concern for that kind (one pipeline, issue 34).
ANALYSIS_KINDS = ("contrast", "project", "pair", "single", "group")


def shadow_modules(paths) -> list[str]:
    """``<kind>_<name>.py`` beside ``<name>.py`` (or beside another kind's ``<kind2>_<name>.py``)."""
    found = []
    by_folder: dict[Path, set[str]] = {}
    for path in paths:
        by_folder.setdefault(path.parent, set()).add(path.stem)
    for folder, stems in by_folder.items():
        for stem in sorted(stems):
            kind, _, rest = stem.partition("_")
            if kind not in ANALYSIS_KINDS or not rest:
                continue
            if rest in stems:
                found.append(f"{folder.name}/{stem}.py beside {folder.name}/{rest}.py")
    return found


def test_one_pipeline_has_no_module_copied_per_analysis_kind():
    """No ``contrast_report.py`` beside ``report.py``: a new kind of analysis adds its step,
    its stats, its registry entries and a report section, not a parallel module."""
    found = shadow_modules(all_modules())
    assert found == [], "modules copied per kind of analysis:\n" + "\n".join(found)


def test_the_shadow_check_sees_a_copy(tmp_path):
    for name in ("report.py", "contrast_report.py", "group_outputs.py", "contrast_outputs.py"):
        (tmp_path / name).write_text("")
    assert shadow_modules(sorted(tmp_path.glob("*.py"))) == [f"{tmp_path.name}/contrast_report.py beside "
                                                              f"{tmp_path.name}/report.py"]
