"""Data evaluators ``mse`` and ``accuracy``, as in DJ-Sandbox (``MSEEvaluator``, ``AccuracyEvaluator``).

Both read predicted rows (``predicted_dataset_path``: a jsonl(.gz) path or a
list of them) and ground-truth rows (``ground_truth_dataset_path``: the same
number of paths; defaults to the predicted files, for rows that hold both the
prediction and the truth), pair the rows of each file pair in order, and
return a tuple ``(per_file, best)``:

* ``mse``: ``per_file = [{pred_path, gt_path, mse, format_error, rows, valid}]``,
  ``best`` = the smallest mse. A row whose predicted or true value does not
  parse as a finite float (or is missing) is counted in ``format_error`` and
  skipped; a file with no valid row has ``mse = None``.
* ``accuracy``: ``per_file = [{pred_path, gt_path, accuracy, format_error, rows,
  correct}]``, ``best`` = the largest accuracy. A row counts as correct when
  ``str(pred) == str(truth)``; a row missing either label counts as wrong and
  in ``format_error``. An empty file has ``accuracy = None``.

``best`` is ``None`` only when no file has a value; 0.0 is a valid result
(never mistaken for "missing"). Keys are dotted paths into nested rows
(``"meta.grade"``); a literal top-level key containing dots wins.

Differences from DJ, on purpose: files of different lengths are an error
(DJ's ``zip`` silently dropped the tail), non-finite values count as format
errors, and configs are validated against :data:`SCHEMAS` with errors that
name the offending key (:class:`ComponentConfigError`).
"""
from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import ComponentConfigError, SandboxError
from ..io import read_jsonl

_PATHS = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
    ]
}
_KEY = {"type": "string", "minLength": 1}


def _schema(kind: str, key_word: str) -> dict:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{kind} data evaluator",
        "type": "object",
        "additionalProperties": False,
        "required": ["predicted_dataset_path", f"predicted_{key_word}_key", f"ground_truth_{key_word}_key"],
        "properties": {
            "type": {"const": kind},
            "predicted_dataset_path": {**_PATHS, "description": "jsonl(.gz) file(s) with predictions"},
            "ground_truth_dataset_path": {
                "anyOf": [*_PATHS["anyOf"], {"type": "null"}],
                "default": None,
                "description": "file(s) with the truth, one per predicted file (default: the predicted files)",
            },
            f"predicted_{key_word}_key": {**_KEY, "description": "dotted key of the prediction"},
            f"ground_truth_{key_word}_key": {**_KEY, "description": "dotted key of the truth"},
            "export_path": {"type": ["string", "null"],
                            "description": "accepted for uniformity with other components (the hook sets it); unused"},
            "seed": {"type": ["integer", "null"], "description": "accepted for uniformity; unused (deterministic)"},
        },
    }


#: JSON schemas of the evaluators' configs (``extra_configs``), by type name.
SCHEMAS: dict[str, dict] = {"mse": _schema("mse", "value"), "accuracy": _schema("accuracy", "label")}

#: number of values each evaluator returns: ``(per_file, best)``
OUTPUTS: dict[str, int] = {"mse": 2, "accuracy": 2}


def _unknown_key_message(key: str, allowed) -> str:
    import difflib

    hint = difflib.get_close_matches(str(key), list(allowed), n=1)
    if hint:
        return f"unknown key (did you mean '{hint[0]}'?)"
    return f"unknown key; allowed keys: {', '.join(sorted(allowed))}"


def validate_config(kind: str, cfg: Mapping[str, Any] | None) -> dict:
    """Validate ``cfg`` for evaluator ``kind``; return a copy with defaults filled."""
    import jsonschema

    if kind not in SCHEMAS:
        raise ComponentConfigError(f"unknown data evaluator {kind!r}; known: {', '.join(sorted(SCHEMAS))}", key="type")
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, Mapping):
        raise ComponentConfigError(f"config must be a mapping, got {type(cfg).__name__}")
    schema = SCHEMAS[kind]
    out = dict(cfg)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(out),
                    key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        err = errors[0]
        key = ".".join(str(p) for p in err.absolute_path)
        msg = err.message
        if err.validator == "additionalProperties":
            extra = sorted(k for k in err.instance if k not in schema["properties"])
            key, msg = extra[0], _unknown_key_message(extra[0], schema["properties"])
        elif err.validator == "required":
            missing = [k for k in schema["required"] if k not in out]
            key, msg = (missing[0] if missing else key), "required key is missing"
        raise ComponentConfigError(msg, key=key or None)
    for name, sub in schema["properties"].items():
        if name not in out and "default" in sub:
            out[name] = copy.deepcopy(sub["default"])
    return out


_MISSING = object()


def get_dotted(row: Any, key: str) -> Any:
    """``row[key]`` if present, else follow ``a.b.0.c`` into dicts/lists; ``_MISSING`` if absent."""
    if isinstance(row, Mapping) and key in row:
        return row[key]
    cur = row
    for part in key.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.lstrip("-").isdigit() and -len(cur) <= int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


