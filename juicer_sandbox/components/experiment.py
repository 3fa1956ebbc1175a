"""Experiment probes (DJ-Sandbox ``GeneralProbeFactory``): rank data arms over seeds, and compare two rankings.

The paper's pool experiments in miniature: train the same model on each data pool ("arm") with several seeds,
evaluate, then ask (1) which pools beat a same-size random pool, by how much compared with seed noise, and (2) whether
the order of the pools is stable (Kendall tau between two seeds, or between two model sizes).

``arm_ranking(cfg) -> list[str]``, ``cfg`` = the job's ``extra_configs``:

* ``evaluations``: the evaluation results, one dict per (arm, seed) as ``lm_loss`` produces them: ``arm``, ``seed``
  and the metric. Each item may also be the path of a JSON file holding such a dict (``lm_loss`` writes
  ``metrics.json``). A mapping ``{"0": {...}, "1": {...}}`` (what ``extra_configs.evaluations.<i>`` references build)
  counts as the list of its values in index order. A gathered reference ``<pipeline>.eval_*.res_1`` gives the list.
* ``metric`` (default ``loss``; a dotted key walks nested dicts), ``goal``: ``minimize`` (default) or ``maximize``.
* ``baseline``: the control arm (e.g. ``random``): every arm gets ``delta`` = mean - baseline mean and
  ``delta_baseline_std`` = delta / baseline std (null when the baseline has one seed or no spread), and
  ``delta_pooled_std`` = delta / ``pooled_std``, the seed std pooled over all arms with two or more seeds
  (sqrt of sum (n_i - 1) s_i^2 / sum (n_i - 1)). With two seeds the baseline's own std has one degree of freedom
  and can be tiny by chance; the pooled one has one per arm. The baseline is in the table but not in the
  returned list.
* ``pool`` of each evaluation (or ``pools``: a mapping arm -> path, or a list index-aligned with ``evaluations``):
  the training data of the arm; what the job returns. An arm with no known pool is returned by its name.
* ``top_n``: keep the first n of the returned list. ``export_path``: a directory for ``ranking.json``,
  ``ranking.csv`` and ``ranking.md``.

Per arm: mean, std (ddof=1, null for one seed), n. Arms are ranked best first (ties share the smaller rank and keep
their first-appearance order). The replicate of an evaluation is its ``seed``; where no evaluation has a seed, the
k-th evaluation of each arm is replicate k. With two or more replicates holding at least two arms, ranking.json also
holds the per-seed rankings, ``kendall_tau.tau`` between the two smallest seeds (seed 0 and seed 1 in the usual
case) and ``kendall_tau.mean_pairwise`` over all seed pairs. The per-seed rankings include the baseline arm.

Returns the ranked pools (best first), so a chained experiment can feed them to ``data_pool_combination``.

``ranking_agreement(cfg) -> float | None``: Kendall tau-b between ``ranking_a`` and ``ranking_b``, each a list of
names best first (e.g. the ``res_1`` of two ``arm_ranking`` jobs), the path of a ``ranking.json`` written by
``arm_ranking``, or an ``arm_ranking`` job's artifacts directory (``<pipeline>.<job>.__artifacts__``; its exported
ranking.json, else the ranking recomputed from the resolved config kept there). From a ranking record the arm means
are compared (tied means count as ties; the baseline arm is included). Only items both rankings contain are
compared; fewer than two is an error. Writes ``agreement.json`` to ``export_path``. None when tau is undefined
(every common item tied in one ranking).

Kendall tau-b is computed here (numpy, O(n^2) pairs; arms are few): (P - Q) / sqrt((n0 - n1) (n0 - n2)) with P/Q
the concordant/discordant pairs, n0 = n(n-1)/2 and n1, n2 the pairs tied in x, in y. It equals
``scipy.stats.kendalltau(x, y).statistic`` (variant 'b'), without the scipy dependency.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import math
import os
import statistics
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import ComponentConfigError
from ..io import write_json, write_text
from .convert import check_keys
from .ranking import lookup

log = logging.getLogger(__name__)

GOALS = ("minimize", "maximize")


# -- Kendall tau ----------------------------------------------------------------------------------------------------
def kendall_tau(x, y) -> float | None:
    """Kendall tau-b of two equally long score sequences (ties handled). None when undefined: fewer than two items,
    or all items tied in x or in y."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"kendall_tau needs two 1-d sequences of equal length, got {x.shape} and {y.shape}")
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError("kendall_tau: NaN in the scores")
    n = x.size
    if n < 2:
        return None
    i, j = np.triu_indices(n, k=1)
    dx = np.sign(x[i] - x[j])
    dy = np.sign(y[i] - y[j])
    n0 = i.size
    n1 = int(np.count_nonzero(dx == 0))  # pairs tied in x = sum over tie groups t(t-1)/2
    n2 = int(np.count_nonzero(dy == 0))
    denom = math.sqrt((n0 - n1) * (n0 - n2))
    if denom == 0:
        return None
    return float(np.sum(dx * dy) / denom)


