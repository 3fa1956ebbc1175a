"""The package's static import graph (ast, function-level imports included), package-internal only.

Used to key a job's reruns to the modules its code actually uses (config/fingerprint.py) and by
the layer test (tests/unit/test_import_layers.py).
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "juicer_sandbox"


def package_modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package under `root` (the package dir)."""
    mods = {}
    for path in sorted(root.rglob("*.py")):
        parts = (PACKAGE,) + path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _targets(module: str, is_pkg: bool, node: ast.AST, known: dict) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".")
        base = base[: len(base) - node.level + (1 if is_pkg else 0)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in known else prefix for a in node.names]


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its source. A package's
    ``__init__`` is an edge only where it is imported by name (the package's own ones hold
    docstrings and re-exports)."""
    mods = package_modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            for target in _targets(name, path.name == "__init__.py", node, mods):
                while target and target not in mods:  # `import a.b.c` names a module or its package
                    target = target.rpartition(".")[0]
                if target and target != name:
                    deps.add(target)
        graph[name] = deps
    return graph


def closure(graph: dict[str, set[str]], starts) -> set[str]:
    """Every module reachable from `starts`, the starts included."""
    seen: set[str] = set()
    todo = [s for s in starts if s in graph]
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        todo.extend(graph[mod])
    return seen
