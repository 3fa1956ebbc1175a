"""Model-feedback refinement that searches the recipe's op thresholds (RefineRecipeViaModelFeedbackHook
``method: threshold_search``): HPO over the recipe with a tiny LM's loss as the objective; returns a recipe.

References: DJ-Sandbox (Chen et al. 2024, arXiv 2407.11784) closes the loop from model feedback to the data
recipe; Data-Juicer's HPO tool (``tools/hpo``) searches recipe arguments with a proxy model's score; the sampler is
Optuna's TPE (Akiba et al. 2019; Bergstra et al. 2011). Here, in one job:

* **search space**: every bound the recipe writes (``all_bounds: true``: every bound) of every op whose stat the
  rows carry (:func:`.ksigma.bindings_of`: the ``dj/stat_map.py`` table, plus ``specified_numeric_field_filter`` on
  a stat such as ``ref_loss``); the recipe's values themselves are not used. A lower bound is
  the ``q``-quantile of its stat over the dataset with ``q`` in [0, ``max_cut``], an upper bound the
  ``1 - q``-quantile; quantiles keep the space scale-free, so nothing is set by hand.
* **objective**: the documents the bounds keep (decided on the stored stats, as Data-Juicer's filters decide,
  bounds inclusive), a draw of about ``3 x search_tokens`` tokens of them (the trainer samples windows, so more data
  only changes repetition), a tiny LM trained for ``search_tokens`` tokens, its loss on the clean reference
  (``reference_path``; the user's clean set, never the evaluation split). Every trial uses the same seed (common
  random numbers: trials differ by their data only). Fewer than ``min_keep`` of the documents kept: the trial fails.
* **validation**: the best trial's recipe and the recipe as given are trained again at ``validate_tokens`` (a
  larger budget) and evaluated the same way; the validated winner is returned, and ``info`` says which and by how
  much (a search at a small budget can pick noise).

Returns ``(recipe, info)``: the recipe with the chosen bounds and ``dataset_path`` = the probed dataset (so
processing filters on the stored stats), and the trials, the validation and the kept fractions.
"""
from __future__ import annotations

import copy
import logging
import tempfile
from pathlib import Path

import numpy as np

from ..core.names import DJ_STATS
from ..errors import ComponentConfigError
from ..io import iter_jsonl, write_jsonl
from .ksigma import bindings_of

log = logging.getLogger(__name__)

DEFAULT_MODEL = {"type": "causal_lm", "arch": "gpt2", "n_layer": 2, "d_model": 128, "n_head": 4, "context": 128,
                 "batch_size": 32, "lr": 1e-3, "tie_embeddings": False}
CHARS_PER_TOKEN = 3.5  # BPE-2048 on English prose; only sizes the training draw


def search_space(recipe: dict, rows: list[dict], all_bounds: bool = False) -> list[dict]:
    """One entry per searchable bound: op index and name, argument, stat, side, its stat column. Only the bounds
    the recipe writes (the user says which side of a stat matters, as the original k-sigma's rule), or every
    bound of every mapped op with ``all_bounds``."""
    space = []
    for i, entry in enumerate(recipe.get("process") or []):
        if not isinstance(entry, dict) or len(entry) != 1:
            continue
        (name, args), = entry.items()
        for b in bindings_of(name, args):
            if getattr(b, "text", ""):
                continue  # sizes / ratios written as strings (media ops): not searched
            col = np.array([_num((r.get(DJ_STATS) or {}).get(b.stat)) for r in rows], dtype=float)
            if np.isnan(col).all():
                continue
            for arg, upper in ((b.min_arg, False), (b.max_arg, True)):
                if arg and (all_bounds or arg in (args or {})):
                    space.append({"op_index": i, "op": name, "arg": arg, "stat": b.stat, "upper": upper,
                                  "type": b.arg_type, "lo": b.lo, "hi": b.hi, "values": col})
    return space


def _num(v) -> float:
    return float(np.mean(v)) if isinstance(v, list) and v else float(v) if isinstance(v, (int, float)) else np.nan


def bound_value(dim: dict, q: float):
    """The threshold at cut ``q``: lower bounds the q-quantile, upper bounds the (1 - q)-quantile; cast, clipped."""
    vals = dim["values"][~np.isnan(dim["values"])]
    raw = float(np.quantile(vals, 1 - q if dim["upper"] else q))
    raw = min(max(raw, dim["lo"]), dim["hi"])
    if dim["type"] is int:
        return int(np.ceil(raw)) if dim["upper"] else int(np.floor(raw))
    return raw


def keep_mask(space: list[dict], bounds: list) -> np.ndarray:
    """Rows inside every bound (inclusive; a row missing a stat fails that op, as Data-Juicer's filter would)."""
    keep = np.ones(len(space[0]["values"]) if space else 0, dtype=bool)
    for dim, value in zip(space, bounds):
        v = dim["values"]
        with np.errstate(invalid="ignore"):
            keep &= (v <= value) if dim["upper"] else (v >= value)
    return keep


