"""Data-pool manipulators (DJ-Sandbox ``DataPoolManipulatorFactory`` types), rebuilt on plain files.

Each manipulator is ``fn(cfg) -> list[str] | str`` where ``cfg`` is the job's ``extra_configs``; the registry is
:data:`MANIPULATORS` and the JSON schema of each type's ``extra_configs`` is in :data:`SCHEMAS` (``required`` lists
what the function needs at run time; a compiler that fills a key from a job's ``input`` should drop it from
``required`` before validating).

Common rules

* ``dataset_path`` is a path or a list of paths; inputs may be ``.jsonl``, ``.jsonl.gz``, ``.json`` (a JSON array)
  or ``.parquet`` (see :func:`juicer_sandbox.components.convert.read_rows`). A missing input is an error that names
  it (the original logged and dropped it). ``export_path`` is a directory, created if needed.
* Outputs are always JSON lines written atomically by :func:`juicer_sandbox.io.write_jsonl`; reruns with the same
  inputs and seed are byte-identical.
* ``<basename>`` is the input file name without its data extension (``pool.jsonl.gz`` -> ``pool``; the original
  removed only the last extension). Two inputs with the same basename in one job are refused, because their outputs
  would overwrite each other.
* ``<LCP>`` is the longest common (character) prefix of the inputs' basenames, or ``default_prefix`` when empty.

Types and file names

``data_pool_construction``
    Split each dataset into parts by its ``__dj__stats__``. Split points are ``int(n*r + 0.5)`` for each ratio of
    ``split_ratios`` (default ``["1/3", "2/3"]``; numbers or fraction strings, each in (0, 1), strictly increasing),
    or every ``split_num`` rows when that is set (it takes precedence); parts may be empty, and every part is
    written, so the number of files is predictable. For each stat (numbers, or lists of numbers ranked by their
    mean, ``0`` for an empty list; string stats are skipped; NaN ranks last) the ORIGINAL row order is sorted
    stably and ascending, independently for each stat (the original chained the sorts, so ties depended on the
    previous stat), and written to ``<export>/<stat>/<basename>_<stat>_<i>.jsonl`` (part 0 = lowest values).
    Stats are taken in alphabetical order, or in the order of ``stats`` (a list of stat keys) when given. With
    ``ignore_stats: true`` the rows are split in file order into ``<export>/<basename>_ignore_stats_<i>.jsonl``.
    Returns all files, dataset-major, then stat, then part. Errors: an empty dataset; a row without a
    ``__dj__stats__`` dict (unless ``ignore_stats``); a stat that is missing/null in some row or mixes numbers and
    strings (list the stats you want in ``stats``); a requested stat that is not numeric; no numeric stat at all.

``data_pool_combination``
    ``dataset_path`` = N pools ordered by rank (index = rank). Writes every non-empty intersection of 1..N pools,
    ``<export>/<LCP>_top_<ranks joined by _>_num_<count>.jsonl``, level by level (singles, pairs, ...) and, inside
    a level, in the original's incremental order (subsets grouped by their highest rank: ``0_1, 0_2, 1_2, 0_3,
    1_3, 2_3, ...``). A record is identified by its whole content, as canonical JSON (sorted keys), so
    ``__dj__stats__`` takes part: the same sample probed by the same recipe carries the same stats, and records
    that differ only in stats are different samples for this purpose. ``1`` and ``1.0`` are different values.
    Pools are sets: a record repeated inside a pool counts once. Rows in a file keep the order of their first
    occurrence in the subset's lowest-ranked pool (the original used set order, random across processes). Empty
    intersections are not written; they are listed in the log.

``data_pool_duplication``
    For each input and each ``t`` in ``duplicating_times`` (ints >= 1): the pool repeated ``t`` times, and with
    ``shuffle: true`` reordered by ``numpy.random.default_rng(shuffle_seed).permutation(t*n)`` (the same order the
    original got from ``datasets.shuffle``). ``<export>/<basename>_x<t>.jsonl``. A str ``dataset_path`` is one path
    (the original iterated it character by character).

``data_pool_downsampling``
    Each pool becomes ``rows[default_rng(shuffle_seed).permutation(n)[:k]]`` with ``k = min(target_num_samples, n)``
    (``target_num_samples`` defaults to the smallest pool's size; ``seed`` is accepted as an alias of
    ``shuffle_seed`` because a shipped original recipe uses it). ``<export>/<basename>_<k>.jsonl`` names the ACTUAL
    count ``k`` (the original used the target, so a 2-row pool was named ``..._50.jsonl``).

``data_pool_merging``
    Concatenation in input order, no dedup: ``<export>/<LCP>_merged.jsonl``. Returns a single str.

``data_pool_cartesian_join``
    For every pool i of ``dataset_path_1`` and j of ``dataset_path_2``: each row of pool i repeated len(j) times
    alongside pool j tiled, i.e. (A,1),(A,2),(B,1),(B,2). ``<export>/<LCP1>_<LCP2>_cartesian_join_<i>_<j>.jsonl``
    (each LCP falls back to ``default_prefix`` on its own). Pool-1 column names are kept; a pool-2 column whose
    name is also a pool-1 column is renamed with a ``_2`` suffix (repeated until the name is free), e.g. ``text`` ->
    ``text_2`` and ``__dj__stats__`` -> ``__dj__stats___2``. The original failed on any shared column.
"""
from __future__ import annotations

