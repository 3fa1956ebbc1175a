"""ProbeViaModelInferHook: per-sample model loss/perplexity written as stats."""
from __future__ import annotations

import math
from pathlib import Path

from ..core.names import DJ_STATS
from ..dj.media import read_dataset
from ..errors import ComponentConfigError
from ..io import write_json, write_jsonl
from .runner import Result, Run


def probe_via_model_infer(run: Run) -> Result:
    """extra_configs: model_path, dataset_path, text_key, stat. Each row gets
    ``__dj__stats__.<stat>`` (mean nats/token; default ``model_loss``) and its perplexity
    (``model_perplexity``), usable by pool construction (split on the stat) and by
    RefineRecipeViaModelFeedbackHook. With ``reference_path`` instead of ``model_path``: a CCNet-style
    reference n-gram model trained on that clean set scores the rows (stat default ``ref_loss``;
    components/reference_perplexity.py), and ``reference_heldout.jsonl`` in the artifacts holds the
    scored held-out reference documents (the data-driven threshold of ``loss_threshold``).
    """
    extra = run.extra
    path = extra["dataset_path"] if isinstance(extra["dataset_path"], str) else extra["dataset_path"][0]
    if extra.get("reference_path"):
        return _probe_with_reference(run, path)
    if not extra.get("model_path"):
        raise ComponentConfigError("give model_path (a trained model) or reference_path (a clean reference set)",
                                   key="model_path")
    from ..components.reference_perplexity import perplexity_stat
    from ..components.stats_summary import describe_stats
    from ..models.evaluate import per_sample_loss

    stat = extra.get("stat") or "model_loss"
    losses = per_sample_loss(extra["model_path"], path, text_key=extra.get("text_key", "text"), threads=run.threads)
    out = run.artifacts / (Path(path).name.split(".")[0] + "_model_stats.jsonl")

    def rows():
        for row, loss in zip(read_dataset(path), losses):  # written elsewhere: media paths resolved
            stats = dict(row.get(DJ_STATS) or {})
            stats[stat] = loss
            stats[perplexity_stat(stat)] = math.exp(min(loss, 50.0))
            row[DJ_STATS] = stats
            yield row

    n = write_jsonl(out, rows())
    overall = describe_stats([{stat: v} for v in losses])
    write_json(run.artifacts / "overall.json", overall)
    export = extra.get("export_path")
    return Result(outputs=str(out), metrics={"num_samples": n, "overall": overall},
                  exports={"extra_configs.export_path": str(out)} if export else {})


def _probe_with_reference(run: Run, path: str) -> Result:
    from ..components.reference_perplexity import score_with_reference

    extra = run.extra
    out = run.artifacts / (Path(path).name.split(".")[0] + "_ref_stats.jsonl")
    metrics = score_with_reference(path, extra["reference_path"], out, run.artifacts,
                                   tokenizer_path=extra.get("tokenizer_path"), order=extra.get("order", 3),
                                   heldout_fraction=extra.get("heldout_fraction", 0.1),
                                   text_key=extra.get("text_key", "text"), stat=extra.get("stat") or "ref_loss")
    export = extra.get("export_path")
    return Result(outputs=str(out), metrics=metrics, exports={"extra_configs.export_path": str(out)} if export else {})