def apply_bounds(recipe: dict, space: list[dict], bounds: list, dataset_path: str) -> dict:
    out = copy.deepcopy(recipe)
    for dim, value in zip(space, bounds):
        (name, args), = out["process"][dim["op_index"]].items()
        args = dict(args or {})
        args[dim["arg"]] = value
        out["process"][dim["op_index"]] = {name: args}
    out["dataset_path"] = dataset_path
    return out


def recipe_bounds(recipe: dict, space: list[dict]) -> list:
    """The bounds the recipe as given writes (None where it writes none: no bound)."""
    return [dict(list(recipe["process"][d["op_index"]].values())[0] or {}).get(d["arg"]) for d in space]


def _as_given_mask(space: list[dict], given: list) -> np.ndarray:
    pairs = [(d, v) for d, v in zip(space, given) if v is not None]
    return keep_mask([d for d, _ in pairs], [v for _, v in pairs]) if pairs else \
        np.ones(len(space[0]["values"]), dtype=bool)


def lm_objective(rows: list[dict], keep: np.ndarray, tokens: int, ctx: dict, seed: int, tag: str) -> float:
    """Train the tiny LM for ``tokens`` on a seeded draw of the kept rows; its loss on the reference."""
    from ..models.evaluate import evaluate_lm
    from ..models.train import train_lm

    idx = np.flatnonzero(keep)
    rng = np.random.default_rng(seed)
    order = idx[rng.permutation(len(idx))]
    chars = np.cumsum([len(str(rows[i].get(ctx["text_key"], ""))) for i in order])
    n = int(np.searchsorted(chars, 3 * tokens * CHARS_PER_TOKEN)) + 1
    work = Path(ctx["work"]) / tag
    data = work / "train.jsonl"
    write_jsonl(data, ({"text": rows[i].get(ctx["text_key"], "")} for i in sorted(order[:n])))
    model = {**DEFAULT_MODEL, **ctx["model"], "max_tokens": int(tokens), "seed": seed}
    train_lm(model, data, work / "lm", ctx["tokenizer_path"], threads=ctx["threads"], progress=False)
    return float(evaluate_lm(work / "lm" / "model", ctx["eval_path"], threads=ctx["threads"],
                             max_tokens=ctx["eval_tokens"])["loss"])


def _options(extra: dict) -> dict:
    for key in ("dataset_path", "reference_path", "tokenizer_path"):
        if not extra.get(key):
            raise ComponentConfigError(f"threshold_search needs {key}", key=key)
    path = extra["dataset_path"]
    return {"dataset": path if isinstance(path, str) else path[0], "trials": int(extra.get("trials", 12)),
            "search_tokens": int(extra.get("search_tokens", 100_000)),
            "validate_tokens": int(extra.get("validate_tokens", 400_000)),
            "min_keep": float(extra.get("min_keep", 0.1)), "max_cut": float(extra.get("max_cut", 0.5)),
            "seed": int(extra.get("seed", 0))}


