"""The package's static import graph (ast, function-level imports included), package-internal only.

Used to key a job's reruns to the modules its code actually uses (config/fingerprint.py) and by
the layer test (tests/unit/test_import_layers.py).
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
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


def _module_deps(name: str, path: Path, source: bytes, mods: dict) -> set[str]:
    deps: set[str] = set()
    for node in ast.walk(ast.parse(source, filename=str(path))):
        for target in _targets(name, path.name == "__init__.py", node, mods):
            while target and target not in mods:  # `import a.b.c` names a module or its package
                target = target.rpartition(".")[0]
            if target and target != name:
                deps.add(target)
    return deps


def import_graph(root: Path, cache: Path | None = None) -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its source. A package's
    ``__init__`` is an edge only where it is imported by name (the package's own ones hold
    docstrings and re-exports).

    With ``cache`` (a JSON file), a module's edges are reused when its source's SHA-256 and the
    set of module names (and files) are the ones they were parsed from (parsing every module costs about
    0.5 s, hashing them a few ms); any other module is parsed again. The file keeps the edges of the
    last few module sets, so checkouts with other modules (worktrees, branches) sharing it do not evict
    each other's. A cache that cannot be read or written is ignored."""
    mods = package_modules(root)
    names_key = hashlib.sha256("\0".join(f"{m}={p.relative_to(root)}" for m, p in sorted(mods.items())).encode()).hexdigest()
    old = _read_cache(cache, names_key)
    new: dict[str, list] = {}
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        source = path.read_bytes()
        sha = hashlib.sha256(source).hexdigest()
        hit = old.get(name)
        deps = set(hit[1]) if hit and hit[0] == sha else _module_deps(name, path, source, mods)
        graph[name] = deps
        new[name] = [sha, sorted(deps)]
    if cache is not None and new != old:
        sets = {k: v for k, v in _read_sets(cache).items() if k != names_key}
        sets[names_key] = new  # the newest last; the oldest dropped
        _write_cache(cache, {"sets": dict(list(sets.items())[-CACHED_SETS:])})
    return graph


CACHED_SETS = 4


def _read_sets(cache: Path | None) -> dict:
    try:
        data = json.loads(cache.read_text(encoding="utf-8")) if cache is not None else {}
    except (OSError, ValueError):
        return {}
    sets = data.get("sets") if isinstance(data, dict) else None
    return {k: v for k, v in sets.items() if isinstance(v, dict)} if isinstance(sets, dict) else {}


def _read_cache(cache: Path | None, names_key: str) -> dict:
    return _read_sets(cache).get(names_key) or {}


def _write_cache(cache: Path, data: dict) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
        os.replace(tmp, cache)  # atomic: a concurrent reader sees the old or the new file
    except OSError:
        pass


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
