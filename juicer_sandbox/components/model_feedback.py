"""RefineRecipeViaModelFeedbackHook's methods: a recipe from model feedback (a crashing stub in
the original). Each method takes the job's recipe and extra_configs and returns (recipe, info).

* ``loss_threshold``: extra_configs.dataset_path is a dataset probed by ProbeViaModelInferHook;
  the recipe adds a filter keeping samples whose model loss is at most the ``keep_quantile``
  quantile (default 0.8) or mean + ``k``*std.
* ``best_pools``: extra_configs.dataset_path lists pools ranked best first (e.g. by
  GeneralProbeHook after training a model per pool); each op's bounds become the stat range of
  the best pool split on that op's stat.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from ..core.names import DJ_STATS
from ..dj import stat_map
from ..dj.recipe import iter_ops
from ..io import iter_jsonl


def loss_threshold(recipe: dict | None, extra: dict) -> tuple[dict, dict]:
    """Keep samples whose model loss is at most a threshold (a quantile, or mean + k*std)."""
    path = extra["dataset_path"]
    losses = np.array([row[DJ_STATS]["model_loss"] for row in iter_jsonl(path)], dtype=float)
    if "k" in extra:
        threshold = float(losses.mean() + extra["k"] * losses.std(ddof=1))
        rule = f"mean + {extra['k']} * std"
    else:
        q = extra.get("keep_quantile", 0.8)
        threshold = float(np.quantile(losses, q))
        rule = f"quantile {q}"
    recipe = copy.deepcopy(recipe or {})
    recipe["dataset_path"] = path  # the probed copy: it carries the model_loss stat
    recipe.setdefault("process", []).append(
        {"specified_numeric_field_filter": {"field_key": f"{DJ_STATS}.model_loss", "max_value": threshold}})
    kept = int((losses <= threshold).sum())
    return recipe, {"method": "loss_threshold", "rule": rule, "threshold": threshold,
                    "expected_kept": kept, "samples": int(losses.size)}


def best_pools(recipe: dict | None, extra: dict) -> tuple[dict, dict]:
    """Each op's bounds from the best-ranked pools: for every top pool built by splitting on a
    stat, the ops whose bound is that stat get [min, max] of the stat over the pool."""
    pools = extra["dataset_path"]
    pools = [pools] if isinstance(pools, str) else list(pools)
    bounds: dict[str, tuple[float, float, str]] = {}
    for pool in pools:
        stat = Path(pool).parent.name  # data_pool_construction writes <export>/<stat>/<base>_<stat>_<i>.jsonl
        values = [row[DJ_STATS][stat] for row in iter_jsonl(pool) if stat in row.get(DJ_STATS, {})]
        if values and stat not in bounds:  # the best-ranked pool of a stat wins
            bounds[stat] = (float(np.min(values)), float(np.max(values)), pool)
    recipe = copy.deepcopy(recipe or {})
    changes = []
    for i, name, args in iter_ops(recipe):
        for b in stat_map.lookup(name, args):
            if b.stat not in bounds:
                continue
            lo, hi, pool = bounds[b.stat]
            new = dict(args)
            if b.min_arg:
                new[b.min_arg] = stat_map.format_bound(b, lo, upper=False)
            if b.max_arg:
                new[b.max_arg] = stat_map.format_bound(b, hi, upper=True)
            recipe["process"][i] = {name: new}
            changes.append({"op": name, "stat": b.stat, "from_pool": pool, "args": new})
    return recipe, {"method": "best_pools", "changes": changes}


METHODS = {"loss_threshold": loss_threshold, "best_pools": best_pools}
