"""TrainModelHook: `causal_lm` (tiny LM, fixed token budget) or `bpe_tokenizer` (components/model_factories.py)."""
from __future__ import annotations

from .runner import Result, Run


def train_model(run: Run) -> Result:
    comp, cfg = run.component("model_train")
    out = comp.fn(cfg, run)
    return Result(outputs=out, metrics=run.metrics, exports=run.exports_of(cfg))
