"""The package's shape, read from the modules' own source with ``ast`` (nothing is imported).

* The import graph of ``lm_eval_values`` (module-level AND function-level imports) has no cycles.
* Dependencies run one way: ``core`` imports nothing else of the package; analysis stages never
  import the study, the report never imports command modules, nothing below ``cli`` imports ``cli``.
* Every module is under :data:`MAX_LINES` lines (exceptions must be listed with a reason).
* ``steering_hooks`` stays standalone: it imports nothing from ``lm_eval`` or ``lm_eval_values``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "lm_eval_values"
STEERING_HOOKS = REPO / "steering_hooks"
TASKS_PACKAGE = "lm_eval_values.tasks"
MAX_LINES = 400
#: module -> reason it may be longer than MAX_LINES (keep empty: split long modules instead)
LONG_MODULE_EXCEPTIONS: dict[str, str] = {}


def module_name(path: Path, root: Path) -> str:
    """Dotted module name of ``path`` inside the package folder ``root``."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_modules(root: Path) -> dict[str, Path]:
    """``{dotted name: file}`` of every module of a package folder."""
    return {module_name(p, root): p for p in sorted(root.rglob("*.py")) if "__pycache__" not in p.parts}


def imports(path: Path, name: str) -> list[tuple[str, list[str]]]:
    """Every import of ``path`` anywhere (module level, functions, classes) as ``(module, [names])``.

    ``import a.b`` gives ``("a.b", [])``; ``from a import b, c`` gives ``("a", ["b", "c"])``; relative
    imports are resolved against the module's own package.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            stem = node.module or ""
            if node.level:
                base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            out.append((stem, [alias.name for alias in node.names]))
    return out


def imported_names(path: Path, name: str) -> set[str]:
    """The dotted names ``path`` imports: modules, and ``module.name`` for each name of a from-import."""
    return {f"{stem}.{n}" if n else stem for stem, names in imports(path, name) for n in (names or [""])}


def _known(target: str, modules: dict[str, Path]) -> str:
    """The deepest module of the package that ``target`` names ("" if none).

    ``lm_eval_values.tasks`` (the task folders, shipped from ``tasks/``) holds lm-eval hooks, not
    package code: it is outside the graph.
    """
    if target == TASKS_PACKAGE or target.startswith(TASKS_PACKAGE + "."):
        return ""
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target


def import_graph() -> nx.DiGraph:
    """Directed graph module -> imported module over the modules of ``lm_eval_values``.

    An import of ``lm_eval_values.x.y`` is an edge to that module (Python also runs the parent
    packages' ``__init__``; edges to the top-level ``__init__`` are counted only for imports of
    names it defines, e.g. ``from lm_eval_values import get_task_manager``).
    """
    modules = package_modules(PACKAGE)
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for stem, names in imports(path, name):
            targets = [_known(f"{stem}.{n}", modules) for n in names] if names else [_known(stem, modules)]
            for target in targets:
                if target and target != name:
                    graph.add_edge(name, target)
    return graph


def test_the_graph_sees_the_whole_package():
    graph = import_graph()
    assert {"lm_eval_values.core.errors", "lm_eval_values.cli", "lm_eval_values.causal.graph",
            "lm_eval_values.study.run"} <= set(graph.nodes)
    assert graph.number_of_edges() > 100


def test_no_import_cycles():
    graph = import_graph()
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c + [c[0]]) for c in cycles[:10])


def _imports_of(prefix: str) -> set[tuple[str, str]]:
    graph = import_graph()
    return {(u, v) for u, v in graph.edges() if u == prefix or u.startswith(prefix + ".")}


def _outside(edges: set[tuple[str, str]], allowed: tuple[str, ...]) -> list[tuple[str, str]]:
    return sorted((u, v) for u, v in edges if not any(v == a or v.startswith(a + ".") for a in allowed))


def test_core_depends_on_nothing_else_of_the_package():
    bad = _outside(_imports_of("lm_eval_values.core"), ("lm_eval_values.core",))
    assert not bad, bad


def test_result_readers_depend_on_core_only():
    """Every stage writes through ``results`` and the report reads through it: it sits just above ``core``."""
    bad = _outside(_imports_of("lm_eval_values.results"), ("lm_eval_values.core", "lm_eval_values.results"))
    assert not bad, bad


@pytest.mark.parametrize("layer, forbidden", [
    ("lm_eval_values.values", ("lm_eval_values.integration", "lm_eval_values.model", "lm_eval_values.sweep",
                               "lm_eval_values.matrix", "lm_eval_values.causal", "lm_eval_values.analysis",
                               "lm_eval_values.sae", "lm_eval_values.study", "lm_eval_values.report",
                               "lm_eval_values.cli")),
    ("lm_eval_values.matrix", ("lm_eval_values.sweep", "lm_eval_values.causal", "lm_eval_values.analysis",
                               "lm_eval_values.study", "lm_eval_values.report", "lm_eval_values.cli")),
    ("lm_eval_values.causal", ("lm_eval_values.sweep", "lm_eval_values.analysis", "lm_eval_values.study",
                               "lm_eval_values.report", "lm_eval_values.cli")),
    ("lm_eval_values.analysis", ("lm_eval_values.study", "lm_eval_values.report", "lm_eval_values.cli")),
    ("lm_eval_values.sae", ("lm_eval_values.study", "lm_eval_values.report", "lm_eval_values.cli")),
    ("lm_eval_values.report", ("lm_eval_values.study", "lm_eval_values.cli")),
    ("lm_eval_values.study", ("lm_eval_values.cli",)),
])
def test_dependencies_run_one_way(layer, forbidden):
    bad = [(u, v) for u, v in _imports_of(layer) if any(v == f or v.startswith(f + ".") for f in forbidden)]
    assert not bad, bad


def test_only_the_cli_imports_the_cli():
    graph = import_graph()
    bad = sorted((u, v) for u, v in graph.edges()
                 if v.startswith("lm_eval_values.cli") and not u.startswith("lm_eval_values.cli"))
    assert not bad, bad


@pytest.mark.parametrize("root", [PACKAGE, STEERING_HOOKS], ids=["lm_eval_values", "steering_hooks"])
def test_modules_are_short(root):
    long = {name: n for name, path in package_modules(root).items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) >= MAX_LINES}
    unexplained = {k: v for k, v in long.items() if k not in LONG_MODULE_EXCEPTIONS}
    assert not unexplained, f"modules of {MAX_LINES} lines or more (split them): {unexplained}"


def test_steering_hooks_is_standalone():
    for name, path in package_modules(STEERING_HOOKS).items():
        bad = sorted(t for t in imported_names(path, name)
                     if t.split(".")[0] in ("lm_eval", "lm_eval_values"))
        assert not bad, f"{name} imports {bad}"


def test_relative_imports_are_resolved():
    """The resolver itself: a relative import names a module of the package, not a bare stem."""
    names = imported_names(STEERING_HOOKS / "__init__.py", "steering_hooks")
    assert not any(n.startswith(".") for n in names)


def test_no_import_of_the_package_is_allowed_to_fail_silently():
    """No ``try: import lm_eval_values.x`` with an ``except``: a broken module must fail loudly."""
    bad = []
    for name, path in package_modules(PACKAGE).items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Try) or not node.handlers:
                continue
            for inner in (n for stmt in node.body for n in ast.walk(stmt)):
                if isinstance(inner, ast.ImportFrom) and (inner.level or (inner.module or "").startswith("lm_eval_values")):
                    bad.append(f"{name}:{inner.lineno}")
                elif isinstance(inner, ast.Import) and any(a.name.startswith("lm_eval_values") for a in inner.names):
                    bad.append(f"{name}:{inner.lineno}")
    assert not bad, bad
