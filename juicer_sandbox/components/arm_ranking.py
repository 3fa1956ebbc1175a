"""``arm_ranking``: rank data arms by a metric averaged over seeds, against a baseline arm (documented in
:mod:`.experiment`)."""
from __future__ import annotations

import itertools
import json
import logging
import math
import os
import statistics
from typing import Any

from ..errors import ComponentConfigError
from .config_helpers import check_keys
from .kendall import kendall_tau
from .ranking import lookup
from .ranking_tables import write_ranking
from .variance import gap, pooled_std, variance_sources

log = logging.getLogger("juicer_sandbox.components.experiment")

GOALS = ("minimize", "maximize")

_EVAL = {"anyOf": [{"type": "object"}, {"type": "string", "minLength": 1}]}
_EXPORT = {"type": ["string", "null"], "default": None, "description": "a directory for the result files"}

#: JSON schema of ``arm_ranking``'s ``extra_configs``.
SCHEMA: dict = {
    "type": "object",
    "description": "rank data arms by a metric averaged over seeds, against a baseline arm",
    "properties": {
        "type": {"const": "arm_ranking"},
        "evaluations": {"anyOf": [{"type": "array", "items": _EVAL, "minItems": 1}, {"type": "object"},
                                  {"type": "string", "minLength": 1}],
                        "description": "one metrics dict (arm, seed, metric, optional pool) per arm and seed"},
        "metric": {"type": "string", "minLength": 1, "default": "loss"},
        "goal": {"enum": list(GOALS), "default": "minimize"},
        "baseline": {"type": ["string", "null"], "default": None,
                     "description": "the control arm, e.g. a same-size random pool"},
        "pools": {"anyOf": [{"type": "object", "additionalProperties": {"type": ["string", "null"]}},
                            {"type": "array", "items": {"type": ["string", "null"]}}, {"type": "null"}],
                  "default": None, "description": "arm -> training pool, when the evaluations lack `pool`"},
        "top_n": {"type": ["integer", "null"], "minimum": 1, "default": None},
        "one_per_group": {"type": "boolean", "default": False,
                          "description": "return only the best arm of each group (arm name up to its last '_')"},
        "export_path": _EXPORT,
    },
    "required": ["evaluations"],
    "additionalProperties": False,
}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _load_evaluation(item: Any, i: int) -> dict:
    if isinstance(item, (str, os.PathLike)):
        path = str(item)
        if not os.path.isfile(path):
            raise ComponentConfigError(f"entry {i} is a string but not an existing JSON metrics file: {path}",
                                       key="evaluations")
        try:
            with open(path, encoding="utf-8") as fh:
                item = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ComponentConfigError(f"entry {i}: {path} is not valid JSON ({exc.msg})", key="evaluations")
    if not isinstance(item, dict):
        raise ComponentConfigError(f"entry {i} must be a metrics dict or the path of a JSON file holding one, got "
                                   f"{type(item).__name__}", key="evaluations")
    return item


def _evaluation_list(value: Any, metric: str) -> list:
    if value is None:
        raise ComponentConfigError("is required: the evaluation results (one metrics dict per arm and seed)",
                                   key="evaluations")
    if isinstance(value, dict):
        if value and all(str(k).isdigit() for k in value):  # built by extra_configs.evaluations.<i> references
            return [value[k] for k in sorted(value, key=lambda k: int(k))]
        if lookup(value, metric)[0]:
            return [value]  # a single evaluation
        raise ComponentConfigError(f"is a mapping without '{metric}'; give a list of metrics dicts",
                                   key="evaluations")
    if isinstance(value, (str, os.PathLike)):
        return [value]
    if not isinstance(value, list) or not value:
        raise ComponentConfigError("must be a non-empty list of metrics dicts (or JSON files)", key="evaluations")
    return value


def _pool_of(cfg_pools: Any, ev: dict, arm: str, i: int) -> str | None:
    if ev.get("pool") is not None:
        return str(ev["pool"])
    if isinstance(cfg_pools, dict):
        p = cfg_pools.get(arm)
        return None if p is None else str(p)
    if isinstance(cfg_pools, list):
        return None if cfg_pools[i] is None else str(cfg_pools[i])
    return None


def _options(cfg: dict) -> tuple[str, str, int | None]:
    metric = cfg.get("metric") or "loss"
    if not isinstance(metric, str):
        raise ComponentConfigError(f"must be a metric name, got {metric!r}", key="metric")
    goal = cfg.get("goal") or "minimize"
    if goal not in GOALS:
        raise ComponentConfigError(f"must be one of {', '.join(GOALS)}, got {goal!r}", key="goal")
    top_n = cfg.get("top_n")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise ComponentConfigError(f"must be an integer >= 1, got {top_n!r}", key="top_n")
    return metric, goal, top_n


