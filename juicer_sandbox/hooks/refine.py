"""Refine hooks: a new Data-Juicer recipe from probe results."""
from __future__ import annotations

import logging
from pathlib import Path

from ..errors import ComponentConfigError
from ..io import iter_jsonl, write_json
from .runner import Result, Run

log = logging.getLogger(__name__)


def refine_via_ksigma(run: Run) -> Result:
    """RefineRecipeViaKSigmaHook: each filter's bounds at mean +/- k*std of the probed stat.

    extra_configs: path_k_sigma_recipe (export path, .yaml/.yml/.json), k (default 3),
    only_existing_args (default false: set both bounds of every mapped filter).
    Reads the per-sample stats of the probe job with the same meta_name (no wandb).
    """
    from ..components.ksigma import describe_stats, refine_recipe_k_sigma, write_recipe

    extra = run.extra
    k = extra.get("k", 3)
    stats_rows = (row.get("__dj__stats__", {}) for row in iter_jsonl(extra["stats_path"]))
    overall = describe_stats(stats_rows)
    refined, changes = refine_recipe_k_sigma(run.dj or {}, overall, k=k,
                                             only_existing_args=bool(extra.get("only_existing_args", False)))
    name = Path(extra.get("path_k_sigma_recipe") or "k_sigma_recipe.yaml").name
    if not name.endswith((".yaml", ".yml", ".json")):
        raise ComponentConfigError(f"path_k_sigma_recipe must end in .yaml, .yml or .json, got {name!r}",
                                   key="path_k_sigma_recipe")
    out = run.artifacts / name
    write_recipe(refined, out)
    write_json(run.artifacts / "changes.json", changes)
    set_count = sum(1 for c in changes if c.get("action") == "set")
    log.info("k=%s: %d bounds set, %d ops skipped", k, set_count, sum(1 for c in changes if c.get("action") != "set"))
    return Result(outputs=str(out), metrics={"k": k, "bounds_set": set_count, "changes": changes},
                  exports={"extra_configs.path_k_sigma_recipe": str(out)})


def refine_via_model_feedback(run: Run) -> Result:  # pragma: no cover - implemented with the model side
    raise ComponentConfigError("RefineRecipeViaModelFeedbackHook is not available yet", key="type")
