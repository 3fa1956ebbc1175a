"""ProbeViaModelInferHook: per-sample model loss/perplexity written as stats."""
from __future__ import annotations

import math
from pathlib import Path

from ..core.names import DJ_STATS
from ..io import iter_jsonl, write_json, write_jsonl
from .runner import Result, Run


def probe_via_model_infer(run: Run) -> Result:
    """extra_configs: model_path, dataset_path, text_key. Each row gets
    ``__dj__stats__.model_loss`` (mean nats/token) and ``model_perplexity``, usable by pool
    construction (split on ``model_loss``) and by RefineRecipeViaModelFeedbackHook.
    """
    from ..components.stats_summary import describe_stats
    from ..models.evaluate import per_sample_loss

    extra = run.extra
    path = extra["dataset_path"] if isinstance(extra["dataset_path"], str) else extra["dataset_path"][0]
    losses = per_sample_loss(extra["model_path"], path, text_key=extra.get("text_key", "text"), threads=run.threads)
    out = run.artifacts / (Path(path).name.split(".")[0] + "_model_stats.jsonl")

    def rows():
        for row, loss in zip(iter_jsonl(path), losses):
            stats = dict(row.get(DJ_STATS) or {})
            stats["model_loss"] = loss
            stats["model_perplexity"] = math.exp(min(loss, 50.0))
            row[DJ_STATS] = stats
            yield row

    n = write_jsonl(out, rows())
    overall = describe_stats([{"model_loss": v} for v in losses])
    write_json(run.artifacts / "overall.json", overall)
    export = extra.get("export_path")
    return Result(outputs=str(out), metrics={"num_samples": n, "overall": overall},
                  exports={"extra_configs.export_path": str(out)} if export else {})
