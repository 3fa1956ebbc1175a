"""k-sigma recipe refinement: set each filter's bounds to mean ± k·std of its stat.

Rebuilds DJ-Sandbox's ``modify_recipe_k_sigma`` (Data-Juicer's ``tools/hpo/execute_hpo_3sigma.py``)
without its problems:

* ``k`` is a parameter (the original hard-coded 3);
* the op → stat mapping is the explicit table in :mod:`juicer_sandbox.dj.stat_map`
  (the original used a process-global access log that could be empty or stale,
  and silently skipped ops missing from it);
* an argument is a lower or upper bound because the table says so, not because
  its name contains the substring ``"min"`` or ``"max"``;
* bounds are clipped to the stat's valid range (no negative lengths, no ratio
  maxima above 1) and cast to the argument's type;
* ops written without arguments (``- text_length_filter:``) work;
* every op that is not refined is listed in the change log with a reason.

Integer arguments: the lower bound is rounded down (``floor``) and the upper
bound up (``ceil``), so the kept interval always contains the real-valued
``[mean − k·std, mean + k·std]`` (after clipping) and is never tighter than it.

Pure Python plus numpy; this module must not import data_juicer (that import
costs seconds).
"""
from __future__ import annotations

import copy
import math
import numbers
from typing import Any, Iterable, Mapping

import numpy as np

from ..core.names import DJ_STATS
from ..dj import stat_map
from ..dj.recipe import iter_ops
from ..errors import ComponentConfigError, ConfigError
from .stats_summary import describe_stats

__all__ = ["refine_recipe_k_sigma", "tighten_only", "refine_from_stats"]


# --------------------------------------------------------------------------- refine


