"""InferModelHook: generation over a dataset with a local model (`local`) or an API (`api`)."""
from __future__ import annotations

from .runner import Result, Run


def infer_model(run: Run) -> Result:
    comp, cfg = run.component("model_infer")
    out = comp.fn(cfg, run)
    return Result(outputs=out, exports=run.exports_of(cfg))
