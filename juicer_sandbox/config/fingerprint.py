"""A job's code fingerprint: the hash of every package module its hook and component use.

The modules are the transitive closure of the package-internal static imports (function-level
ones included) from the hook's module and the component's module, so editing a trainer reruns
the training jobs (and, through their changed outputs, what reads them) and nothing else.
"""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from ..core.imports import closure, import_graph, package_modules

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def graph_cache() -> Path:
    """Parsed import edges per module source hash (see core.imports.import_graph), next to the op catalogue."""
    base = Path(os.environ.get("JUICER_SANDBOX_CACHE", Path.home() / ".cache" / "juicer-sandbox"))
    return base / "import-graph.json"


@functools.lru_cache(maxsize=None)
def _graph(root: Path) -> tuple[dict, dict]:
    return import_graph(root, graph_cache()), package_modules(root)


@functools.lru_cache(maxsize=None)
def code_fingerprint(modules: tuple[str, ...], root: Path = PACKAGE_DIR) -> str:
    graph, files = _graph(root)
    h = hashlib.sha256()
    for mod in sorted(closure(graph, modules)):
        h.update(f"{mod}\0".encode())
        h.update(files[mod].read_bytes())
    return h.hexdigest()[:16]


def code_modules(modules: tuple[str, ...], root: Path = PACKAGE_DIR) -> set[str]:
    """The modules a fingerprint covers (for tests and for explaining a rerun)."""
    return closure(_graph(root)[0], modules)