def _as_number(value: Any) -> float | None:
    """Float of a finite-or-inf real number; None for None/NaN/non-numbers."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Real):
        f = float(value)
        return None if math.isnan(f) else f
    if isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            return None
        return None if math.isnan(f) else f
    return None


def _normalise_overall(overall: Any) -> Mapping[str, Mapping[str, Any]]:
    if isinstance(overall, Mapping):
        return overall
    # a pandas DataFrame as DJ's Analyzer returns it: columns = stats, index = count/mean/...
    to_dict = getattr(overall, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise ComponentConfigError(
        f"overall stats must be a mapping stat -> {{mean, std, ...}}, got {type(overall).__name__}", key="overall"
    )


def _log(op_index, op_name, action, *, arg=None, old=None, new=None, stat=None, mean=None, std=None,
         raw=None, reason=None) -> dict:
    return {
        "op_index": op_index,
        "op_name": op_name,
        "action": action,
        "arg": arg,
        "old": old,
        "new": new,
        "raw": raw,
        "stat": stat,
        "mean": mean,
        "std": std,
        "reason": reason,
    }


def _bound_value(raw: float, binding: stat_map.StatBinding, upper: bool) -> int | float | str:
    return stat_map.format_bound(binding, min(max(raw, binding.lo), binding.hi), upper)


def bindings_of(name: str, args: Mapping[str, Any] | None) -> list[stat_map.StatBinding]:
    """The op's stat bindings (:mod:`juicer_sandbox.dj.stat_map`), plus ``specified_numeric_field_filter`` on a stat
    (``field_key: __dj__stats__.<stat>``, bounds ``min_value``/``max_value``): how a stat no Data-Juicer op computes
    (``ref_loss`` of reference perplexity, ``model_loss``, ``quality_score``) is bounded in a recipe."""
    if name == "specified_numeric_field_filter":
        key = str((args or {}).get("field_key") or "")
        if key.startswith(DJ_STATS + ".") and key.count(".") == 1:
            return [stat_map.StatBinding(key.split(".", 1)[1], "min_value", "max_value", -math.inf, math.inf,
                                         float)]
        return []
    return stat_map.lookup(name, args)


def refine_recipe_k_sigma(
    recipe: Mapping[str, Any],
    overall: Mapping[str, Mapping[str, Any]],
    k: float = 3.0,
    only_existing_args: bool = False,
) -> tuple[dict, list[dict]]:
    """Set each mapped filter's bounds to ``mean ± k·std`` of its stat.

    ``recipe`` is a DJ recipe dict whose ``process`` is a list of
    ``{op_name: {args}}`` or ``{op_name: None}``. ``overall`` maps a stat key to
    at least ``{"mean", "std"}`` (and optionally ``"count"``), as returned by
    :func:`describe_stats`; DJ's overall DataFrame is accepted too.

    For each op with bindings in :mod:`juicer_sandbox.dj.stat_map`: lower =
    mean − k·std and upper = mean + k·std, clipped to the stat's valid range
    and cast to the argument's type (int: lower floored, upper ceiled). By
    default both bounds the op has are written, added if the recipe did not
    write them; with ``only_existing_args=True`` only arguments already written
    in the recipe are changed (the original DJ behaviour).

    Returns ``(refined_recipe, log)``. The input is not mutated. Each log entry
    has ``op_index, op_name, action ("set" | "skipped"), arg, old, new, raw,
    stat, mean, std, reason``; ``old`` is None when the recipe did not write the
    argument, ``raw`` is the bound before clipping and casting. Skipped ops
    and bounds carry a ``reason``: not a filter op / no stat binding, ``no
    stats`` (the stat is absent from ``overall``), an empty stat, NaN mean/std,
    a non-finite bound, or an argument not written (``only_existing_args``).
    """
    k = _check_inputs(recipe, k)
    stats = _normalise_overall(overall)
    refined = copy.deepcopy(dict(recipe))
    log: list[dict] = []
    for idx, op in enumerate(refined["process"]):
        if not isinstance(op, Mapping) or len(op) != 1:
            raise ConfigError(
                "each op must be a mapping with exactly one key, `{op_name: {args}}`", key=f"process[{idx}]"
            )
        (name, args), = op.items()
        if args is not None and not isinstance(args, Mapping):
            raise ConfigError(
                f"the arguments of {name} must be a mapping or empty, got {type(args).__name__}",
                key=f"process[{idx}].{name}",
            )
        bindings = bindings_of(name, args)
        if not bindings:
            reason = (
                "no stat binding in stat_map for this filter"
                if str(name).endswith("_filter")
                else "not a filter op"
            )
            log.append(_log(idx, name, "skipped", reason=reason))
            continue
        for b in bindings:
            st = stats.get(b.stat)
            if st is None:
                log.append(_log(idx, name, "skipped", stat=b.stat, reason="no stats"))
                continue
            mean, std, reason = _moments(st)
            if reason:
                log.append(_log(idx, name, "skipped", stat=b.stat, mean=mean, std=std, reason=reason))
                continue
            args = _set_bounds(op, idx, name, args, b, mean, std, k, only_existing_args, log)
    return refined, log


def _check_inputs(recipe: Any, k: Any) -> float:
    """k as a float, after checking k and the recipe's shape."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Real) or not math.isfinite(float(k)) or k < 0:
        raise ComponentConfigError(f"k must be a finite number >= 0, got {k!r}", key="k")
    if not isinstance(recipe, Mapping):
        raise ConfigError(f"a recipe must be a mapping, got {type(recipe).__name__}")
    if "process" not in recipe:
        raise ConfigError("the recipe has no `process` list", key="process")
    if not isinstance(recipe["process"], list):
        raise ConfigError(
            f"`process` must be a list of ops, got {type(recipe['process']).__name__}", key="process"
        )
    return float(k)


