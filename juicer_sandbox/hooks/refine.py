"""RefineRecipeViaKSigmaHook: a new Data-Juicer recipe from probe results (model feedback: refine_feedback.py)."""
from __future__ import annotations

import logging
from pathlib import Path

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
