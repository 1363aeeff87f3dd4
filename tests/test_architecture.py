"""The house rules of docs/architecture.md that a linter does not check: no import cycle between
the project's modules, and no import written inside a function (where one usually hides a cycle).
The layers themselves are import-linter contracts in pyproject.toml, run by `make test`."""

from __future__ import annotations

import ast
import sys

import grimp

from tests.support.processes import ROOT

PACKAGES = ("dashboard", "images", "flavors", "instances")

# Imports that stay inside a function, each for a reason other than a cycle.
DEFERRED = {
    # Django runs AppConfig.ready() once the app registry is loaded; apps.py itself is imported before.
    ("dashboard/apps.py", "ready"),
    ("images/apps.py", "ready"),
    ("instances/apps.py", "ready"),
    # boto3 (tens of MiB) is loaded only by a process that has an S3 store configured.
    ("images/stores/__init__.py", "_build"),
}


def _cycles(graph: grimp.ImportGraph, modules: list[str]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_no_module_of_the_project_imports_itself_through_others():
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*PACKAGES, cache_dir=None, exclude_type_checking_imports=True)
    modules = sorted(m for m in graph.modules if ".migrations" not in m)
    assert len(modules) > 150
    assert _cycles(graph, modules) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for importer, imported in (("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")):
        graph.add_import(importer=importer, imported=imported)
    assert _cycles(graph, ["a", "b", "c", "d"]) == [["a", "b", "c"]]


def _imports_inside_functions(path) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    found.append((node.name, inner.lineno))
    return found


def test_imports_are_written_at_the_top_of_modules():
    misplaced = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative:
                continue
            for function, line in _imports_inside_functions(path):
                if (relative, function) not in DEFERRED:
                    misplaced.append(f"{relative}:{line} in {function}()")
    assert misplaced == []