import json
import logging
import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import ComponentConfigError
from ..io import write_jsonl
from .convert import (
    EXPORT_SCHEMA,
    PATHS_SCHEMA,
    STATS_FIELD,
    check_keys,
    check_unique_names,
    data_basename,
    export_dir,
    input_paths,
    read_rows,
)

log = logging.getLogger(__name__)

DEFAULT_SPLIT_RATIOS = ("1/3", "2/3")
DEFAULT_SEED = 42


# --------------------------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------------------------


def longest_common_prefix(paths: list[str]) -> str:
    """Character-wise LCP of the basenames; ``default_prefix`` when empty."""
    return os.path.commonprefix([data_basename(p) for p in paths]) or "default_prefix"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float))


def _int_option(cfg: dict, key: str, default: Any, minimum: int) -> Any:
    value = cfg.get(key, default)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ComponentConfigError(f"must be an integer >= {minimum}, got {value!r}", key=key)
    return value


def _bool_option(cfg: dict, key: str, default: bool) -> bool:
    value = cfg.get(key, default)
    if not isinstance(value, bool):
        raise ComponentConfigError(f"must be true or false, got {value!r}", key=key)
    return value


def _write(path: Path, rows: list[dict]) -> str:
    write_jsonl(path, rows)
    return str(path)


# --------------------------------------------------------------------------------------------------------------------
# data_pool_construction
# --------------------------------------------------------------------------------------------------------------------


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
    ignore_stats = _bool_option(cfg, "ignore_stats", False)
    split_num = _int_option(cfg, "split_num", None, 1)
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
                outputs.append(_write(out / f"{base}_ignore_stats_{i}.jsonl", rows[pts[i] : pts[i + 1]]))
            continue
        for stat, keys in _stat_sort_values(rows, path, selected):
            if os.sep in stat or stat in ("", ".", ".."):
                raise ComponentConfigError(f"{path}: stat '{stat}' cannot be used as a directory name", key="stats")
            order = sorted(range(n), key=keys.__getitem__)  # stable, from the original order
            ranked = [rows[i] for i in order]
            for i in range(len(pts) - 1):
                outputs.append(_write(out / stat / f"{base}_{stat}_{i}.jsonl", ranked[pts[i] : pts[i + 1]]))
        log.info("data_pool_construction: %s (%d rows) split at %s", path, n, pts)
    return outputs


# --------------------------------------------------------------------------------------------------------------------
# data_pool_combination
# --------------------------------------------------------------------------------------------------------------------