def _as_list(v) -> list[str]:
    return [v] if isinstance(v, str) else list(v)


def _file_pairs(cfg: Mapping[str, Any]) -> list[tuple[str, str]]:
    preds = _as_list(cfg["predicted_dataset_path"])
    gts = cfg.get("ground_truth_dataset_path")
    gts = preds if gts is None else _as_list(gts)
    if len(gts) != len(preds):
        raise ComponentConfigError(
            f"has {len(gts)} file(s) but predicted_dataset_path has {len(preds)}", key="ground_truth_dataset_path"
        )
    for key, paths in (("predicted_dataset_path", preds), ("ground_truth_dataset_path", gts)):
        for p in paths:
            if not Path(p).is_file():
                raise ComponentConfigError(f"file not found: {p}", key=key)
    return list(zip(preds, gts))


def _paired_rows(pred_path: str, gt_path: str) -> tuple[list, list]:
    pred_rows = read_jsonl(pred_path)
    gt_rows = pred_rows if gt_path == pred_path else read_jsonl(gt_path)
    if len(pred_rows) != len(gt_rows):
        raise SandboxError(f"{pred_path} has {len(pred_rows)} rows but {gt_path} has {len(gt_rows)}; "
                           "predictions and ground truth must pair row by row")
    return pred_rows, gt_rows


def _to_float(v) -> float | None:
    if v is _MISSING or v is None or isinstance(v, bool):
        return None
    try:
        f = float(v.strip() if isinstance(v, str) else v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def mse(cfg: Mapping[str, Any]) -> tuple[list[dict], float | None]:
    """Mean squared error per file pair; returns ``(per_file, min_mse)``."""
    cfg = validate_config("mse", cfg)
    pk, gk = cfg["predicted_value_key"], cfg["ground_truth_value_key"]
    results = []
    for pred_path, gt_path in _file_pairs(cfg):
        pred_rows, gt_rows = _paired_rows(pred_path, gt_path)
        sq, n_ok, n_err = 0.0, 0, 0
        for pr, gr in zip(pred_rows, gt_rows):
            p, g = _to_float(get_dotted(pr, pk)), _to_float(get_dotted(gr, gk))
            if p is None or g is None:
                n_err += 1
                continue
            sq += (p - g) ** 2
            n_ok += 1
        results.append({
            "pred_path": pred_path,
            "gt_path": gt_path,
            "mse": sq / n_ok if n_ok else None,
            "format_error": n_err,
            "rows": len(pred_rows),
            "valid": n_ok,
        })
    values = [r["mse"] for r in results if r["mse"] is not None]
    return results, (min(values) if values else None)


def accuracy(cfg: Mapping[str, Any]) -> tuple[list[dict], float | None]:
    """Exact-match accuracy (``str(pred) == str(truth)``) per file pair; returns ``(per_file, max_accuracy)``."""
    cfg = validate_config("accuracy", cfg)
    pk, gk = cfg["predicted_label_key"], cfg["ground_truth_label_key"]
    results = []
    for pred_path, gt_path in _file_pairs(cfg):
        pred_rows, gt_rows = _paired_rows(pred_path, gt_path)
        correct, n_err = 0, 0
        for pr, gr in zip(pred_rows, gt_rows):
            p, g = get_dotted(pr, pk), get_dotted(gr, gk)
            if p is _MISSING or g is _MISSING:
                n_err += 1
                continue
            correct += str(p) == str(g)
        n = len(pred_rows)
        results.append({
            "pred_path": pred_path,
            "gt_path": gt_path,
            "accuracy": correct / n if n else None,
            "format_error": n_err,
            "rows": n,
            "correct": correct,
        })
    values = [r["accuracy"] for r in results if r["accuracy"] is not None]
    return results, (max(values) if values else None)


#: type name -> evaluator(cfg) -> (per_file list, best value)
DATA_EVALUATORS: dict[str, Callable[[Mapping[str, Any]], tuple[list[dict], float | None]]] = {
    "mse": mse,
    "accuracy": accuracy,
}

#: which direction is better for each evaluator's best value
BETTER: dict[str, str] = {"mse": "min", "accuracy": "max"}


def run_data_evaluator(kind: str, cfg: Mapping[str, Any]) -> tuple[list[dict], float | None]:
    """Look up ``kind`` in :data:`DATA_EVALUATORS` and run it."""
    try:
        fn = DATA_EVALUATORS[kind]
    except KeyError:
        raise ComponentConfigError(
            f"unknown data evaluator {kind!r}; known: {', '.join(sorted(DATA_EVALUATORS))}", key="type"
        ) from None
    return fn(cfg)


__all__ = ["DATA_EVALUATORS", "SCHEMAS", "OUTPUTS", "BETTER", "mse", "accuracy", "run_data_evaluator",
           "validate_config", "get_dotted"]