def threshold_search(recipe: dict | None, extra: dict) -> tuple[dict, dict]:
    """Search the recipe's bounds with Optuna; validate the best against the recipe as given (module docstring)."""
    import optuna

    opt = _options(extra)
    rows = list(iter_jsonl(opt["dataset"]))
    recipe = copy.deepcopy(recipe or {})
    space = search_space(recipe, rows, bool(extra.get("all_bounds")))
    if not space:
        raise ComponentConfigError("no op of the recipe bounds a stat the dataset carries; probe the dataset with "
                                   "the recipe first", key="dataset_path")
    with tempfile.TemporaryDirectory(prefix="threshold-search-") as work:
        ctx = {"work": work, "text_key": extra.get("text_key", "text"), "model": dict(extra.get("model") or {}),
               "tokenizer_path": extra["tokenizer_path"], "eval_path": extra["reference_path"],
               "threads": int(extra.get("threads", 1)), "eval_tokens": int(extra.get("eval_tokens", 200_000))}
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=opt["seed"], n_startup_trials=max(3, opt["trials"] // 3))
        study = optuna.create_study(direction="minimize", sampler=sampler)
        trials = []

        def objective(trial):
            qs = [trial.suggest_float(f"{d['op']}.{d['arg']}#{d['op_index']}", 0.0, opt["max_cut"]) for d in space]
            bounds = [bound_value(d, q) for d, q in zip(space, qs)]
            keep = keep_mask(space, bounds)
            kept = float(keep.mean())
            if kept < opt["min_keep"]:
                trials.append({"trial": trial.number, "bounds": bounds, "kept": kept, "loss": None})
                raise optuna.TrialPruned(f"keeps {kept:.1%} < min_keep")
            loss = lm_objective(rows, keep, opt["search_tokens"], ctx, opt["seed"], f"t{trial.number}")
            trials.append({"trial": trial.number, "bounds": bounds, "kept": kept, "loss": loss})
            log.info("trial %d: kept %.1f%%, loss %.4f", trial.number, 100 * kept, loss)
            return loss

        study.optimize(objective, n_trials=opt["trials"])
        done = [t for t in trials if t["loss"] is not None]
        if not done:
            raise ComponentConfigError(f"every trial kept less than min_keep ({opt['min_keep']})", key="min_keep")
        best = min(done, key=lambda t: t["loss"])
        given = recipe_bounds(recipe, space)
        given_mask = _as_given_mask(space, given)
        v_best = lm_objective(rows, keep_mask(space, best["bounds"]), opt["validate_tokens"], ctx, opt["seed"], "vb")
        v_given = lm_objective(rows, given_mask, opt["validate_tokens"], ctx, opt["seed"], "vg")
    chose_best = v_best <= v_given
    out = apply_bounds(recipe, space, best["bounds"], opt["dataset"]) if chose_best else \
        {**recipe, "dataset_path": opt["dataset"]}
    info = {"method": "threshold_search", "searched": [f"{d['op']}.{d['arg']}" for d in space],
            "trials": [{k: v for k, v in t.items()} for t in trials], "best_trial": best["trial"],
            "validation": {"tokens": opt["validate_tokens"], "best_loss": v_best, "given_loss": v_given,
                           "best_kept": best["kept"], "given_kept": float(given_mask.mean()),
                           "returned": "best" if chose_best else "given"},
            "search_tokens": opt["search_tokens"], "expected_kept": int(round(
                (best["kept"] if chose_best else float(given_mask.mean())) * len(rows))), "samples": len(rows)}
    return out, info


def reference_bounds(recipe: dict | None, extra: dict) -> tuple[dict, dict]:
    """Every bound of the recipe's ops (``all_bounds``, default true) set from the clean reference's stats, not by
    hand (RefineRecipeViaModelFeedbackHook ``method: reference_bounds``).

    ``reference_path``: the reference probed with the same recipe (its rows carry the same stats; e.g. the
    ``reference_heldout.jsonl`` of reference perplexity, which adds ``ref_loss``; never the evaluation split).
    Each lower bound is the reference's ``q``-quantile of its stat, each upper bound its ``1 - q``-quantile, with
    one ``q`` for all bounds: the largest that keeps at least ``reference_quantile`` (default 0.9) of the reference
    (bisection), as reference perplexity keeps the reference's 0.9 quantile. The bounds apply to ``dataset_path``
    (the probed raw pool); returns the recipe with them and ``dataset_path`` = that probed dataset."""
    for key in ("dataset_path", "reference_path"):
        if not extra.get(key):
            raise ComponentConfigError(f"reference_bounds needs {key}", key=key)
    path = extra["dataset_path"]
    path = path if isinstance(path, str) else path[0]
    target = float(extra.get("reference_quantile", 0.9))
    if not 0 < target <= 1:
        raise ComponentConfigError(f"must be in (0, 1], got {target!r}", key="reference_quantile")
    recipe = copy.deepcopy(recipe or {})
    all_bounds = bool(extra.get("all_bounds", True))
    ref = list(iter_jsonl(extra["reference_path"]))
    rows = list(iter_jsonl(path))
    ref_space = search_space(recipe, ref, all_bounds)
    if not ref_space:
        raise ComponentConfigError("no op of the recipe bounds a stat the reference carries; probe the reference "
                                   "with the recipe first", key="reference_path")
    lo, hi = 0.0, 0.5
    for _ in range(40):  # the reference's kept share falls as q grows: the largest q that keeps >= target
        q = (lo + hi) / 2
        kept = keep_mask(ref_space, [bound_value(d, q) for d in ref_space]).mean()
        lo, hi = (q, hi) if kept >= target else (lo, q)
    bounds = [bound_value(d, lo) for d in ref_space]
    ref_kept = float(keep_mask(ref_space, bounds).mean())
    space = search_space(recipe, rows, all_bounds)
    by_key = {(d["op_index"], d["arg"]): b for d, b in zip(ref_space, bounds)}
    pairs = [(d, by_key[(d["op_index"], d["arg"])]) for d in space if (d["op_index"], d["arg"]) in by_key]
    keep = keep_mask([d for d, _ in pairs], [b for _, b in pairs]) if pairs else np.ones(len(rows), dtype=bool)
    out = apply_bounds(recipe, [d for d, _ in pairs], [b for _, b in pairs], path)
    return out, {"method": "reference_bounds", "quantile": lo, "reference_kept": ref_kept,
                 "reference_docs": len(ref), "bounds": {f"{d['op']}.{d['arg']}": b for d, b in pairs},
                 "expected_kept": int(keep.sum()), "samples": len(rows)}


__all__ = ["threshold_search", "reference_bounds", "search_space", "bound_value", "keep_mask", "apply_bounds", "DEFAULT_MODEL"]
