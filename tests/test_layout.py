"""The package's layout keeps its promises: the flow of data is the import graph (no circles, each
stage importing only the ones before it), no module reaches into another's private names, and the
public surface is classifier/__init__.py."""

from __future__ import annotations

import ast
from pathlib import Path

import classifier

PACKAGE = Path(classifier.__file__).resolve().parent
ORDER = ["labels", "results", "cells", "policy", "parse", "classify", "weigh", "recommend", "run", "triage",
         "training", "frontends"]
"""The stages, earliest first: a module may import from its own stage and the ones before it (the
triage facade composes run's stages; training reads what frontends' screen retrains with)."""
ALLOWED_LATER = {("run", "triage"), ("frontends", "training")}
"""Imports of a later stage that the design means: the batch loads the facade in its workers, the
screen retrains through training."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool) -> list[tuple[str, list[str], int]]:
    """(module imported, names, line) of the package's own imports in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks run no import
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("classifier") and not node.level:
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names if alias.name.startswith("classifier")]
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "models" not in p.parts}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for module, names, _ in _imports(path, top_level_only=True):
            for candidate in [f"{module}.{n}" for n in names] + [module]:
                if candidate in modules and candidate != name:
                    targets.add(candidate)
                    break
        graph[name] = targets
    return graph


def test_no_module_imports_itself_round_a_circle():
    graph, state, cycles = _graph(), {}, []

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in graph[node]:
            if state.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_each_stage_imports_only_earlier_ones():
    late = []
    for name, targets in _graph().items():
        here = _stage(name)
        if here not in ORDER:
            continue
        for target in targets:
            there = _stage(target)
            if there in ORDER and ORDER.index(there) > ORDER.index(here) and (here, there) not in ALLOWED_LATER:
                late.append(f"{name} imports {target}")
    assert late == []


def test_no_module_imports_another_modules_private_name():
    private = []
    for path in PACKAGE.rglob("*.py"):
        for module, names, line in _imports(path, top_level_only=False):
            private += [f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}.{n}"
                        for n in names if n.startswith("_") and n != "__version__"]
    assert private == []


def test_the_public_surface_is_the_package_itself():
    assert set(classifier.__all__) == {"ACTIONS", "LABELS", "Assessment", "Classification", "Classifier", "Event",
                                       "FormatError", "Ledger", "LedgerError", "Message", "ModelError", "Triage"}
    assert all(getattr(classifier, name) is not None for name in classifier.__all__)
    app = ast.parse((PACKAGE.parent / "app.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(app) if isinstance(node, ast.ImportFrom) and node.module}
    assert {m for m in imported if m.startswith("classifier")} <= {"classifier", "classifier.frontends"}