def record_key(row: dict) -> str:
    """Identity of a record for intersections: canonical JSON of the whole record (``__dj__stats__`` included)."""
    return json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def combine_pools(cfg: dict) -> list[str]:
    """``data_pool_combination``: all 2^N-1 non-empty intersections of N ranked pools."""
    check_keys(cfg, SCHEMAS["data_pool_combination"])
    paths = input_paths(cfg)
    out = export_dir(cfg)
    prefix = longest_common_prefix(paths)

    pools: list[tuple[list[str], dict[str, dict]]] = []  # (distinct keys in first-seen order, key -> record)
    levels: list[list[tuple[tuple[int, ...], set]]] = []
    for rank, path in enumerate(paths):
        order: list[str] = []
        records: dict[str, dict] = {}
        for row in read_rows(path):
            k = record_key(row)
            if k not in records:
                records[k] = row
                order.append(k)
        pools.append((order, records))
        members = set(order)
        new = [[((rank,), members)]] + [[(ranks + (rank,), s & members) for ranks, s in lvl] for lvl in levels]
        for lvl, added in zip(levels, new):
            lvl.extend(added)
        levels.append(new[-1])

    outputs, empty = [], []
    for lvl in levels:
        for ranks, members in lvl:
            label = "_".join(map(str, ranks))
            if not members:
                empty.append(label)
                continue
            order, records = pools[ranks[0]]
            rows = [records[k] for k in order if k in members]
            outputs.append(_write(out / f"{prefix}_top_{label}_num_{len(rows)}.jsonl", rows))
    if empty:
        log.info("data_pool_combination: empty intersections not written: %s", ", ".join(empty))
    return outputs


# --------------------------------------------------------------------------------------------------------------------
# data_pool_duplication / data_pool_downsampling / data_pool_merging
# --------------------------------------------------------------------------------------------------------------------


def duplicate_pools(cfg: dict) -> list[str]:
    """``data_pool_duplication``: each pool repeated t times (optionally shuffled) for each t."""
    check_keys(cfg, SCHEMAS["data_pool_duplication"])
    paths = input_paths(cfg)
    out = export_dir(cfg)
    check_unique_names(paths, "dataset_path")
    times = cfg.get("duplicating_times")
    if times is None:
        raise ComponentConfigError("is required (a list of integers >= 1)", key="duplicating_times")
    if not isinstance(times, list):
        times = [times]
    if not times:
        raise ComponentConfigError("must be a non-empty list of integers >= 1", key="duplicating_times")
    parsed = []
    for t in times:
        if isinstance(t, float) and t.is_integer():
            t = int(t)
        if isinstance(t, bool) or not isinstance(t, int) or t < 1:
            raise ComponentConfigError(f"must hold integers >= 1, got {t!r}", key="duplicating_times")
        parsed.append(t)
    if len(set(parsed)) != len(parsed):
        raise ComponentConfigError(f"lists a value twice: {parsed}", key="duplicating_times")
    shuffle = _bool_option(cfg, "shuffle", False)
    seed = _int_option(cfg, "shuffle_seed", DEFAULT_SEED, 0)

    outputs = []
    for path in paths:
        rows = read_rows(path)
        base = data_basename(path)
        for t in parsed:
            dup = rows * t
            if shuffle:
                dup = [dup[i] for i in np.random.default_rng(seed).permutation(len(dup))]
            outputs.append(_write(out / f"{base}_x{t}.jsonl", dup))
    return outputs