def _group_by_arm(evaluations: list[dict], metric: str, pools: Any) -> dict[str, dict]:
    """arm -> {values, seeds, pools}, arms in first-appearance order."""
    arms: dict[str, dict] = {}
    seeds_given = any(e.get("seed") is not None for e in evaluations)
    for i, ev in enumerate(evaluations):
        arm = ev.get("arm")
        if arm is None or (isinstance(arm, str) and not arm) or isinstance(arm, (dict, list)):
            raise ComponentConfigError(f"entry {i} has no 'arm' (give the evaluator an `arm` name)",
                                       key="evaluations")
        arm = str(arm)
        found, value = lookup(ev, metric)
        if not found or value is None:
            raise ComponentConfigError(f"entry {i} (arm {arm}) has no '{metric}'", key="evaluations")
        if not _is_number(value) or not math.isfinite(value):
            raise ComponentConfigError(f"entry {i} (arm {arm}): '{metric}' is {value!r}, not a finite number",
                                       key="evaluations")
        group = arms.setdefault(arm, {"values": [], "seeds": [], "pools": [], "draws": []})
        if seeds_given:
            seed = ev.get("seed")
            if seed is None:
                raise ComponentConfigError(f"entry {i} (arm {arm}) has no 'seed' while others do; give every "
                                           "evaluation its seed", key="evaluations")
        else:
            seed = len(group["values"])  # the k-th evaluation of each arm is replicate k
        if seed in group["seeds"]:
            raise ComponentConfigError(f"arm {arm} has two evaluations with seed {seed}", key="evaluations")
        group["values"].append(float(value))
        group["seeds"].append(seed)
        pool = _pool_of(pools, ev, arm, i)
        if pool is not None and pool not in group["pools"]:
            group["pools"].append(pool)
        group["draws"].append(_draw_of(ev, pool))
    return arms


def _draw_of(ev: dict, pool: str | None) -> Any:
    """Which draw of its pool a run trained on: the evaluation's ``draw_seed``, else the draw seed that
    ``data_pool_downsampling`` recorded next to the pool (``<pool>.draw.json``), else the pool file itself."""
    if ev.get("draw_seed") is not None:
        return ev["draw_seed"]
    if pool is None:
        return None
    side = pool + ".draw.json"
    if os.path.isfile(side):
        try:
            with open(side, encoding="utf-8") as fh:
                rec = json.load(fh)
            return (rec.get("source"), rec.get("draw_seed"))
        except (OSError, json.JSONDecodeError):
            pass
    return pool


def _arm_rows(arms: dict[str, dict], baseline: str | None, sign: float) -> tuple[list[dict], float | None, int]:
    """The table: one row per arm, best first, with deltas against the baseline; and the pooled std."""
    rows = []
    for order, (arm, g) in enumerate(arms.items()):
        vals = g["values"]
        rows.append({
            "arm": arm, "mean": statistics.fmean(vals), "std": statistics.stdev(vals) if len(vals) > 1 else None,
            "n": len(vals), "values": vals, "seeds": g["seeds"], "pool": g["pools"][0] if g["pools"] else None,
            "pools": g["pools"], "is_baseline": arm == baseline, "_order": order,
            "variance_sources": variance_sources(g["seeds"], g["draws"]),
        })
    rows.sort(key=lambda r: (sign * r["mean"], r["_order"]))
    for k, r in enumerate(rows):
        r["rank"] = rows[k - 1]["rank"] if k and rows[k - 1]["mean"] == r["mean"] else k + 1
        del r["_order"]
    base = next((r for r in rows if r["is_baseline"]), None)
    pooled, pooled_dof = pooled_std([r["values"] for r in rows])
    for r in rows:
        if base is None:
            r["delta"] = r["delta_baseline_std"] = r["delta_pooled_std"] = r["beats_baseline"] = None
            r["delta_paired_std"] = None
            continue
        r["delta"] = r["mean"] - base["mean"]
        r["delta_baseline_std"] = (r["delta"] / base["std"]) if base["std"] else None
        r["delta_pooled_std"] = (r["delta"] / pooled) if pooled else None
        pair = None if r["is_baseline"] else gap(dict(zip(r["seeds"], r["values"])),
                                                 dict(zip(base["seeds"], base["values"])))["paired"]
        r["delta_paired_std"] = pair["in_std"] if pair else None
        r["beats_baseline"] = None if r["is_baseline"] else bool(sign * r["delta"] < 0)
    return rows, pooled, pooled_dof


