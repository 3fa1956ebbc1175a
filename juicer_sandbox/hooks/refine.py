"""Refine hooks: a new Data-Juicer recipe from probe results or model feedback."""
from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np

from ..core.names import DJ_STATS
from ..errors import ComponentConfigError
from ..io import iter_jsonl, write_json
from .runner import Result, Run

log = logging.getLogger(__name__)


def _recipe_out(run: Run, key: str, default: str) -> Path:
    name = Path(run.extra.get(key) or default).name
    if not name.endswith((".yaml", ".yml", ".json")):
        raise ComponentConfigError(f"must end in .yaml, .yml or .json, got {name!r}", key=key)
    return run.artifacts / name


def refine_via_ksigma(run: Run) -> Result:
    """RefineRecipeViaKSigmaHook: each filter's bounds at mean +/- k*std of the probed stat.

    extra_configs: path_k_sigma_recipe (export path, .yaml/.yml/.json), k (default 3),
    only_existing_args (default false: set both bounds of every mapped filter), tighten_only
    (default false: never loosen a bound the recipe sets). Reads the per-sample stats of the
    probe job with the same meta_name (the pairing in core/hooktable.py; no wandb).
    """
    from ..components.ksigma import refine_from_stats
    from ..dj.recipe import write_recipe

    extra = run.extra
    k = extra.get("k", 3)
    stats_rows = (row.get(DJ_STATS, {}) for row in iter_jsonl(extra["stats_path"]))
    refined, changes = refine_from_stats(run.dj or {}, stats_rows, k=k,
                                         only_existing_args=bool(extra.get("only_existing_args", False)),
                                         tighten=bool(extra.get("tighten_only")))
    out = _recipe_out(run, "path_k_sigma_recipe", "k_sigma_recipe.yaml")
    write_recipe(refined, out)
    write_json(run.artifacts / "changes.json", changes)
    set_count = sum(1 for c in changes if c.get("action") == "set")
    log.info("k=%s: %d bounds set, %d ops skipped", k, set_count, sum(1 for c in changes if c.get("action") != "set"))
    return Result(outputs=str(out), metrics={"k": k, "bounds_set": set_count, "changes": changes},
                  exports={"extra_configs.path_k_sigma_recipe": str(out)})


def _loss_threshold(run: Run) -> tuple[dict, dict]:
    """Keep samples whose model loss is at most a threshold (a quantile, or mean + k*std)."""
    extra = run.extra
    path = extra["dataset_path"]
    losses = np.array([row[DJ_STATS]["model_loss"] for row in iter_jsonl(path)], dtype=float)
    if "k" in extra:
        threshold = float(losses.mean() + extra["k"] * losses.std(ddof=1))
        rule = f"mean + {extra['k']} * std"
    else:
        q = extra.get("keep_quantile", 0.8)
        threshold = float(np.quantile(losses, q))
        rule = f"quantile {q}"
    recipe = copy.deepcopy(run.dj or {})
    recipe["dataset_path"] = path  # the probed copy: it carries the model_loss stat
    recipe.setdefault("process", []).append(
        {"specified_numeric_field_filter": {"field_key": f"{DJ_STATS}.model_loss", "max_value": threshold}})
    kept = int((losses <= threshold).sum())
    return recipe, {"method": "loss_threshold", "rule": rule, "threshold": threshold,
                    "expected_kept": kept, "samples": int(losses.size)}


def _best_pools(run: Run) -> tuple[dict, dict]:
    """Each op's bounds from the best-ranked pools: for every top pool built by splitting on a
    stat, the ops whose bound is that stat get [min, max] of the stat over the pool."""
    from ..dj import stat_map
    from ..dj.recipe import iter_ops

    pools = run.extra["dataset_path"]
    pools = [pools] if isinstance(pools, str) else list(pools)
    bounds: dict[str, tuple[float, float, str]] = {}
    for pool in pools:
        stat = Path(pool).parent.name  # data_pool_construction writes <export>/<stat>/<base>_<stat>_<i>.jsonl
        values = [row[DJ_STATS][stat] for row in iter_jsonl(pool) if stat in row.get(DJ_STATS, {})]
        if values and stat not in bounds:  # the best-ranked pool of a stat wins
            bounds[stat] = (float(np.min(values)), float(np.max(values)), pool)
    recipe = copy.deepcopy(run.dj or {})
    changes = []
    for i, name, args in iter_ops(recipe):
        for b in stat_map.lookup(name, args):
            if b.stat not in bounds:
                continue
            lo, hi, pool = bounds[b.stat]
            new = dict(args)
            if b.min_arg:
                new[b.min_arg] = b.arg_type(lo) if b.arg_type is float else int(np.floor(lo))
            if b.max_arg:
                new[b.max_arg] = b.arg_type(hi) if b.arg_type is float else int(np.ceil(hi))
            recipe["process"][i] = {name: new}
            changes.append({"op": name, "stat": b.stat, "from_pool": pool, "args": new})
    return recipe, {"method": "best_pools", "changes": changes}


METHODS = {"loss_threshold": _loss_threshold, "best_pools": _best_pools}


def refine_via_model_feedback(run: Run) -> Result:
    """RefineRecipeViaModelFeedbackHook (a crashing stub in the original).

    method `loss_threshold` (default): extra_configs.dataset_path is a dataset probed by
    ProbeViaModelInferHook; the refined recipe adds a filter keeping samples whose model loss
    is at most the `keep_quantile` quantile (default 0.8) or mean + `k`*std.
    method `best_pools`: extra_configs.dataset_path lists pools ranked best first (e.g. by
    GeneralProbeHook after training a model per pool); each op's bounds become the stat range
    of the best pool split on that op's stat.
    """
    method = run.extra.get("method", "loss_threshold")
    if method not in METHODS:
        raise ComponentConfigError(f"unknown method {method!r}; valid: {', '.join(METHODS)}", key="method")
    recipe, info = METHODS[method](run)
    from ..dj.recipe import write_recipe

    out = _recipe_out(run, "path_refined_recipe", "model_feedback_recipe.yaml")
    write_recipe(recipe, out)
    write_json(run.artifacts / "feedback.json", info)
    return Result(outputs=str(out), metrics=info, exports={"extra_configs.path_refined_recipe": str(out)})
