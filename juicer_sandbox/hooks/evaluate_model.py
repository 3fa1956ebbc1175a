"""EvaluateModelHook: `lm_loss` = validation loss, perplexity, bits per byte."""
from __future__ import annotations

from .runner import Result, Run


def evaluate_model(run: Run) -> Result:
    comp, cfg = run.component("model_evaluator")
    metrics = comp.fn(cfg, run)
    return Result(outputs=metrics, metrics=metrics)
