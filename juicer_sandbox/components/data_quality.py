"""Data evaluators beyond mse/accuracy: GPT-3-style quality classifiers (n-grams; n-grams + Data-Juicer stats)
and a stats comparison."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.names import DJ_STATS
from ..dj.media import read_dataset
from ..errors import ComponentConfigError
from ..io import iter_jsonl, write_json, write_jsonl


def _texts(path: str, key: str) -> list[str]:
    out = []
    for i, row in enumerate(iter_jsonl(path)):
        if key not in row:
            raise ComponentConfigError(f"row {i + 1} of {path} has no {key!r}", key="text_key")
        out.append(row[key])
    return out


def text_quality_classifier(cfg: dict) -> float:
    """Score a dataset with a quality classifier trained locally, GPT-3 style.

    Hashed word n-grams + logistic regression trained on `reference_path` (clean text, label 1)
    against `negative_path` (the raw pool, label 0; default: the dataset itself). Writes the
    per-sample scores and, with `keep_rule` (`gpt3`: keep if score > Pareto(9) draw;
    `threshold`: keep if score >= `threshold`), the kept samples. Returns the mean score.
    """
    from ..models.quality import gpt3_keep, train_quality_classifier

    key = cfg.get("text_key", "text")
    data = cfg["dataset_path"]
    data = data[0] if isinstance(data, list) else data
    seed = cfg.get("seed", 42)
    model = train_quality_classifier(_texts(cfg["reference_path"], key), _texts(cfg.get("negative_path") or data, key),
                                     seed=seed)
    rows = list(read_dataset(data))  # rewritten to kept.jsonl: media paths resolved here
    scores = model.score([r[key] for r in rows])
    out = Path(cfg["export_path"])
    model.save(out / "quality_classifier.json")
    write_jsonl(out / "scores.jsonl", ({"score": float(s)} for s in scores))
    rule = cfg.get("keep_rule")
    if rule:
        if rule == "gpt3":
            keep = gpt3_keep(scores, seed=seed)
        else:
            keep = scores >= cfg.get("threshold", 0.5)
        kept = [r for r, k in zip(rows, keep) if k]
        write_jsonl(out / "kept.jsonl", kept)
        write_json(out / "keep.json", {"rule": rule, "kept": len(kept), "total": len(rows)})
    return float(np.mean(scores)) if len(scores) else 0.0


def _numeric_stats(rows: list[dict]) -> list[str]:
    """Stats numeric in every row (sorted): the classifier's stat features by default."""
    keys = None
    for r in rows:
        st = r.get(DJ_STATS) or {}
        mine = {k for k, v in st.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        keys = mine if keys is None else keys & mine
    return sorted(keys or [])


def stats_quality_classifier(cfg: dict) -> tuple[str, dict]:
    """Reference-vs-raw classifier on Data-Juicer stats + hashed n-grams (models/stat_quality.py; GPT-3 method).

    `reference_path`: the clean reference set probed with the same recipe (its rows carry the same stats; never
    the evaluation split); `dataset_path`: the probed raw pool (also the negatives unless `negative_path`).
    `stats`: the stat features (default: every stat numeric in all rows of both). Writes `scored.jsonl` (the
    dataset with `__dj__stats__.quality_score` = P(reference-like)), `kept.jsonl` and the model. The keep rule is
    calibrated on the held-out reference: score >= the score that keeps `reference_quantile` (default 0.9) of
    it, as reference perplexity keeps the reference's 0.9 quantile; `threshold` sets a fixed one instead.
    Returns (the scored dataset, metrics with the held-out reference/raw AUC and the threshold)."""
    from ..models.stat_quality import train_with_auc

    key = cfg.get("text_key", "text")
    data = cfg["dataset_path"]
    data = data[0] if isinstance(data, list) else data
    ref = list(iter_jsonl(cfg["reference_path"]))
    rows = list(read_dataset(data))  # rewritten to scored/kept.jsonl: media paths resolved here
    neg = rows if not cfg.get("negative_path") else list(iter_jsonl(cfg["negative_path"]))
    stats = cfg.get("stats") or [s for s in _numeric_stats(ref) if s in set(_numeric_stats(neg))]
    if not stats:
        raise ComponentConfigError("no stat is numeric in every row of both the reference and the raw pool; probe "
                                   "both with the same recipe or name `stats`", key="stats")
    model, info = train_with_auc([(r[key], r.get(DJ_STATS) or {}) for r in ref],
                                 [(r[key], r.get(DJ_STATS) or {}) for r in neg], stats, seed=cfg.get("seed", 42),
                                 reference_keep=cfg.get("reference_quantile", 0.9))
    scores = model.score([r[key] for r in rows], [r.get(DJ_STATS) or {} for r in rows])
    out = Path(cfg["export_path"])
    model.save(out / "stat_quality_classifier.npz")
    threshold = cfg["threshold"] if cfg.get("threshold") is not None else info["reference_threshold"]
    for r, sc in zip(rows, scores):
        r[DJ_STATS] = {**(r.get(DJ_STATS) or {}), "quality_score": float(sc)}
    scored = out / "scored.jsonl"
    write_jsonl(scored, rows)
    kept = write_jsonl(out / "kept.jsonl", (r for r, sc in zip(rows, scores) if sc >= threshold))
    info.update(threshold=threshold, kept=kept, total=len(rows), mean_score=float(np.mean(scores)))
    write_json(out / "classifier.json", info)
    return str(scored), info


def _stats_rows(path: str):
    for row in iter_jsonl(path):
        yield row.get(DJ_STATS, {})


def stats_comparison(cfg: dict) -> dict:
    """Before/after comparison of two datasets' stats: counts kept and per-stat shifts."""
    from .stats_summary import describe_stats

    before = describe_stats(_stats_rows(cfg["before_path"]))
    after = describe_stats(_stats_rows(cfg["after_path"]))
    nb = sum(1 for _ in iter_jsonl(cfg["before_path"]))
    na = sum(1 for _ in iter_jsonl(cfg["after_path"]))
    shifts = {}
    for stat in before:
        if stat in after and before[stat]["mean"] is not None and after[stat]["mean"] is not None:
            b, a = before[stat], after[stat]
            std = b["std"] or 0.0
            shifts[stat] = {"mean_before": b["mean"], "mean_after": a["mean"], "shift": a["mean"] - b["mean"],
                            "shift_in_std": (a["mean"] - b["mean"]) / std if std else None}
    result = {"samples_before": nb, "samples_after": na, "kept_ratio": na / nb if nb else None, "stats": shifts}
    write_json(Path(cfg["export_path"]) / "comparison.json", result)
    return result


_PATH = {"type": ["string", "array"], "items": {"type": "string"}}
_COMMON = {"type": {"type": "string"}, "export_path": {"type": ["string", "null"]}, "seed": {"type": "integer"}}
DATA_EVALUATORS = {"text_quality_classifier": text_quality_classifier, "stats_comparison": stats_comparison,
                   "stats_quality_classifier": stats_quality_classifier}
OUTPUTS = {"stats_quality_classifier": 2}
SCHEMAS = {
    "text_quality_classifier": {
        "type": "object", "additionalProperties": False, "required": ["dataset_path", "reference_path"],
        "properties": {**_COMMON, "dataset_path": _PATH, "reference_path": {"type": "string"},
                       "negative_path": {"type": ["string", "null"]}, "text_key": {"type": "string"},
                       "keep_rule": {"enum": [None, "gpt3", "threshold"]}, "threshold": {"type": "number"}}},
    "stats_quality_classifier": {
        "type": "object", "additionalProperties": False, "required": ["dataset_path", "reference_path"],
        "properties": {**_COMMON, "dataset_path": _PATH, "reference_path": {"type": "string"},
                       "negative_path": {"type": ["string", "null"]}, "text_key": {"type": "string"},
                       "stats": {"type": ["array", "null"], "items": {"type": "string"}},
                       "threshold": {"type": "number", "minimum": 0, "maximum": 1},
                       "reference_quantile": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}}},
    "stats_comparison": {
        "type": "object", "additionalProperties": False, "required": ["before_path", "after_path"],
        "properties": {**_COMMON, "before_path": {"type": "string"}, "after_path": {"type": "string"}}},
}