def _moments(st: Any) -> tuple[float | None, float | None, str | None]:
    """(mean, std, None) of a stat's summary, or (mean, std, reason) when it cannot set bounds."""
    if not isinstance(st, Mapping):
        return None, None, "stats entry is not a mapping"
    count = _as_number(st.get("count"))
    if count is not None and count == 0:
        return None, None, "empty stat (count 0)"
    mean, std = _as_number(st.get("mean")), _as_number(st.get("std"))
    if mean is None or std is None:
        return mean, std, "mean or std is NaN/missing (a single value has no std)"
    if std < 0:
        return mean, std, "negative std"
    return mean, std, None


def _set_bounds(op: dict, idx: int, name: str, args: dict | None, b: stat_map.StatBinding, mean: float,
                std: float, k: float, only_existing_args: bool, log: list[dict]) -> dict | None:
    """Write one binding's bounds into the op's args (created when the op had none); log each."""
    for arg, raw, upper in ((b.min_arg, mean - k * std, False), (b.max_arg, mean + k * std, True)):
        if arg is None:
            continue
        written = args is not None and arg in args
        old = args.get(arg) if written else None
        if only_existing_args and not written:
            log.append(_log(
                idx, name, "skipped", arg=arg, stat=b.stat, mean=mean, std=std, raw=raw,
                reason="argument not written in the recipe (only_existing_args)",
            ))
            continue
        if not math.isfinite(raw):
            log.append(_log(
                idx, name, "skipped", arg=arg, old=old, stat=b.stat, mean=mean, std=std, raw=raw,
                reason="bound is not finite",
            ))
            continue
        new = _bound_value(raw, b, upper)
        if args is None:
            args = {}
            op[name] = args
        args[arg] = new
        log.append(_log(idx, name, "set", arg=arg, old=old, new=new, stat=b.stat, mean=mean, std=std, raw=raw))
    return args


def tighten_only(original: Mapping[str, Any], refined: Mapping[str, Any]) -> dict:
    """Keep a bound the recipe already sets when k-sigma would loosen it (a refinement then only
    ever removes more data). k-sigma flags outliers; where dirt is common rather than rare,
    mean +/- k*std can be looser than the recipe's own thresholds."""
    refined = copy.deepcopy(dict(refined))
    for (i, name, old), (_, _, new) in zip(iter_ops(dict(original)), iter_ops(refined)):
        for b in bindings_of(name, old):
            for arg, pick in ((b.min_arg, max), (b.max_arg, min)):
                # compared as the op reads them (sizes like "1MB", ratios like "9/21"); the winner keeps its form
                mine, theirs = stat_map.parse_bound(b, old.get(arg)), stat_map.parse_bound(b, new.get(arg))
                if arg and mine is not None and theirs is not None and pick(mine, theirs) == mine != theirs:
                    new[arg] = old[arg]
        refined["process"][i] = {name: new}
    return refined


def note_kept_bounds(changes: list[dict], refined: Mapping[str, Any]) -> None:
    """Make the change log say what the written recipe holds where tighten_only kept a bound."""
    for c in changes:
        if c.get("action") != "set":
            continue
        final = refined["process"][c["op_index"]][c["op_name"]].get(c["arg"])
        if final != c["new"]:
            c.update(k_sigma=c["new"], new=final, action="kept", reason="tighten_only: the recipe's bound is stricter")


def refine_from_stats(recipe: Mapping[str, Any], stats_rows: Iterable[Mapping[str, Any]], k: float = 3,
                      only_existing_args: bool = False, tighten: bool = False) -> tuple[dict, list[dict]]:
    """RefineRecipeViaKSigmaHook's whole algorithm: describe the per-sample stats, set each
    filter's bounds at mean +/- k*std, and with `tighten` never loosen a bound the recipe sets.
    Returns (refined recipe, change log)."""
    overall = describe_stats(stats_rows)
    refined, changes = refine_recipe_k_sigma(recipe, overall, k=k, only_existing_args=only_existing_args)
    if tighten:
        refined = tighten_only(recipe, refined)
        note_kept_bounds(changes, refined)
    return refined, changes
