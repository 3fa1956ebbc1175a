"""RefineRecipeViaModelFeedbackHook's methods: a recipe from model feedback (a crashing stub in
the original). Each method takes the job's recipe and extra_configs and returns (recipe, info).

* ``loss_threshold``: extra_configs.dataset_path is a dataset probed by ProbeViaModelInferHook;
  the recipe adds a filter keeping samples whose model loss is at most the ``keep_quantile``
  quantile (default 0.8) or mean + ``k``*std.
  ``stat`` names another per-sample stat (``ref_loss``: CCNet-style reference perplexity,
  components/reference_perplexity.py). With ``reference_path`` (the scored held-out reference, or the
  artifacts of the ProbeViaModelInferHook job that wrote it) the threshold is the
  ``reference_quantile`` (default 0.9) of the stat over the held-out reference: data-driven.
* ``best_pools``: extra_configs.dataset_path lists pools ranked best first (e.g. by
  GeneralProbeHook after training a model per pool); each op's bounds become the stat range of
  the best pool split on that op's stat.
* ``threshold_search``: Optuna over the recipe's op thresholds with a tiny LM's loss on a clean
  reference as the objective at a small budget, validated at a larger one; returns the recipe
  (components/threshold_search.py).
* ``reference_bounds``: every bound of the recipe's ops set from the clean reference's stat quantiles, one cut
  for all, the largest that keeps ``reference_quantile`` (default 0.9) of the reference
  (components/threshold_search.py).
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from ..core.names import DJ_STATS
from ..dj import stat_map
from ..dj.recipe import iter_ops
from ..io import iter_jsonl
from .stats_summary import numeric_leaves


def loss_threshold(recipe: dict | None, extra: dict) -> tuple[dict, dict]:
    """Keep samples whose model loss is at most a threshold (a quantile, or mean + k*std)."""
    path = extra["dataset_path"]
    path = path if isinstance(path, str) else path[0]
    stat = extra.get("stat") or "model_loss"
    losses = np.array([row[DJ_STATS][stat] for row in iter_jsonl(path)], dtype=float)
    if extra.get("reference_path"):
        from .reference_perplexity import reference_threshold

        q = extra.get("reference_quantile", 0.9)
        threshold = reference_threshold(extra["reference_path"], stat, q)
        rule = f"quantile {q} of the held-out reference"
    elif "k" in extra:
        threshold = float(losses.mean() + extra["k"] * losses.std(ddof=1))
        rule = f"mean + {extra['k']} * std"
    else:
        q = extra.get("keep_quantile", 0.8)
        threshold = float(np.quantile(losses, q))
        rule = f"quantile {q}"
    recipe = copy.deepcopy(recipe or {})
    recipe["dataset_path"] = path  # the probed copy: it carries the model_loss stat
    recipe.setdefault("process", []).append(
        {"specified_numeric_field_filter": {"field_key": f"{DJ_STATS}.{stat}", "max_value": threshold}})
    kept = int((losses <= threshold).sum())
    return recipe, {"method": "loss_threshold", "stat": stat, "rule": rule, "threshold": threshold,
                    "expected_kept": kept, "samples": int(losses.size)}


def best_pools(recipe: dict | None, extra: dict) -> tuple[dict, dict]:
    """Each op's bounds from the best-ranked pools: for every top pool built by splitting on a
    stat, the ops whose bound is that stat get [min, max] of the stat over the pool. A per-medium
    (list-valued) stat counts one value per image or video, as Data-Juicer's analyzer and k-sigma
    do (dj/stat_map.py): rows with 1 or 3 images add 1 or 3 values; non-numeric values are skipped."""
    pools = extra["dataset_path"]
    pools = [pools] if isinstance(pools, str) else list(pools)
    bounds: dict[str, tuple[float, float, str]] = {}
    for pool in pools:
        stat = Path(pool).parent.name  # data_pool_construction writes <export>/<stat>/<base>_<stat>_<i>.jsonl
        values: list[float] = []
        for row in iter_jsonl(pool):
            leaves = numeric_leaves((row.get(DJ_STATS) or {}).get(stat))
            values.extend(leaves or ())
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


def threshold_search(recipe: dict | None, extra: dict) -> tuple[dict, dict]:
    from .threshold_search import threshold_search as search

    return search(recipe, extra)


def reference_bounds(recipe: dict | None, extra: dict) -> tuple[dict, dict]:
    from .threshold_search import reference_bounds as bounds

    return bounds(recipe, extra)


METHODS = {"loss_threshold": loss_threshold, "best_pools": best_pools, "threshold_search": threshold_search,
           "reference_bounds": reference_bounds}
