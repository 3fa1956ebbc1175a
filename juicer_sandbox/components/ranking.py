"""``data_pool_ranking`` (DJ-Sandbox ``GeneralProbeFactory``): order data pools by their evaluated metrics.

``rank_pools(cfg) -> list[str]`` with ``cfg`` the job's ``extra_configs``:

* ``dataset_path``: the pools (a list; a single str counts as a list of one). Paths are returned, not read, so they
  may be anything (files, directories, checkpoints).
* ``metrics``: index-aligned with ``dataset_path``; each entry is a dict, a number, or the path of a JSON file that
  holds a dict or a number (the file is read).
* ``ranking_keys``: a key or a list of keys into the metric dicts; a dotted key walks nested dicts (and list
  indices, ``detail.0.score``), and a key that itself contains dots is matched first as a whole. Pools are ordered
  by the tuple of these values. Required when the metrics are dicts; must be left out when they are numbers (the
  number itself is the key). The original dropped missing keys with a log line and then failed comparing dicts.
* ``descending`` (default true): larger first. ``top_n``: keep the first n.

The sort is stable (ties keep the input order, in either direction). NaN always ranks last. Errors name the key and
the pool: a length mismatch, a ranking key missing (or null) in any pool's metrics, values that cannot be compared.

The result is ALWAYS a list, even of one path (the original returned a bare str then; the hook layer does that
unwrapping where a recipe needs it).
"""
from __future__ import annotations

import functools
import json
import logging
import math
import os
from typing import Any, Callable

from ..errors import ComponentConfigError
from .config_helpers import PATHS_SCHEMA, check_keys

log = logging.getLogger(__name__)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def lookup(obj: Any, key: str) -> tuple[bool, Any]:
    """Find dotted ``key`` in nested dicts/lists: ``(found, value)``."""
    return _lookup(obj, key.split("."))


def _lookup(obj: Any, parts: list[str]) -> tuple[bool, Any]:
    if not parts:
        return True, obj
    if isinstance(obj, dict):
        for cut in range(len(parts), 0, -1):  # longest literal key first: "a.b" before "a" -> "b"
            k = ".".join(parts[:cut])
            if k in obj:
                found, value = _lookup(obj[k], parts[cut:])
                if found:
                    return True, value
        return False, None
    if isinstance(obj, list):
        try:
            idx = int(parts[0])
        except ValueError:
            return False, None
        if -len(obj) <= idx < len(obj):
            return _lookup(obj[idx], parts[1:])
    return False, None


def _load_metric(metric: Any, i: int, path: str) -> Any:
    if isinstance(metric, (str, os.PathLike)):
        mpath = str(metric)
        if not os.path.isfile(mpath):
            raise ComponentConfigError(
                f"entry {i} (for pool {path}) is a string but not an existing metrics file: {mpath}", key="metrics"
            )
        try:
            with open(mpath, "r", encoding="utf-8") as fh:
                metric = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ComponentConfigError(f"{mpath} (for pool {path}) is not valid JSON ({exc.msg})", key="metrics")
        source = f"{mpath} (for pool {path})"
    else:
        source = f"entry {i} (for pool {path})"
    if not (isinstance(metric, dict) or _is_number(metric)):
        raise ComponentConfigError(
            f"{source} must be a dict, a number or the path of a JSON metrics file, got {type(metric).__name__}",
            key="metrics",
        )
    return metric


def _compare(a: tuple, b: tuple, descending: bool) -> int:
    for x, y in zip(a, b):
        x_nan = isinstance(x, float) and math.isnan(x)
        y_nan = isinstance(y, float) and math.isnan(y)
        if x_nan or y_nan:
            if x_nan and y_nan:
                continue
            return 1 if x_nan else -1  # NaN last in both directions
        if x == y:
            continue
        less = x < y
        return (1 if less else -1) if descending else (-1 if less else 1)
    return 0


