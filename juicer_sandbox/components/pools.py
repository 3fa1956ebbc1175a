"""Data-pool manipulators (DJ-Sandbox ``DataPoolManipulatorFactory`` types), rebuilt on plain files.

Each manipulator is ``fn(cfg) -> list[str] | str`` where ``cfg`` is the job's ``extra_configs``; the registry is
:data:`MANIPULATORS` and the JSON schema of each type's ``extra_configs`` is in :data:`SCHEMAS` (``required`` lists
what the function needs at run time; a compiler that fills a key from a job's ``input`` should drop it from
``required`` before validating; the schemas are written in :mod:`.pool_schemas`).

Common rules

* ``dataset_path`` is a path or a list of paths; inputs may be ``.jsonl``, ``.jsonl.gz``, ``.json`` (a JSON array)
  or ``.parquet`` (see :func:`juicer_sandbox.components.dataset_rows.read_rows`). A missing input is an error that names
  it (the original logged and dropped it). ``export_path`` is a directory, created if needed.
* Outputs are always JSON lines written atomically by :func:`juicer_sandbox.io.write_jsonl`; reruns with the same
  inputs and seed are byte-identical.
* ``<basename>`` is the input file name without its data extension (``pool.jsonl.gz`` -> ``pool``; the original
  removed only the last extension). Two inputs with the same basename in one job are refused, because their outputs
  would overwrite each other.
* ``<LCP>`` is the longest common (character) prefix of the inputs' basenames, or ``default_prefix`` when empty.

Types and file names

``data_pool_construction`` (:mod:`.pool_construction`)
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
    A draw per seed: ``shuffle_seed: "{seed}"`` in a job expanded over the training seeds gives every seed its own
    draw (the default in the shipped experiments: training seed and pool draw vary together); ``fixed_draw_seed``
    (a matrix constant) freezes the draw while the training seed varies. ``<pool>.draw.json`` records the draw
    (``source``, ``draw_seed``, ``k``, ``of``) for :mod:`.variance`.
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
from typing import Callable

import numpy as np

from ..errors import ComponentConfigError
from ..io import write_json
from .config_helpers import check_keys, check_unique_names, data_basename, export_dir, input_paths
from .dataset_rows import read_rows
from .pool_construction import construct_pools
from .pool_options import bool_option, int_option, longest_common_prefix, write_pool
from .pool_schemas import DEFAULT_SEED, SCHEMAS

log = logging.getLogger(__name__)


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
            outputs.append(write_pool(out / f"{prefix}_top_{label}_num_{len(rows)}.jsonl", rows))
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
    shuffle = bool_option(cfg, "shuffle", False)
    seed = int_option(cfg, "shuffle_seed", DEFAULT_SEED, 0)

    outputs = []
    for path in paths:
        rows = read_rows(path)
        base = data_basename(path)
        for t in parsed:
            dup = rows * t
            if shuffle:
                dup = [dup[i] for i in np.random.default_rng(seed).permutation(len(dup))]
            outputs.append(write_pool(out / f"{base}_x{t}.jsonl", dup))
    return outputs


def downsample_pools(cfg: dict) -> list[str]:
    """``data_pool_downsampling``: a seeded random sample of k = min(target, n) rows from each pool."""
    check_keys(cfg, SCHEMAS["data_pool_downsampling"])
    paths = input_paths(cfg)
    out = export_dir(cfg)
    check_unique_names(paths, "dataset_path")
    target = int_option(cfg, "target_num_samples", None, 1)
    seed = int_option(cfg, "shuffle_seed", None, 0)
    alias = int_option(cfg, "seed", None, 0)
    if seed is not None and alias is not None and seed != alias:
        raise ComponentConfigError(f"conflicts with shuffle_seed ({seed}); give only one of them", key="seed")
    seed = seed if seed is not None else alias if alias is not None else DEFAULT_SEED
    fixed = int_option(cfg, "fixed_draw_seed", None, 0)
    seed = fixed if fixed is not None else seed

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
        dest = out / f"{data_basename(path)}_{k}.jsonl"
        outputs.append(write_pool(dest, picked))
        # which draw this pool is: arm_ranking reads it to say whether pool draws vary between an arm's runs
        write_json(str(dest) + ".draw.json", {"source": data_basename(path), "draw_seed": seed, "k": k,
                                              "of": len(rows)})
    return outputs


def merge_pools(cfg: dict) -> str:
    """``data_pool_merging``: concatenate the pools (no dedup) into ``<LCP>_merged.jsonl``; returns one path."""
    check_keys(cfg, SCHEMAS["data_pool_merging"])
    paths = input_paths(cfg)
    out = export_dir(cfg)
    rows: list[dict] = []
    for p in paths:
        rows.extend(read_rows(p))
    return write_pool(out / f"{longest_common_prefix(paths)}_merged.jsonl", rows)


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
            outputs.append(write_pool(out / f"{prefix}_cartesian_join_{i}_{j}.jsonl", cartesian_join(rows1, rows2)))
    return outputs


# --------------------------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------------------------

MANIPULATORS: dict[str, Callable[[dict], "list[str] | str"]] = {
    "data_pool_construction": construct_pools,
    "data_pool_combination": combine_pools,
    "data_pool_duplication": duplicate_pools,
    "data_pool_downsampling": downsample_pools,
    "data_pool_merging": merge_pools,
    "data_pool_cartesian_join": cartesian_join_pools,
}
