"""EvaluateDataHook: score a dataset with the evaluator named by extra_configs.type."""
from __future__ import annotations

from ..io import write_json
from .runner import Result, Run


def evaluate_data(run: Run) -> Result:
    from ..components.registry import get_component

    comp = get_component("data_evaluator", run.extra.get("type"))
    cfg = {k: v for k, v in run.extra.items() if k != "type"}
    accepted = (comp.schema.get("properties") or {}).keys()
    # offer a place to write and the sandbox seed to components that take them
    for key, value in (("export_path", str(run.artifacts)), ("seed", run.seed)):
        if key in accepted:
            cfg.setdefault(key, value)
    result = comp.fn(cfg)
    write_json(run.artifacts / "result.json", result)
    values = list(result) if isinstance(result, tuple) else [result]
    metrics = {f"res_{i + 1}": v for i, v in enumerate(values) if isinstance(v, (int, float, dict))}
    return Result(outputs=result, metrics=metrics)