def _sort_values(metrics: list, paths: list[str], keys: list[str]) -> list[tuple]:
    """Per pool, the tuple of its ``ranking_keys`` values (or of its number when there are no keys)."""
    if keys:
        for m, p in zip(metrics, paths):
            if not isinstance(m, dict):
                raise ComponentConfigError(
                    f"the metric of pool {p} is the number {m}, which has no keys; leave ranking_keys out to rank "
                    "by the numbers themselves",
                    key="ranking_keys",
                )
        values = []
        for m, p in zip(metrics, paths):
            row = []
            for k in keys:
                found, v = lookup(m, k)
                if not found or v is None:
                    raise ComponentConfigError(
                        f"'{k}' is {'missing from' if not found else 'null in'} the metrics of pool {p}",
                        key="ranking_keys",
                    )
                if not (_is_number(v) or isinstance(v, (str, bool))):
                    raise ComponentConfigError(
                        f"'{k}' of pool {p} is a {type(v).__name__}, not a number or a string", key="ranking_keys"
                    )
                row.append(v)
            values.append(tuple(row))
        for pos, k in enumerate(keys):
            kinds = {"str" if isinstance(v[pos], str) else "num" for v in values}
            if len(kinds) > 1:
                raise ComponentConfigError(f"'{k}' mixes numbers and strings across pools", key="ranking_keys")
    else:
        dicts = [p for m, p in zip(metrics, paths) if isinstance(m, dict)]
        if dicts:
            raise ComponentConfigError(
                f"is required when metrics are dicts (the metric of pool {dicts[0]} is a dict)", key="ranking_keys"
            )
        values = [(m,) for m in metrics]
    return values


def rank_pools(cfg: dict) -> list[str]:
    """Order ``dataset_path`` by ``metrics`` (see the module docstring); always returns a list."""
    check_keys(cfg, SCHEMAS["data_pool_ranking"])
    paths = cfg.get("dataset_path")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not isinstance(paths, list) or not paths or not all(isinstance(p, (str, os.PathLike)) for p in paths):
        raise ComponentConfigError("is required: a non-empty list of pool paths", key="dataset_path")
    paths = [str(p) for p in paths]
    if "metrics" not in cfg or cfg["metrics"] is None:
        raise ComponentConfigError("is required: one metric (dict, number or JSON file) per pool", key="metrics")
    metrics = cfg["metrics"]
    if not isinstance(metrics, list):
        metrics = [metrics]
    if len(metrics) != len(paths):
        raise ComponentConfigError(
            f"has {len(metrics)} entries but dataset_path has {len(paths)}; they must be index-aligned",
            key="metrics",
        )
    metrics = [_load_metric(m, i, p) for i, (m, p) in enumerate(zip(metrics, paths))]

    keys = cfg.get("ranking_keys")
    if isinstance(keys, str):
        keys = [keys]
    if keys is not None and (not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys)):
        raise ComponentConfigError("must be a key or a list of keys", key="ranking_keys")
    keys = keys or []

    descending = cfg.get("descending", True)
    if not isinstance(descending, bool):
        raise ComponentConfigError(f"must be true or false, got {descending!r}", key="descending")
    top_n = cfg.get("top_n")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise ComponentConfigError(f"must be an integer >= 1, got {top_n!r}", key="top_n")

    values = _sort_values(metrics, paths, keys)
    order = sorted(
        range(len(paths)), key=functools.cmp_to_key(lambda a, b: _compare(values[a], values[b], descending))
    )
    ranked = [paths[i] for i in order]
    if top_n is not None:
        ranked = ranked[:top_n]
    log.info(
        "data_pool_ranking: %s by %s -> %s", "descending" if descending else "ascending", keys or "value", ranked
    )
    return ranked


PROBES: dict[str, Callable[[dict], list[str]]] = {"data_pool_ranking": rank_pools}

_METRIC_SCHEMA = {"anyOf": [{"type": "object"}, {"type": "number"}, {"type": "string", "minLength": 1}]}

#: JSON schema of ``data_pool_ranking``'s ``extra_configs``.
SCHEMAS: dict[str, dict] = {
    "data_pool_ranking": {
        "type": "object",
        "description": "order pools by their metrics",
        "properties": {
            "type": {"const": "data_pool_ranking"},
            "dataset_path": PATHS_SCHEMA,
            "metrics": {
                "anyOf": [{"type": "array", "items": _METRIC_SCHEMA, "minItems": 1}, _METRIC_SCHEMA],
                "description": "one per pool: a dict, a number, or a JSON metrics file",
            },
            "ranking_keys": {
                "anyOf": [
                    {"type": "string", "minLength": 1},
                    {"type": "array", "items": {"type": "string", "minLength": 1}},
                    {"type": "null"},
                ],
                "default": None,
                "description": "dotted keys into the metric dicts; leave out for numeric metrics",
            },
            "descending": {"type": "boolean", "default": True},
            "top_n": {"type": ["integer", "null"], "minimum": 1, "default": None},
        },
        "required": ["dataset_path", "metrics"],
        "additionalProperties": False,
    }
}
