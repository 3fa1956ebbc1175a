"""The import graph's cache (core/imports.py) gives the graph a fresh parse gives, also after an edit."""
from juicer_sandbox.core.imports import import_graph


def _package(tmp_path):
    pkg = tmp_path / "juicer_sandbox"
    (pkg / "config").mkdir(parents=True)
    (pkg / "config" / "a.py").write_text("from . import b\n")
    (pkg / "config" / "b.py").write_text("x = 1\n")
    (pkg / "config" / "c.py").write_text("def f():\n    from .b import x\n")
    return pkg


def test_cached_graph_equals_a_fresh_parse_before_and_after_edits(tmp_path):
    pkg, cache = _package(tmp_path), tmp_path / "cache" / "graph.json"
    fresh = import_graph(pkg)
    assert import_graph(pkg, cache) == fresh and cache.is_file()
    assert import_graph(pkg, cache) == fresh  # from the cache
    (pkg / "config" / "b.py").write_text("from .c import f\n")  # an edited module is parsed again
    assert import_graph(pkg, cache) == import_graph(pkg)
    assert import_graph(pkg, cache)["juicer_sandbox.config.b"] == {"juicer_sandbox.config.c"}
    (pkg / "config" / "d.py").write_text("from . import a\n")  # a new module: every edge is checked again
    assert import_graph(pkg, cache) == import_graph(pkg)


def test_an_unreadable_cache_is_ignored(tmp_path):
    pkg, cache = _package(tmp_path), tmp_path / "graph.json"
    cache.write_text("{not json")
    assert import_graph(pkg, cache) == import_graph(pkg)


def test_checkouts_with_other_modules_keep_their_edges(tmp_path, monkeypatch):
    from juicer_sandbox.core import imports

    one, cache = _package(tmp_path / "one"), tmp_path / "graph.json"
    other = _package(tmp_path / "other")
    (other / "config" / "e.py").write_text("from . import c\n")  # another module set
    import_graph(one, cache)
    import_graph(other, cache)
    parsed = []
    real = imports._module_deps
    monkeypatch.setattr(imports, "_module_deps", lambda *a: parsed.append(a[0]) or real(*a))
    assert import_graph(one, cache) == import_graph(one) and import_graph(other, cache) == import_graph(other)
    assert len(parsed) == 3 + 4  # only the two uncached reference calls parsed: both sets came from the one file
