"""RefineRecipeViaModelFeedbackHook: a recipe from model feedback (its own module, so the k-sigma refine job's code
fingerprint does not include the model code threshold_search imports)."""
from __future__ import annotations

from ..errors import ComponentConfigError
from ..io import write_json
from .refine import _recipe_out
from .runner import Result, Run


def refine_via_model_feedback(run: Run) -> Result:
    """RefineRecipeViaModelFeedbackHook: extra_configs.method `loss_threshold` (default), `best_pools`
    or `threshold_search`, in components/model_feedback.py; path_refined_recipe names the recipe."""
    from ..components.model_feedback import METHODS
    from ..dj.recipe import write_recipe

    method = run.extra.get("method", "loss_threshold")
    if method not in METHODS:
        raise ComponentConfigError(f"unknown method {method!r}; valid: {', '.join(METHODS)}", key="method")
    extra = dict(run.extra)
    if method == "threshold_search":
        extra.setdefault("threads", run.threads)
        extra.setdefault("seed", run.seed)
    recipe, info = METHODS[method](run.dj, extra)
    out = _recipe_out(run, "path_refined_recipe", "model_feedback_recipe.yaml")
    write_recipe(recipe, out)
    write_json(run.artifacts / "feedback.json", info)
    return Result(outputs=str(out), metrics=info, exports={"extra_configs.path_refined_recipe": str(out)})
