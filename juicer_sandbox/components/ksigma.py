"""k-sigma recipe refinement: set each filter's bounds to mean ± k·std of its stat.

Rebuilds DJ-Sandbox's ``modify_recipe_k_sigma`` (``tools/hpo/execute_hpo_3sigma.py``)
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
import json
import math
import numbers
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import yaml

from ..dj import stat_map
from ..errors import ComponentConfigError, ConfigError
from ..io import write_text

STATS_FIELD = "__dj__stats__"

__all__ = ["describe_stats", "refine_recipe_k_sigma", "write_recipe", "percentile_label"]


# --------------------------------------------------------------------------- describe


def percentile_label(p: float) -> str:
    """pandas-style label of a percentile: 0.25 -> '25%', 0.125 -> '12.5%'."""
    return f"{p * 100:g}%"


_NONNUMERIC = object()  # sentinel for "this stat is not numeric"


def _flatten(value: Any, out: list[float]) -> bool:
    """Append the numeric leaves of ``value`` to ``out``; False if a leaf is not numeric.

    None / NaN leaves are missing values and are dropped (pandas' ``describe``
    does not count them). Lists (and numpy arrays) are exploded, like DJ's
    ``OverallAnalysis`` does for list-valued stats; an empty list adds nothing.
    Booleans are treated as non-numeric.
    """
    if value is None:
        return True
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, numbers.Real):
        f = float(value)
        if not math.isnan(f):
            out.append(f)
        return True
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return all(_flatten(v, out) for v in value)
    return False


def describe_stats(
    stats_rows: Iterable[Mapping[str, Any]],
    percentiles: Sequence[float] = (0.25, 0.5, 0.75),
) -> dict[str, dict[str, Any]]:
    """Summarise per-sample ``__dj__stats__`` dicts, one entry per numeric stat.

    ``stats_rows`` yields either the stats dicts themselves or whole samples
    that carry them under ``"__dj__stats__"``.

    Each result is ``{"count", "mean", "std", "min", "<p>%"..., "max"}`` computed
    like DJ's ``OverallAnalysis`` (pandas ``describe``): list-valued stats are
    flattened, ``std`` is the sample standard deviation (ddof=1), percentiles are
    linearly interpolated. Missing values (None/NaN, empty lists) are not
    counted. A stat with no values has count 0 and None elsewhere; ``std`` is
    None when there is a single value. Stats with any non-numeric value
    (strings such as ``lang``, booleans, dicts) are left out.
    """
    ps: list[float] = []
    for p in percentiles:
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= float(p) <= 1:
            raise ComponentConfigError(f"percentiles must be numbers in [0, 1], got {p!r}", key="percentiles")
        if float(p) not in ps:
            ps.append(float(p))
    ps.sort()

    values: dict[str, list[float] | object] = {}
    for row in stats_rows:
        if row is None:
            continue
        stats = row.get(STATS_FIELD, row) if isinstance(row, Mapping) else None
        if not isinstance(stats, Mapping):
            continue
        for key, val in stats.items():
            bucket = values.setdefault(key, [])
            if bucket is _NONNUMERIC:
                continue
            if not _flatten(val, bucket):  # type: ignore[arg-type]
                values[key] = _NONNUMERIC

    result: dict[str, dict[str, Any]] = {}
    for key in sorted(values):
        bucket = values[key]
        if bucket is _NONNUMERIC:
            continue
        arr = np.asarray(bucket, dtype=np.float64)
        n = int(arr.size)
        entry: dict[str, Any] = {"count": n}
        if n == 0:
            entry.update({"mean": None, "std": None, "min": None})
            entry.update({percentile_label(p): None for p in ps})
            entry["max"] = None
        else:
            entry["mean"] = float(arr.mean())
            entry["std"] = float(arr.std(ddof=1)) if n > 1 else None
            entry["min"] = float(arr.min())
            for p, q in zip(ps, np.percentile(arr, [p * 100 for p in ps]) if ps else []):
                entry[percentile_label(p)] = float(q)
            entry["max"] = float(arr.max())
        result[key] = entry
    return result


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


def _bound_value(raw: float, binding: stat_map.StatBinding, upper: bool) -> int | float:
    clipped = min(max(raw, binding.lo), binding.hi)
    if binding.arg_type is int:
        return int(math.ceil(clipped) if upper else math.floor(clipped))
    return float(clipped)


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
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Real) or not math.isfinite(float(k)) or k < 0:
        raise ComponentConfigError(f"k must be a finite number >= 0, got {k!r}", key="k")
    k = float(k)
    if not isinstance(recipe, Mapping):
        raise ConfigError(f"a recipe must be a mapping, got {type(recipe).__name__}")
    if "process" not in recipe:
        raise ConfigError("the recipe has no `process` list", key="process")
    if not isinstance(recipe["process"], list):
        raise ConfigError(
            f"`process` must be a list of ops, got {type(recipe['process']).__name__}", key="process"
        )
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
        bindings = stat_map.lookup(name, args)
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
            if not isinstance(st, Mapping):
                log.append(_log(idx, name, "skipped", stat=b.stat, reason="stats entry is not a mapping"))
                continue
            count = _as_number(st.get("count"))
            if count is not None and count == 0:
                log.append(_log(idx, name, "skipped", stat=b.stat, reason="empty stat (count 0)"))
                continue
            mean, std = _as_number(st.get("mean")), _as_number(st.get("std"))
            if mean is None or std is None:
                log.append(_log(
                    idx, name, "skipped", stat=b.stat, mean=mean, std=std,
                    reason="mean or std is NaN/missing (a single value has no std)",
                ))
                continue
            if std < 0:
                log.append(_log(idx, name, "skipped", stat=b.stat, mean=mean, std=std, reason="negative std"))
                continue

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
                log.append(_log(
                    idx, name, "set", arg=arg, old=old, new=new, stat=b.stat, mean=mean, std=std, raw=raw,
                ))
    return refined, log


# --------------------------------------------------------------------------- write


def _plain(obj: Any) -> Any:
    """Plain YAML/JSON-able data: tuples -> lists, numpy scalars -> Python numbers."""
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_plain(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def write_recipe(recipe: Mapping[str, Any], path: str | Path) -> Path:
    """Write a DJ recipe atomically: YAML for ``.yaml``/``.yml``, JSON for ``.json``.

    Key order is kept (``process`` stays in op order; YAML is not key-sorted,
    unlike the original's ``safe_dump``). Any other extension is a ConfigError.
    """
    target = Path(path)
    ext = target.suffix.lower()
    data = _plain(recipe)
    if ext in (".yaml", ".yml"):
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    elif ext == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        raise ConfigError(
            f"a recipe must be written to a .yaml, .yml or .json file, not {target.suffix or 'no extension'!r}",
            file=str(target),
        )
    write_text(target, text)
    return target