def ranking_tau(a: list, b: list) -> tuple[float | None, list]:
    """Kendall tau between two rankings (lists best first) over the items both contain, in a's order."""
    pos_b = {item: k for k, item in enumerate(b)}
    common = [item for item in a if item in pos_b]
    pos_a = {item: k for k, item in enumerate(a)}
    return kendall_tau([-pos_a[c] for c in common], [-pos_b[c] for c in common]), common


# -- arm_ranking ----------------------------------------------------------------------------------------------------
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


def compute_arm_ranking(cfg: dict) -> dict:
    """The ranking record of ``arm_ranking`` (what ranking.json holds), without writing anything."""
    check_keys(cfg, SCHEMAS["arm_ranking"])
    metric = cfg.get("metric") or "loss"
    if not isinstance(metric, str):
        raise ComponentConfigError(f"must be a metric name, got {metric!r}", key="metric")
    goal = cfg.get("goal") or "minimize"
    if goal not in GOALS:
        raise ComponentConfigError(f"must be one of {', '.join(GOALS)}, got {goal!r}", key="goal")
    top_n = cfg.get("top_n")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise ComponentConfigError(f"must be an integer >= 1, got {top_n!r}", key="top_n")
    evaluations = [_load_evaluation(e, i) for i, e in enumerate(_evaluation_list(cfg.get("evaluations"), metric))]
    pools = cfg.get("pools")
    if isinstance(pools, list) and len(pools) != len(evaluations):
        raise ComponentConfigError(f"has {len(pools)} entries but there are {len(evaluations)} evaluations; a list "
                                   "must be index-aligned with evaluations (or use a mapping arm -> pool)",
                                   key="pools")

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
        group = arms.setdefault(arm, {"values": [], "seeds": [], "pools": []})
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

    baseline = cfg.get("baseline")
    if baseline is not None and str(baseline) not in arms:
        raise ComponentConfigError(f"{baseline!r} is not one of the arms ({', '.join(arms)})", key="baseline")
    baseline = None if baseline is None else str(baseline)

    sign = 1.0 if goal == "minimize" else -1.0  # sort key: smaller is better
    rows = []
    for order, (arm, g) in enumerate(arms.items()):
        vals = g["values"]
        rows.append({
            "arm": arm, "mean": statistics.fmean(vals), "std": statistics.stdev(vals) if len(vals) > 1 else None,
            "n": len(vals), "values": vals, "seeds": g["seeds"], "pool": g["pools"][0] if g["pools"] else None,
            "pools": g["pools"], "is_baseline": arm == baseline, "_order": order,
        })
    rows.sort(key=lambda r: (sign * r["mean"], r["_order"]))
    for k, r in enumerate(rows):
        r["rank"] = rows[k - 1]["rank"] if k and rows[k - 1]["mean"] == r["mean"] else k + 1
        del r["_order"]
    base = next((r for r in rows if r["is_baseline"]), None)
    pooled_std, pooled_dof = _pooled_std(rows)
    for r in rows:
        if base is None:
            r["delta"] = r["delta_baseline_std"] = r["delta_pooled_std"] = r["beats_baseline"] = None
            continue
        r["delta"] = r["mean"] - base["mean"]
        r["delta_baseline_std"] = (r["delta"] / base["std"]) if base["std"] else None
        r["delta_pooled_std"] = (r["delta"] / pooled_std) if pooled_std else None
        r["beats_baseline"] = None if r["is_baseline"] else bool(sign * r["delta"] < 0)

    ranking = [r["arm"] for r in rows if not r["is_baseline"]]
    chosen = [r for r in rows if not r["is_baseline"]]
    if cfg.get("one_per_group"):
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
    if top_n is not None:
        ranked_pools = ranked_pools[:top_n]
    result = {"metric": metric, "goal": goal, "baseline": baseline, "top_n": top_n, "arms": rows,
              "ranking": ranking, "ranked_pools": ranked_pools, "n_evaluations": len(evaluations),
              "pooled_std": pooled_std, "pooled_std_dof": pooled_dof}
    result.update(_seed_agreement(rows, sign))
    return result


def _pooled_std(rows: list[dict]) -> tuple[float | None, int]:
    """Seed std pooled over the arms with >= 2 values, and its degrees of freedom (None, 0 without any)."""
    dof = sum(r["n"] - 1 for r in rows if r["std"] is not None)
    if not dof:
        return None, 0
    return math.sqrt(sum((r["n"] - 1) * r["std"] ** 2 for r in rows if r["std"] is not None) / dof), dof


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


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _signed(v: Any, digits: int = 4) -> str:
    return "" if v is None else f"{v:+.{digits}f}"


