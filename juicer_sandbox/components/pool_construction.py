"""``data_pool_construction``: split datasets into parts by each of their stats (see :mod:`.pools`)."""
from __future__ import annotations

import logging
import math
import os
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import ComponentConfigError
from .config_helpers import check_keys, check_unique_names, data_basename, export_dir, input_paths
from .dataset_rows import STATS_FIELD, read_rows
from .pool_options import bool_option, int_option, write_pool
from .pool_schemas import DEFAULT_SPLIT_RATIOS, SCHEMAS

log = logging.getLogger("juicer_sandbox.components.pools")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float))




def _parse_ratios(value: Any) -> list:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ComponentConfigError("must be a non-empty list of ratios in (0, 1)", key="split_ratios")
    ratios: list = []
    for item in value:
        if isinstance(item, str):
            try:
                r = Fraction(item.replace(" ", ""))
            except (ValueError, ZeroDivisionError):
                raise ComponentConfigError(f"'{item}' is not a number or a fraction like '1/3'", key="split_ratios")
        elif _is_number(item) and not isinstance(item, bool):
            r = item
        else:
            raise ComponentConfigError(f"{item!r} is not a number or a fraction like '1/3'", key="split_ratios")
        if not 0 < r < 1:
            raise ComponentConfigError(f"{item!r} is not strictly between 0 and 1", key="split_ratios")
        if ratios and r <= ratios[-1]:
            raise ComponentConfigError(f"ratios must be strictly increasing, got {list(value)}", key="split_ratios")
        ratios.append(r)
    return ratios


def split_points(total: int, ratios: list | None = None, split_num: int | None = None) -> list[int]:
    """``[0, ..., total]``: every ``split_num`` rows, or ``int(total*r + 0.5)`` per ratio."""
    if split_num is not None:
        inner = list(range(split_num, total, split_num))
    else:
        inner = [int(total * r + Fraction(1, 2)) if isinstance(r, Fraction) else int(total * r + 0.5) for r in ratios]
    return [0] + inner + [total]


def _stat_sort_values(rows: list[dict], path: str, selected: list[str] | None) -> list[tuple[str, list]]:
    """(stat, per-row sort key) for each stat to split on."""
    for i, row in enumerate(rows):
        if not isinstance(row.get(STATS_FIELD), dict):
            raise ComponentConfigError(
                f"{path}: record {i + 1} has no '{STATS_FIELD}' dict, so it cannot be split by stats; "
                "analyze the data first, or set ignore_stats: true to split it in file order",
                key="dataset_path",
            )
    if selected is None:
        seen: dict[str, None] = {}
        for row in rows:
            for k in row[STATS_FIELD]:
                seen.setdefault(k, None)
        keys, explicit = sorted(seen), False
    else:
        keys, explicit = list(selected), True

    result = []
    for key in keys:
        kinds = set()
        for i, row in enumerate(rows):
            v = row[STATS_FIELD].get(key)
            if v is None:
                where = "missing from" if key not in row[STATS_FIELD] else "null in"
                hint = "" if explicit else "; list the stats to split on in `stats`"
                raise ComponentConfigError(
                    f"{path}: stat '{key}' is {where} record {i + 1}{hint}", key="stats" if explicit else "dataset_path"
                )
            if isinstance(v, str):
                kinds.add("str")
            elif _is_number(v):
                kinds.add("num")
            elif isinstance(v, list) and all(_is_number(x) for x in v):
                kinds.add("num" if v else "empty")
            elif isinstance(v, list) and all(isinstance(x, str) for x in v):
                kinds.add("str")
            else:
                kinds.add("other")
        kinds.discard("empty")
        if kinds <= {"num"}:
            result.append((key, [_sort_key(row[STATS_FIELD][key]) for row in rows]))
        elif kinds == {"str"}:
            if explicit:
                raise ComponentConfigError(f"{path}: stat '{key}' holds strings, not numbers", key="stats")
            log.info("data_pool_construction: %s: skipping non-numeric stat '%s'", path, key)
        else:
            hint = "" if explicit else "; list the stats to split on in `stats`"
            raise ComponentConfigError(
                f"{path}: stat '{key}' mixes numbers with other values{hint}",
                key="stats" if explicit else "dataset_path",
            )
    if not result:
        raise ComponentConfigError(f"{path}: no numeric stat in '{STATS_FIELD}' to split on", key="dataset_path")
    return result


def _sort_key(v: Any) -> tuple:
    if isinstance(v, list):
        v = float(np.mean(v)) if v else 0
    if isinstance(v, float) and math.isnan(v):
        return (1, 0)
    return (0, v)


def construct_pools(cfg: dict) -> list[str]:
    """``data_pool_construction``: split datasets into parts by their stats (see the module docstring)."""
    check_keys(cfg, SCHEMAS["data_pool_construction"])
    paths = input_paths(cfg)
    out = export_dir(cfg)
    check_unique_names(paths, "dataset_path")
    ignore_stats = bool_option(cfg, "ignore_stats", False)
    split_num = int_option(cfg, "split_num", None, 1)
    raw_ratios = cfg.get("split_ratios")
    ratios = None if split_num is not None else _parse_ratios(
        list(DEFAULT_SPLIT_RATIOS) if raw_ratios is None else raw_ratios
    )
    selected = cfg.get("stats")
    if selected is not None:
        if ignore_stats:
            raise ComponentConfigError("has no effect with ignore_stats: true; remove one of them", key="stats")
        if isinstance(selected, str):
            selected = [selected]
        if not isinstance(selected, list) or not selected or not all(isinstance(s, str) and s for s in selected):
            raise ComponentConfigError("must be a non-empty list of stat keys", key="stats")
        if len(set(selected)) != len(selected):
            raise ComponentConfigError(f"lists a stat twice: {selected}", key="stats")

    outputs: list[str] = []
    for path in paths:
        rows = read_rows(path)
        if not rows:
            raise ComponentConfigError(f"{path} is empty; there is nothing to split", key="dataset_path")
        n = len(rows)
        pts = split_points(n, ratios, split_num)
        base = data_basename(path)
        if ignore_stats:
            for i in range(len(pts) - 1):
                outputs.append(write_pool(out / f"{base}_ignore_stats_{i}.jsonl", rows[pts[i] : pts[i + 1]]))
            continue
        for stat, keys in _stat_sort_values(rows, path, selected):
            if os.sep in stat or stat in ("", ".", ".."):
                raise ComponentConfigError(f"{path}: stat '{stat}' cannot be used as a directory name", key="stats")
            order = sorted(range(n), key=keys.__getitem__)  # stable, from the original order
            ranked = [rows[i] for i in order]
            for i in range(len(pts) - 1):
                outputs.append(write_pool(out / stat / f"{base}_{stat}_{i}.jsonl", ranked[pts[i] : pts[i + 1]]))
        log.info("data_pool_construction: %s (%d rows) split at %s", path, n, pts)
    return outputs
