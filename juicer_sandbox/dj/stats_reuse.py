"""Reuse per-sample stats across jobs instead of recomputing them.

Data-Juicer's filters skip a stat that is already in ``__dj__stats__`` -- by key name only,
whatever settings computed it. So every dataset we write with stats gets a sidecar
``<dataset>.stats_ops.json`` naming the ops (with their stat-affecting arguments) that
computed them. Before a recipe runs on such a dataset, stats from an op whose
stat-affecting arguments differ from the recipe's are dropped, so Data-Juicer recomputes
exactly those. Threshold arguments (min/max) do not affect a stat and are ignored.

A raw dataset that an earlier probe job already analysed is swapped for the probe's copy
with stats (``stats_sources`` in the job records), so a process job after a probe does
not compute anything twice.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.names import DJ_STATS as STATS
from ..io import abs_path, iter_jsonl, read_json, write_json, write_jsonl
from . import stat_map
from .recipe import iter_ops

# Arguments that change how an op runs or decides, never the value of the stat it computes.
_NOT_STAT_AFFECTING = {
    "num_proc", "batch_size", "min_closed_interval", "max_closed_interval", "reversed_range", "skip_op_error",
    "accelerator", "cpu_required", "gpu_required", "mem_required", "num_cpus", "num_gpus", "memory",
    "stats_export_path", "turbo", "work_dir", "auto_op_parallelism", "adaptive_batching", "batch_mode",
    "any_or_all",
}


def op_signature(name: str, args: dict) -> dict:
    """The op with defaults filled in and without threshold/execution arguments."""
    from .catalog import load_catalog

    spec = load_catalog()["ops"].get(name, {"params": {}})
    full = {k: p["default"] for k, p in spec["params"].items() if not p["required"]}
    full.update(args)
    thresholds = {a for b in stat_map.lookup(name, full) for a in b.args}
    return {"op": name, "args": {k: v for k, v in sorted(full.items())
                                 if k not in thresholds and k not in _NOT_STAT_AFFECTING}}


def recipe_signatures(recipe: dict) -> list[dict]:
    return [op_signature(name, args) for _, name, args in iter_ops(recipe)]


def sidecar(dataset_path: str | os.PathLike) -> Path:
    return Path(f"{dataset_path}.stats_ops.json")


def write_provenance(dataset_path: str | os.PathLike, recipe: dict, inherited: list[dict] | None = None) -> None:
    """Record which ops computed the stats in dataset_path (the recipe's plus inherited ones)."""
    sigs = list(inherited or [])
    for sig in recipe_signatures(recipe):
        if sig not in sigs:
            sigs.append(sig)
    write_json(sidecar(dataset_path), sigs)


def read_provenance(dataset_path: str | os.PathLike) -> list[dict] | None:
    p = sidecar(dataset_path)
    return read_json(p) if p.is_file() else None


def stale_stat_keys(recipe: dict, provenance: list[dict]) -> set[str] | None:
    """Stat keys the recipe must recompute; None means 'unknown, drop all stats'."""
    have = {json.dumps(s, sort_keys=True) for s in provenance}
    stale: set[str] = set()
    for _, name, args in iter_ops(recipe):
        sig = op_signature(name, args)
        if json.dumps(sig, sort_keys=True) in have:
            continue
        keys = stat_map.stats_keys_for(name, {**sig["args"], **args})
        if not keys and name in {s["op"] for s in provenance}:
            return None  # a differently-configured op whose stat keys we do not know
        stale.update(keys)
    return stale


def covered_by(recipe: dict, provenance: list[dict]) -> bool:
    """Every op of the recipe is a stats filter whose stats the provenance says are present."""
    have = {json.dumps(s, sort_keys=True) for s in provenance}
    ops = list(iter_ops(recipe))
    return bool(ops) and all(stat_map.stats_keys_for(name, args) and
                             json.dumps(op_signature(name, args), sort_keys=True) in have for _, name, args in ops)


def prepare_dataset(recipe: dict, stats_sources: dict, work_dir: Path) -> tuple[dict, list[dict]]:
    """Point the recipe at a dataset whose stats can be trusted; returns (recipe, inherited provenance)."""
    recipe = dict(recipe)
    path = str(recipe.get("dataset_path", ""))
    source = stats_sources.get(abs_path(path)) if path else None
    if source:
        path = source
    provenance = read_provenance(path) if path and os.path.isfile(path) else None
    if provenance is None:
        if source:
            recipe["dataset_path"] = path
        return recipe, []
    stale = stale_stat_keys(recipe, provenance)
    if stale == set():
        recipe["dataset_path"] = path
        return recipe, provenance
    cleaned = work_dir / ("restat_" + Path(path).name.replace(".gz", ""))

    def rows():
        for row in iter_jsonl(path):
            if stale is None:
                row.pop(STATS, None)
            elif STATS in row:
                row[STATS] = {k: v for k, v in row[STATS].items() if k not in stale}
            yield row

    write_jsonl(cleaned, rows())
    recipe["dataset_path"] = str(cleaned)
    kept = [] if stale is None else [s for s in provenance
                                      if not set(stat_map.stats_keys_for(s["op"], s["args"])) & stale]
    return recipe, kept
