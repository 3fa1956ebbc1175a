"""Data evaluators beyond mse/accuracy: a GPT-3-style quality classifier and a stats comparison."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.names import DJ_STATS
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
    rows = list(iter_jsonl(data))
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
DATA_EVALUATORS = {"text_quality_classifier": text_quality_classifier, "stats_comparison": stats_comparison}
SCHEMAS = {
    "text_quality_classifier": {
        "type": "object", "additionalProperties": False, "required": ["dataset_path", "reference_path"],
        "properties": {**_COMMON, "dataset_path": _PATH, "reference_path": {"type": "string"},
                       "negative_path": {"type": ["string", "null"]}, "text_key": {"type": "string"},
                       "keep_rule": {"enum": [None, "gpt3", "threshold"]}, "threshold": {"type": "number"}}},
    "stats_comparison": {
        "type": "object", "additionalProperties": False, "required": ["before_path", "after_path"],
        "properties": {**_COMMON, "before_path": {"type": "string"}, "after_path": {"type": "string"}}},
}
