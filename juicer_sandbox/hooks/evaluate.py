"""EvaluateDataHook: score a dataset with the evaluator named by extra_configs.type."""
from __future__ import annotations

from ..io import write_json
from .runner import Result, Run


def evaluate_data(run: Run) -> Result:
    comp, cfg = run.component("data_evaluator")
    if "seed" in (comp.schema.get("properties") or {}):
        cfg.setdefault("seed", run.seed)  # the sandbox seed for components that draw
    result = comp.fn(cfg)
    write_json(run.artifacts / "result.json", result)
    values = list(result) if isinstance(result, tuple) else [result]
    metrics = {f"res_{i + 1}": v for i, v in enumerate(values) if isinstance(v, (int, float, dict))}
    return Result(outputs=result, metrics=metrics, exports=run.exports_of(cfg))
