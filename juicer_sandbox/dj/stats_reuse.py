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
from .media import copy_rows
from .recipe import iter_ops

# Arguments that change how an op runs or decides, never the value of the stat it computes.
_NOT_STAT_AFFECTING = {
    "num_proc", "batch_size", "min_closed_interval", "max_closed_interval", "reversed_range", "skip_op_error",
    "accelerator", "cpu_required", "gpu_required", "mem_required", "num_cpus", "num_gpus", "memory",
    "stats_export_path", "turbo", "work_dir", "auto_op_parallelism", "adaptive_batching", "batch_mode",
    "any_or_all",
}


# Recipe-level keys Data-Juicer hands to every op that does not set them (its update_op_attr):
# which field an op reads changes the stat it computes.
_OP_ATTR_DEFAULTS = {"image_key": "images", "audio_key": "audios", "video_key": "videos",
                     "image_bytes_key": "image_bytes"}
# Recipe-level keys that change what text-and-media stats count.
_RECIPE_STAT_KEYS = ("image_special_token", "audio_special_token", "video_special_token", "eoc_special_token")


def recipe_op_attrs(recipe: dict | None) -> dict:
    """The per-op attributes a recipe's top-level keys set, as Data-Juicer derives them."""
    recipe = recipe or {}
    text_keys = recipe.get("text_keys") or "text"
    attrs = {"text_key": text_keys[0] if isinstance(text_keys, list) else text_keys}
    attrs.update({k: recipe.get(k) or d for k, d in _OP_ATTR_DEFAULTS.items()})
    attrs.update({k: recipe[k] for k in _RECIPE_STAT_KEYS if recipe.get(k) is not None})
    return attrs


def op_signature(name: str, args: dict, recipe: dict | None = None) -> dict:
    """The op with defaults and the recipe's text/media keys filled in, without threshold/execution arguments."""
    from .catalog import load_catalog

    spec = load_catalog()["ops"].get(name, {"params": {}})
    full = {k: p["default"] for k, p in spec["params"].items() if not p["required"]}
    full.update(args)
    for key, value in recipe_op_attrs(recipe).items():
        if full.get(key) is None:
            full[key] = value
    for key, default in {"text_key": "text", **_OP_ATTR_DEFAULTS}.items():
        if full.get(key) == default:
            del full[key]  # Data-Juicer's defaults: the signature stays as it was before they were recorded
    thresholds = {a for b in stat_map.lookup(name, full) for a in b.args}
    return {"op": name, "args": {k: v for k, v in sorted(full.items())
                                 if k not in thresholds and k not in _NOT_STAT_AFFECTING}}


# Recipe keys that change how a probe runs, never the stats it computes.
_NOT_STAT_KEYS = {"np", "project_name", "executor_type", "use_cache", "cache_compress", "open_tracer",
                  "trace_num", "open_monitor", "use_checkpoint", "temp_dir", "op_fusion", "export_shard_size",
                  "export_in_parallel", "keep_stats_in_res_ds", "keep_hashes_in_res_ds", "turbo", "skip_op_error"}


def stats_view(recipe: dict) -> dict:
    """What a probe's result depends on: the recipe without threshold and execution settings.

    A probe computes stats; thresholds (every argument bound to a stat in ``stat_map``) only
    decide what a filter keeps, so they are left out of the probe job's params, and editing one
    reruns the jobs that filter (refine, process) but not the probe. Op order, op names and the
    stat-affecting arguments (``rep_len``, ``lang``, ``tokenization``, ``stopwords_dir``, ...)
    stay. Ops without stats (mappers, dedup) keep every argument: they change the data.
    """
    view = {k: v for k, v in recipe.items() if k not in _NOT_STAT_KEYS and k != "process"}
    if "process" not in recipe:
        return view
    process = []
    for _, name, args in iter_ops(recipe):
        thresholds = {a for b in stat_map.STAT_MAP.get(name, ()) for a in b.args}
        if thresholds:
            args = {k: v for k, v in args.items() if k not in thresholds and k not in _NOT_STAT_AFFECTING}
        process.append({name: args})
    view["process"] = process
    return view


def recipe_signatures(recipe: dict) -> list[dict]:
    return [op_signature(name, args, recipe) for _, name, args in iter_ops(recipe)]


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
    """The sidecar's op signatures; one that does not parse vouches for nothing (stats recomputed)."""
    p = sidecar(dataset_path)
    if not p.is_file():
        return None
    try:
        sigs = read_json(p)
    except (ValueError, OSError):
        return []
    return sigs if isinstance(sigs, list) and all(isinstance(s, dict) and "op" in s for s in sigs) else []


def stale_stat_keys(recipe: dict, provenance: list[dict]) -> set[str] | None:
    """Stat keys the recipe must recompute; None means 'unknown, drop all stats'."""
    have = {json.dumps(s, sort_keys=True) for s in provenance}
    stale: set[str] = set()
    for _, name, args in iter_ops(recipe):
        sig = op_signature(name, args, recipe)
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
                             json.dumps(op_signature(name, args, recipe), sort_keys=True) in have
                             for _, name, args in ops)


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

    def rows():  # the copy lives elsewhere: media paths absolute (media.py)
        for row in copy_rows(path, iter_jsonl(path), recipe):
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