def mean_std_cell(row: dict, digits: int = 4) -> str:
    return f"{row['mean']:.{digits}f} ± {row['std']:.{digits}f}" if row["std"] is not None \
        else f"{row['mean']:.{digits}f}"


def pooled_std_clause(result: dict) -> str:
    """' and of the seed std pooled over all arms (s, k degrees of freedom)' for a ranking caption; '' without
    a baseline or without an arm with two seeds."""
    if not (result.get("baseline") and result.get("pooled_std")):
        return ""
    return (f" and of the seed std pooled over all arms ({result['pooled_std']:.4f}, {result['pooled_std_dof']} "
            "degrees of freedom)")


TABLE_COLUMNS = ("rank", "arm", "mean", "std", "n", "delta", "delta_baseline_std", "delta_pooled_std",
                 "beats_baseline", "is_baseline", "pool")


def ranking_csv(result: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(TABLE_COLUMNS)
    for r in result["arms"]:
        w.writerow(["" if r[c] is None else (repr(r[c]) if isinstance(r[c], float) else r[c]) for c in TABLE_COLUMNS])
    return buf.getvalue()


def ranking_markdown(result: dict, title: str | None = None) -> list[str]:
    """The ranking as markdown lines: mean ± std (n seeds) per arm, delta vs the baseline, Kendall tau."""
    metric, base = result["metric"], result.get("baseline")
    better = "lower" if result["goal"] == "minimize" else "higher"
    lines = [f"### {title}", ""] if title else []
    pooled = pooled_std_clause(result)
    lines += [f"Arms ranked by {metric} ({better} is better), mean ± std over n seeds"
              + (f"; Δ = mean − mean({base}), also in units of std({base})" if base else "") + pooled + ".", ""]
    head = ["rank", "arm", f"{metric} mean ± std", "n"]
    if base:
        head += [f"Δ vs {base}", f"Δ / std({base})"] + (["Δ / pooled std"] if pooled else [])
    head.append("pool")
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["arms"]:
        arm = f"{r['arm']} (baseline)" if r["is_baseline"] else r["arm"]
        cells = [str(r["rank"]), arm, mean_std_cell(r), str(r["n"])]
        if base:
            cells += ["" if r["is_baseline"] else _signed(r["delta"]),
                      "" if r["is_baseline"] else _signed(r["delta_baseline_std"], 2)]
            if pooled:
                cells.append("" if r["is_baseline"] else _signed(r["delta_pooled_std"], 2))
        cells.append(f"`{r['pool']}`" if r.get("pool") else "")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    kt = result.get("kendall_tau")
    if kt:
        s0, s1 = kt["seeds"]
        more = f"; mean over all {len(kt['pairs'])} seed pairs: {_fmt_tau(kt['mean_pairwise'])}" \
            if len(kt["pairs"]) > 1 else ""
        lines.append(f"Kendall τ between the rankings of seed {s0} and seed {s1}: {_fmt_tau(kt['tau'])} "
                     f"({kt['n_arms']} arms){more}.")
        lines.append("")
    return lines


def _fmt_tau(t: float | None) -> str:
    return "undefined" if t is None else f"{t:+.3f}"


def write_ranking(result: dict, export_path: str | os.PathLike) -> None:
    out = Path(export_path)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "ranking.json", result)
    write_text(out / "ranking.csv", ranking_csv(result))
    write_text(out / "ranking.md", "\n".join(ranking_markdown(result)) + "\n")


def arm_ranking(cfg: dict) -> list[str]:
    """Rank arms by mean metric over seeds (see the module docstring); returns their pools, best first."""
    result = compute_arm_ranking(cfg)
    if cfg.get("export_path"):
        write_ranking(result, cfg["export_path"])
    kt = result.get("kendall_tau") or {}
    log.info("arm_ranking by %s (%s): %s; seed tau %s", result["metric"], result["goal"], result["ranking"],
             kt.get("tau"))
    return result["ranked_pools"]


# -- ranking_agreement ----------------------------------------------------------------------------------------------
def _ranking_in_dir(path: str, key: str) -> Any:
    """What an arm_ranking job directory holds: its ranking.json (exported), else its ranking recomputed from the
    resolved config the runner keeps there, else the ranked list the hook wrote."""
    for candidate in (os.path.join(path, "ranking.json"), os.path.join(path, "export", "ranking.json")):
        if os.path.isfile(candidate):
            with open(candidate, encoding="utf-8") as fh:
                data = json.load(fh)
            if isinstance(data, dict) and "arms" in data:
                return data
    resolved = os.path.join(path, "resolved_config.json")
    if os.path.isfile(resolved):
        with open(resolved, encoding="utf-8") as fh:
            extra = (json.load(fh) or {}).get("extra_configs") or {}
        if extra.get("type") == "arm_ranking":
            return compute_arm_ranking({k: v for k, v in extra.items() if k not in ("type", "export_path")})
    listed = os.path.join(path, "ranking.json")
    if os.path.isfile(listed):
        return listed
    raise ComponentConfigError(f"directory {path!r} holds no ranking (no ranking.json, and it is not the artifacts "
                               "directory of an arm_ranking job)", key=key)


