"""Stats stored per op: a probe recomputes only the ops whose stat-affecting arguments changed.

A probe of a raw dataset (no stats yet) with a filters-only recipe keeps, in its scratch
directory (which survives reruns of the job), one file per op holding that op's stat columns,
named by a hash of the dataset (absolute path, size, mtime), the recipe's data settings
(``text_keys``, ...) and the op's signature (``stats_reuse.op_signature``: name plus the
arguments that change its stat). Next to them, the rows as Data-Juicer loaded them, without
stats. When the probe reruns (its params changed: an op added, removed, or one op's
``rep_len``/``lang``/... edited), Data-Juicer computes only the ops without a stored file and the
result is merged from the stored columns, in recipe order, as one run would have given it.

Not used (everything is computed, as before) when an op is not a stats filter (a mapper
changes the text; deduplicators are passed over, a probe computes nothing for them), when two ops
write the same stat key, when the dataset carries stats, or when an op failed on some samples
(Data-Juicer dropped them, so stored columns would not line up with the rows).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from ..core.names import DJ_STATS as STATS
from ..errors import SandboxError
from ..io import atomic_path, iter_jsonl
from . import stat_map
from .recipe import iter_ops


def _hash(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:20]


def cacheable_ops(recipe: dict) -> list[tuple[str, dict, list[str]]] | None:
    """(name, args, stat keys) per op when every op is a stats filter with its own keys; else None."""
    from .catalog import load_catalog

    catalog = load_catalog()["ops"]
    ops, seen = [], set()
    for _, name, args in iter_ops(recipe):
        if name.endswith("_deduplicator") and catalog.get(name, {}).get("kind") == "other":
            continue  # a probe computes no stats for it (engine._stat_ops): nothing to store
        keys = stat_map.stats_keys_for(name, args)
        if catalog.get(name, {}).get("kind") != "filter" or not keys or seen & set(keys):
            return None
        seen.update(keys)
        ops.append((name, args, keys))
    return ops or None


def _dataset_key(recipe: dict) -> str | None:
    from .stats_reuse import stats_view

    path = str(recipe.get("dataset_path", ""))
    if not path or not os.path.isfile(path):
        return None
    st = os.stat(path)
    settings = {k: v for k, v in stats_view(recipe).items() if k not in ("process", "export_path", "percentiles")}
    return _hash({"path": os.path.abspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                  "settings": settings, "rows": "absolute-media"})  # rows stored since media paths are absolute


def compute_stats_per_op(recipe: dict, cache: Path, work_dir: Path, out_path: Path, np: int = 1,
                         stats_path: Path | None = None) -> dict | None:
    """Write the dataset with every op's stats to out_path, computing only ops not in `cache`; with
    `stats_path`, also the stats alone ({STATS: ...} per row), in the same pass.

    Returns {"rows", "computed", "reused"} (op names), or None when the recipe does not qualify.
    """
    from .engine import compute_stats
    from .stats_reuse import op_signature

    ops = cacheable_ops(recipe)
    base_key = _dataset_key(recipe) if ops else None
    if base_key is None:
        return None
    cache.mkdir(parents=True, exist_ok=True)
    base = cache / f"{base_key}.rows.jsonl"
    files = [cache / f"{_hash([base_key, op_signature(name, args)])}.jsonl" for name, args, _ in ops]
    missing = [i for i, f in enumerate(files) if not f.is_file()]
    if missing or not base.is_file():
        sub = {**recipe, "process": [{ops[i][0]: ops[i][1]} for i in missing]}
        computed = work_dir / "computed.jsonl"
        lost: list = []
        compute_stats(sub, work_dir / "dj", computed, np=np, warnings=lost)
        if lost:  # an op dropped samples: stored columns would not line up with the rows
            computed.unlink(missing_ok=True)
            return None
        targets = _attribute(computed, [(files[i], list(ops[i][2])) for i in missing])
        if targets is None:
            return None  # a stat key we cannot attribute to one op: compute everything together
        n = _split(computed, base, targets, files, out_path, stats_path)
        computed.unlink()
    else:
        n = write_with_stats(_merge(base, files), out_path, stats_path)
    return {"rows": n, "computed": [ops[i][0] for i in missing],
            "reused": [ops[i][0] for i in range(len(ops)) if i not in missing]}


def _attribute(computed: Path, targets: list[tuple[Path, list[str]]]):
    """Every stat key Data-Juicer wrote belongs to one op: extra keys go to a lone op, else None."""
    first = next(iter_jsonl(computed), None)
    extra = set((first or {}).get(STATS) or {}) - {k for _, keys in targets for k in keys}
    if not extra:
        return targets
    if len(targets) != 1:
        return None
    return [(targets[0][0], targets[0][1] + sorted(extra))]


def _split(computed: Path, base: Path, targets: list[tuple[Path, list[str]]], files: list[Path], out_path: Path,
           stats_path: Path | None) -> int:
    """Store the rows without stats and each computed op's stat columns, one file each; and, in the same
    pass, write the merged dataset (every op's columns in recipe order, stored ones read back) to out_path,
    as `_merge` would from the stored files."""
    handles = {path: open(f"{path}.tmp", "w", encoding="utf-8") for path, _ in targets}
    stored = [None if f in handles else iter_jsonl(f) for f in files]
    try:
        def rows():
            for row in iter_jsonl(computed):
                stats = row.pop(STATS, None) or {}
                columns = {}
                for path, keys in targets:
                    columns[path] = {k: stats.get(k) for k in keys}
                    handles[path].write(json.dumps(columns[path], ensure_ascii=False) + "\n")
                merged: dict = {}
                for f, reader in zip(files, stored):
                    merged.update(columns[f] if reader is None else _next_row(reader, f))
                yield row, merged

        with _writer(base) as base_fh:
            def lines():
                for row, merged in rows():
                    line = json.dumps(row, ensure_ascii=False)
                    base_fh.write(line + "\n")
                    yield _with_stats(line, merged), merged

            n = _write_lines(lines(), out_path, stats_path)
    finally:
        for fh in handles.values():
            fh.close()
    for path, _ in targets:
        os.replace(f"{path}.tmp", path)
    return n


def _next_row(reader, path: Path) -> dict:
    row = next(reader, None)
    if row is None:
        raise SandboxError(f"{path}: stored stats have fewer rows than the dataset; remove {path.parent} "
                           f"(the probe recomputes them)")
    return row


def _with_stats(row_line: str, stats: dict) -> str:
    """json.dumps({**row, STATS: stats}) from json.dumps(row) (row without STATS): the text is not encoded twice."""
    tail = f"{json.dumps(STATS)}: {json.dumps(stats, ensure_ascii=False)}}}"
    return "{" + tail if row_line == "{}" else f"{row_line[:-1]}, {tail}"


def write_with_stats(rows, out_path: Path, stats_path: Path | None) -> int:
    """Rows (with their stats) as JSON lines to out_path and, in the same pass, {STATS: stats} per row to
    stats_path (when given). Returns the row count."""
    def lines():
        for row in rows:
            yield json.dumps(row, ensure_ascii=False), row.get(STATS, {})

    return _write_lines(lines(), out_path, stats_path)


def _write_lines(lines, out_path: Path, stats_path: Path | None) -> int:
    """Write (dataset line, stats) pairs: the lines to out_path, {STATS: stats} to stats_path."""
    n = 0
    with _writer(out_path) as out, _writer(stats_path) as st:
        for line, stats in lines:
            out.write(line + "\n")
            if st is not None:
                st.write(json.dumps({STATS: stats}, ensure_ascii=False) + "\n")
            n += 1
    return n


@contextlib.contextmanager
def _writer(path: Path | None):
    """A text file written atomically (io.atomic_path); no path, no file (None)."""
    if path is None:
        yield None
        return
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        yield fh


def _merge(base: Path, files: list[Path]):
    readers = [iter_jsonl(f) for f in files]
    for row, *columns in zip(iter_jsonl(base), *readers):
        stats: dict = {}
        for col in columns:
            stats.update(col)
        row[STATS] = stats
        yield row