def downsample_pools(cfg: dict) -> list[str]:
    """``data_pool_downsampling``: a seeded random sample of k = min(target, n) rows from each pool."""
    check_keys(cfg, SCHEMAS["data_pool_downsampling"])
    paths = input_paths(cfg)
    out = export_dir(cfg)
    check_unique_names(paths, "dataset_path")
    target = _int_option(cfg, "target_num_samples", None, 1)
    seed = _int_option(cfg, "shuffle_seed", None, 0)
    alias = _int_option(cfg, "seed", None, 0)
    if seed is not None and alias is not None and seed != alias:
        raise ComponentConfigError(f"conflicts with shuffle_seed ({seed}); give only one of them", key="seed")
    seed = seed if seed is not None else alias if alias is not None else DEFAULT_SEED

    like = cfg.get("target_like")
    if like is not None:
        if target is not None:
            raise ComponentConfigError("give target_num_samples or target_like, not both", key="target_like")
        target = len(read_rows(like))  # e.g. a random arm the size of the refined pool
    pools = [read_rows(p) for p in paths]
    if target is None:
        target = min(len(rows) for rows in pools)
    outputs = []
    for path, rows in zip(paths, pools):
        k = min(target, len(rows))
        picked = [rows[i] for i in np.random.default_rng(seed).permutation(len(rows))[:k]]
        outputs.append(_write(out / f"{data_basename(path)}_{k}.jsonl", picked))
    return outputs


def merge_pools(cfg: dict) -> str:
    """``data_pool_merging``: concatenate the pools (no dedup) into ``<LCP>_merged.jsonl``; returns one path."""
    check_keys(cfg, SCHEMAS["data_pool_merging"])
    paths = input_paths(cfg)
    out = export_dir(cfg)
    rows: list[dict] = []
    for p in paths:
        rows.extend(read_rows(p))
    return _write(out / f"{longest_common_prefix(paths)}_merged.jsonl", rows)


# --------------------------------------------------------------------------------------------------------------------
# data_pool_cartesian_join
# --------------------------------------------------------------------------------------------------------------------


def _columns(rows: list[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for k in row:
            seen.setdefault(k, None)
    return list(seen)


def join_renames(cols1: list[str], cols2: list[str]) -> dict[str, str]:
    """Pool-2 column -> name in the joined rows: clashes with pool-1 columns get ``_2`` suffixes until free."""
    taken = set(cols1) | set(cols2)
    renames = {}
    for c in cols2:
        if c in cols1:
            new = f"{c}_2"
            while new in taken:
                new += "_2"
            taken.add(new)
            renames[c] = new
        else:
            renames[c] = c
    return renames


def cartesian_join(rows1: list[dict], rows2: list[dict]) -> list[dict]:
    """(A,1),(A,2),(B,1),(B,2): each row of ``rows1`` with every row of ``rows2``."""
    renames = join_renames(_columns(rows1), _columns(rows2))
    renamed2 = [{renames[k]: v for k, v in b.items()} for b in rows2]
    return [{**a, **b} for a in rows1 for b in renamed2]


def cartesian_join_pools(cfg: dict) -> list[str]:
    """``data_pool_cartesian_join``: every pool of ``dataset_path_1`` joined with every pool of ``dataset_path_2``."""
    check_keys(cfg, SCHEMAS["data_pool_cartesian_join"])
    paths1 = input_paths(cfg, "dataset_path_1")
    paths2 = input_paths(cfg, "dataset_path_2")
    out = export_dir(cfg)
    prefix = f"{longest_common_prefix(paths1)}_{longest_common_prefix(paths2)}"
    pools1 = [read_rows(p) for p in paths1]
    pools2 = [read_rows(p) for p in paths2]
    outputs = []
    for i, rows1 in enumerate(pools1):
        for j, rows2 in enumerate(pools2):
            outputs.append(_write(out / f"{prefix}_cartesian_join_{i}_{j}.jsonl", cartesian_join(rows1, rows2)))
    return outputs


# --------------------------------------------------------------------------------------------------------------------
# Registries
# --------------------------------------------------------------------------------------------------------------------

MANIPULATORS: dict[str, Callable[[dict], "list[str] | str"]] = {
    "data_pool_construction": construct_pools,
    "data_pool_combination": combine_pools,
    "data_pool_duplication": duplicate_pools,
    "data_pool_downsampling": downsample_pools,
    "data_pool_merging": merge_pools,
    "data_pool_cartesian_join": cartesian_join_pools,
}

_SEED_SCHEMA = {"type": "integer", "minimum": 0, "default": DEFAULT_SEED}
_RATIO_SCHEMA = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        {"type": "string", "pattern": r"^\s*(\d+\s*/\s*\d+|\d*\.\d+([eE][-+]?\d+)?)\s*$"},
    ]
}


