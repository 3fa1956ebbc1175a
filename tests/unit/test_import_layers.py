"""The package's layers: imports (function-level ones included) only point to the same or a
lower layer, and no module imports itself back through others. The README draws this order."""
from pathlib import Path

import juicer_sandbox
from juicer_sandbox.core.imports import import_graph

# Lowest first. A module belongs to the first group whose name is its top-level part.
LAYERS = [
    ("base", ["errors", "io", "core"]),
    ("libraries", ["dj", "models", "hpo", "envs", "pip_sources", "gpus", "progress", "families"]),
    ("components", ["components"]),
    ("config", ["config"]),
    ("hooks", ["hooks"]),
    ("entry points", ["summary", "report", "report_pages", "report_figures", "report_svg", "snakemake_glue", "cli", "stale", "doctor",
                      "noop", "__main__"]),
]
ROOT = Path(juicer_sandbox.__file__).parent
GRAPH = import_graph(ROOT)


def layer_of(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return len(LAYERS)  # the package's own __init__: above everything, imports nothing
    for i, (_, tops) in enumerate(LAYERS):
        if parts[1] in tops:
            return i
    raise AssertionError(f"{module} is in no layer: add its top-level name to LAYERS (and the README)")


def test_every_module_has_a_layer():
    for module in GRAPH:
        layer_of(module)


def test_the_graph_sees_function_level_and_relative_imports():
    # runner imports components.registry inside a method; plan imports iterations at the top
    assert "juicer_sandbox.components.registry" in GRAPH["juicer_sandbox.hooks.runner"]
    assert "juicer_sandbox.config.iterations" in GRAPH["juicer_sandbox.config.plan"]
    assert "juicer_sandbox.dj.stat_map" in GRAPH["juicer_sandbox.dj.stats_reuse"]  # from . import stat_map


def test_no_import_points_up():
    upward = [f"{m} ({LAYERS[layer_of(m)][0]}) -> {d} ({LAYERS[layer_of(d)][0]})"
              for m, deps in GRAPH.items() for d in deps if layer_of(d) > layer_of(m)]
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles = []

    def visit(module, path):
        state[module] = 1
        for dep in sorted(GRAPH[module]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join(path[path.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, path + [dep])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_a_cycle_would_be_found(tmp_path):
    pkg = tmp_path / "juicer_sandbox"
    (pkg / "config").mkdir(parents=True)
    (pkg / "config" / "a.py").write_text("def f():\n    from .b import g\n")
    (pkg / "config" / "b.py").write_text("from . import a\n")
    graph = import_graph(pkg)
    assert graph["juicer_sandbox.config.a"] == {"juicer_sandbox.config.b"}
    assert graph["juicer_sandbox.config.b"] == {"juicer_sandbox.config.a"}