def _ranked_pools(rows: list[dict], one_per_group: bool, top_n: int | None) -> list[str]:
    chosen = [r for r in rows if not r["is_baseline"]]
    if one_per_group:
        # the best arm of each group only, e.g. one pool per op for a multi-op combination
        # (arms "<stat>_<part>": group "<stat>"); two thirds of one stat never intersect
        seen, kept = set(), []
        for r in chosen:
            group = r["arm"].rsplit("_", 1)[0]
            if group not in seen:
                seen.add(group)
                kept.append(r)
        chosen = kept
    ranked_pools = [r["pool"] or r["arm"] for r in chosen]
    return ranked_pools if top_n is None else ranked_pools[:top_n]


def compute_arm_ranking(cfg: dict) -> dict:
    """The ranking record of ``arm_ranking`` (what ranking.json holds), without writing anything."""
    check_keys(cfg, SCHEMA)
    metric, goal, top_n = _options(cfg)
    evaluations = [_load_evaluation(e, i) for i, e in enumerate(_evaluation_list(cfg.get("evaluations"), metric))]
    pools = cfg.get("pools")
    if isinstance(pools, list) and len(pools) != len(evaluations):
        raise ComponentConfigError(f"has {len(pools)} entries but there are {len(evaluations)} evaluations; a list "
                                   "must be index-aligned with evaluations (or use a mapping arm -> pool)",
                                   key="pools")
    arms = _group_by_arm(evaluations, metric, pools)
    baseline = cfg.get("baseline")
    if baseline is not None and str(baseline) not in arms:
        raise ComponentConfigError(f"{baseline!r} is not one of the arms ({', '.join(arms)})", key="baseline")
    baseline = None if baseline is None else str(baseline)

    sign = 1.0 if goal == "minimize" else -1.0  # sort key: smaller is better
    rows, combined, pooled_dof = _arm_rows(arms, baseline, sign)
    ranking = [r["arm"] for r in rows if not r["is_baseline"]]
    ranked_pools = _ranked_pools(rows, bool(cfg.get("one_per_group")), top_n)
    result = {"metric": metric, "goal": goal, "baseline": baseline, "top_n": top_n, "arms": rows,
              "ranking": ranking, "ranked_pools": ranked_pools, "n_evaluations": len(evaluations),
              "pooled_std": combined, "pooled_std_dof": pooled_dof, "combined_std": combined,
              "variance_sources": sorted({s for r in rows for s in r["variance_sources"]},
                                         key=["training seed", "pool draw"].index)}
    result.update(_seed_agreement(rows, sign))
    return result


def _seed_agreement(rows: list[dict], sign: float) -> dict:
    """Per-seed rankings and Kendall tau between them (over the arms both seeds have)."""
    by_seed: dict[Any, dict[str, float]] = {}
    for r in rows:
        for seed, v in zip(r["seeds"], r["values"]):
            by_seed.setdefault(seed, {})[r["arm"]] = v
    seeds = sorted((s for s in by_seed if len(by_seed[s]) >= 2), key=lambda s: (str(type(s)), s))
    if len(seeds) < 2:
        return {"per_seed": None, "kendall_tau": None}
    arm_order = [r["arm"] for r in rows]
    per_seed = {}
    for s in seeds:
        vals = by_seed[s]
        per_seed[str(s)] = sorted(vals, key=lambda a: (sign * vals[a], arm_order.index(a)))
    pairs = []
    for a, b in itertools.combinations(seeds, 2):
        common = [arm for arm in arm_order if arm in by_seed[a] and arm in by_seed[b]]
        tau = kendall_tau([-sign * by_seed[a][c] for c in common], [-sign * by_seed[b][c] for c in common]) \
            if len(common) >= 2 else None
        pairs.append({"seed_a": a, "seed_b": b, "n_arms": len(common), "tau": tau})
    defined = [p["tau"] for p in pairs if p["tau"] is not None]
    return {
        "per_seed": per_seed,
        "kendall_tau": {"seeds": [seeds[0], seeds[1]], "tau": pairs[0]["tau"], "n_arms": pairs[0]["n_arms"],
                        "mean_pairwise": statistics.fmean(defined) if defined else None, "pairs": pairs},
    }


def arm_ranking(cfg: dict) -> list[str]:
    """Rank arms by mean metric over seeds (see the module docstring); returns their pools, best first."""
    result = compute_arm_ranking(cfg)
    if cfg.get("export_path"):
        write_ranking(result, cfg["export_path"])
    kt = result.get("kendall_tau") or {}
    log.info("arm_ranking by %s (%s): %s; seed tau %s", result["metric"], result["goal"], result["ranking"],
             kt.get("tau"))
    return result["ranked_pools"]