def _schema(name: str, description: str, props: dict, required: list[str]) -> dict:
    return {
        "type": "object",
        "description": description,
        "properties": {"type": {"const": name}, **props},
        "required": required,
        "additionalProperties": False,
    }


#: JSON schema of each manipulator's ``extra_configs``.
SCHEMAS: dict[str, dict] = {
    "data_pool_construction": _schema(
        "data_pool_construction",
        "split datasets into pools by their stats",
        {
            "dataset_path": PATHS_SCHEMA,
            "export_path": EXPORT_SCHEMA,
            "split_ratios": {
                "type": "array",
                "items": _RATIO_SCHEMA,
                "minItems": 1,
                "default": list(DEFAULT_SPLIT_RATIOS),
                "description": "increasing ratios in (0, 1), numbers or fractions like '1/3'",
            },
            "split_num": {
                "type": ["integer", "null"],
                "minimum": 1,
                "default": None,
                "description": "rows per part; takes precedence over split_ratios",
            },
            "ignore_stats": {"type": "boolean", "default": False},
            "stats": {
                "type": ["array", "null"],
                "items": {"type": "string", "minLength": 1},
                "minItems": 1,
                "uniqueItems": True,
                "default": None,
                "description": "stat keys to split on (default: every numeric stat)",
            },
        },
        ["dataset_path", "export_path"],
    ),
    "data_pool_combination": _schema(
        "data_pool_combination",
        "all non-empty intersections of N pools ordered by rank",
        {"dataset_path": PATHS_SCHEMA, "export_path": EXPORT_SCHEMA},
        ["dataset_path", "export_path"],
    ),
    "data_pool_duplication": _schema(
        "data_pool_duplication",
        "repeat each pool t times",
        {
            "dataset_path": PATHS_SCHEMA,
            "export_path": EXPORT_SCHEMA,
            "duplicating_times": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1},
                "minItems": 1,
                "uniqueItems": True,
            },
            "shuffle": {"type": "boolean", "default": False},
            "shuffle_seed": _SEED_SCHEMA,
        },
        ["dataset_path", "export_path", "duplicating_times"],
    ),
    "data_pool_downsampling": _schema(
        "data_pool_downsampling",
        "random sample of the same size from each pool",
        {
            "dataset_path": PATHS_SCHEMA,
            "export_path": EXPORT_SCHEMA,
            "target_num_samples": {
                "type": ["integer", "null"],
                "minimum": 1,
                "default": None,
                "description": "default: the smallest pool's size",
            },
            "target_like": {
                "type": ["string", "null"],
                "description": "a dataset whose row count is the target (e.g. a random arm the size of a refined pool)",
            },
            # no "default" here: a filled-in default would clash with the `seed` alias (42 is applied at run time)
            "shuffle_seed": {"type": "integer", "minimum": 0, "description": "default 42"},
            "seed": {"type": "integer", "minimum": 0, "description": "alias of shuffle_seed"},
        },
        ["dataset_path", "export_path"],
    ),
    "data_pool_merging": _schema(
        "data_pool_merging",
        "concatenate pools into <LCP>_merged.jsonl",
        {"dataset_path": PATHS_SCHEMA, "export_path": EXPORT_SCHEMA},
        ["dataset_path", "export_path"],
    ),
    "data_pool_cartesian_join": _schema(
        "data_pool_cartesian_join",
        "join every pool of dataset_path_1 with every pool of dataset_path_2 row by row",
        {"dataset_path_1": PATHS_SCHEMA, "dataset_path_2": PATHS_SCHEMA, "export_path": EXPORT_SCHEMA},
        ["dataset_path_1", "dataset_path_2", "export_path"],
    ),
}