def _scores(value: Any, key: str) -> tuple[list[str], dict[str, float]]:
    """(items best first, item -> score where larger is better) from a list, a ranking.json or a job directory."""
    if isinstance(value, (str, os.PathLike)) and os.path.isdir(str(value)):
        value = _ranking_in_dir(str(value), key)
    if isinstance(value, dict):
        value = _ranking_scores(value, str(key), key)
    if isinstance(value, tuple):
        return value
    if isinstance(value, (str, os.PathLike)):
        path = str(value)
        if not os.path.isfile(path):
            raise ComponentConfigError(f"{path!r} is not an existing ranking.json or job directory (or give a list "
                                       "of names)", key=key)
        try:
            with open(path, encoding="utf-8") as fh:
                value = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ComponentConfigError(f"{path} is not valid JSON ({exc.msg})", key=key)
        if isinstance(value, dict):
            return _ranking_scores(value, path, key)
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        raise ComponentConfigError("must be a list of names (best first) or the path of a ranking.json", key=key)
    items = [str(v) for v in value]
    if len(set(items)) != len(items):
        raise ComponentConfigError("names an item twice", key=key)
    return items, {item: -float(k) for k, item in enumerate(items)}


def _ranking_scores(data: dict, where: str, key: str) -> tuple[list[str], dict[str, float]]:
    """Arms best first and their goal-signed means (ties in the means stay ties) from a ranking record."""
    arms = data.get("arms")
    if not isinstance(arms, list) or not all(isinstance(a, dict) and "arm" in a and "mean" in a for a in arms):
        raise ComponentConfigError(f"{where} is not a ranking.json written by arm_ranking (no 'arms' table)", key=key)
    sign = -1.0 if data.get("goal", "minimize") == "minimize" else 1.0
    return [str(a["arm"]) for a in arms], {str(a["arm"]): sign * float(a["mean"]) for a in arms}


def compute_agreement(cfg: dict) -> dict:
    check_keys(cfg, SCHEMAS["ranking_agreement"])
    for key in ("ranking_a", "ranking_b"):
        if cfg.get(key) is None:
            raise ComponentConfigError("is required: a list of names best first, or a ranking.json", key=key)
    items_a, score_a = _scores(cfg["ranking_a"], "ranking_a")
    items_b, score_b = _scores(cfg["ranking_b"], "ranking_b")
    common = [item for item in items_a if item in score_b]
    if len(common) < 2:
        raise ComponentConfigError(f"the two rankings share {len(common)} item(s); Kendall tau needs at least 2 "
                                   f"(a: {items_a}, b: {items_b})", key="ranking_b")
    tau = kendall_tau([score_a[c] for c in common], [score_b[c] for c in common])
    return {"tau": tau, "n_common": len(common), "common": common, "ranking_a": items_a, "ranking_b": items_b,
            "only_in_a": [i for i in items_a if i not in score_b],
            "only_in_b": [i for i in items_b if i not in score_a]}


def ranking_agreement(cfg: dict) -> float | None:
    """Kendall tau-b between two rankings over the items both contain (see the module docstring)."""
    result = compute_agreement(cfg)
    if cfg.get("export_path"):
        write_json(Path(cfg["export_path"]) / "agreement.json", result)
    log.info("ranking_agreement: tau=%s over %d common items", result["tau"], result["n_common"])
    return result["tau"]


PROBES: dict[str, Callable[[dict], Any]] = {"arm_ranking": arm_ranking, "ranking_agreement": ranking_agreement}
OUTPUTS: dict[str, int] = {"arm_ranking": 1, "ranking_agreement": 1}

_EXPORT = {"type": ["string", "null"], "default": None, "description": "a directory for the result files"}
_EVAL = {"anyOf": [{"type": "object"}, {"type": "string", "minLength": 1}]}
_RANKING = {"anyOf": [{"type": "string", "minLength": 1},
                      {"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 1}]}

#: JSON schemas of the components' ``extra_configs``.
SCHEMAS: dict[str, dict] = {
    "arm_ranking": {
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
    },
    "ranking_agreement": {
        "type": "object",
        "description": "Kendall tau-b between two rankings",
        "properties": {
            "type": {"const": "ranking_agreement"},
            "ranking_a": _RANKING,
            "ranking_b": _RANKING,
            "export_path": _EXPORT,
        },
        "required": ["ranking_a", "ranking_b"],
        "additionalProperties": False,
    },
}
