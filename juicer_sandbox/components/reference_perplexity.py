"""Reference-model perplexity as a per-document stat (CCNet-style), for k-sigma, pools and model feedback.

Reference: Wenzek et al. 2020, "CCNet: Extracting High Quality Monolingual Datasets from Web Crawl Data" (LREC):
a language model trained on a clean reference corpus (their Wikipedia; here a clean set the user names, never the
evaluation split) scores every document; documents whose perplexity looks like the reference's are kept (CCNet
splits the distribution into head / middle / tail thirds).

:func:`score_with_reference` trains :mod:`juicer_sandbox.models.ngram_lm` (an interpolated n-gram model over the
sandbox's BPE tokens; CCNet used a KenLM 5-gram) on the reference minus a held-out part, and writes

* the dataset with ``__dj__stats__.<stat>`` (mean nats per token, default stat ``ref_loss``) and
  ``<stat minus _loss>_perplexity`` (``ref_perplexity``);
* ``reference_heldout.jsonl``: the held-out reference documents with the same stats. Their distribution is the
  data-driven threshold: ``RefineRecipeViaModelFeedbackHook`` ``loss_threshold`` with ``stat: ref_loss`` and
  ``reference_path`` (this file or the directory holding it) keeps the documents at or below the
  ``reference_quantile`` (default 0.9) of the held-out reference's values: nothing is set by hand.

The stat is an ordinary ``__dj__stats__`` key, so ``data_pool_construction`` splits on it (CCNet's head/middle/tail
are its thirds), and k-sigma bounds it through ``specified_numeric_field_filter`` with
``field_key: __dj__stats__.ref_loss`` (:mod:`.ksigma`). ProbeViaModelInferHook runs it when given
``reference_path`` instead of ``model_path``. Held-out membership is a hash of the text, so it is deterministic.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from ..core.names import DJ_STATS
from ..dj.media import read_dataset
from ..errors import ComponentConfigError
from ..io import iter_jsonl, write_jsonl

HELDOUT_FILE = "reference_heldout.jsonl"


def _is_heldout(text: str, fraction: float) -> bool:
    return zlib.crc32(text.encode("utf-8", "replace")) % 10_000 < fraction * 10_000


def perplexity_stat(stat: str) -> str:
    return (stat[:-5] if stat.endswith("_loss") else stat) + "_perplexity"


def _with_stats(rows, losses, stat: str):
    from ..models.ngram_lm import perplexity

    for row, loss in zip(rows, losses):
        stats = dict(row.get(DJ_STATS) or {})
        stats[stat] = loss
        stats[perplexity_stat(stat)] = perplexity(loss)
        row[DJ_STATS] = stats
        yield row


def _quantiles(values) -> dict:
    arr = np.asarray(values, dtype=float)
    if not arr.size:
        return {}
    return {f"q{int(q * 100)}": float(np.quantile(arr, q)) for q in (0.1, 0.25, 0.5, 0.75, 0.9, 0.95)} | \
        {"mean": float(arr.mean())}


def score_with_reference(dataset_path: str, reference_path: str, out_path: str | Path, heldout_dir: str | Path, *,
                         tokenizer_path: str | None = None, order: int = 3, heldout_fraction: float = 0.1,
                         text_key: str = "text", stat: str = "ref_loss") -> dict:
    """Train the reference model, score the dataset and the held-out reference; returns the job's metrics."""
    from ..models.ngram_lm import train_ngram_lm

    if not 0 < heldout_fraction < 1:
        raise ComponentConfigError(f"must be in (0, 1), got {heldout_fraction!r}", key="heldout_fraction")
    ref_rows = list(iter_jsonl(reference_path))
    for i, r in enumerate(ref_rows):
        if not isinstance(r.get(text_key), str):
            raise ComponentConfigError(f"{reference_path}: row {i + 1} has no text under {text_key!r}",
                                       key="reference_path")
    held = [r for r in ref_rows if _is_heldout(r[text_key], heldout_fraction)]
    train = [r[text_key] for r in ref_rows if not _is_heldout(r[text_key], heldout_fraction)]
    if not held or not train:
        raise ComponentConfigError(f"{reference_path}: {len(ref_rows)} documents are too few to hold out "
                                   f"{heldout_fraction:.0%} and train on the rest", key="reference_path")
    model = train_ngram_lm(train, order=order, tokenizer_path=tokenizer_path)
    held_losses = model.doc_losses([r[text_key] for r in held])
    write_jsonl(Path(heldout_dir) / HELDOUT_FILE, _with_stats(held, held_losses, stat))
    rows = list(read_dataset(dataset_path))  # media paths made absolute: the rows are written elsewhere
    losses = model.doc_losses([str(r.get(text_key, "")) for r in rows])
    n = write_jsonl(out_path, _with_stats(rows, losses, stat))
    return {"num_samples": n, "stat": stat, "reference_docs": len(train), "heldout_docs": len(held),
            "order": order, "reference_tokens": model.meta["tokens"],
            "heldout": _quantiles(held_losses), "dataset": _quantiles(losses)}


def reference_threshold(reference: str | Path, stat: str, quantile: float) -> float:
    """The ``quantile`` of ``stat`` over the scored held-out reference (a file, or a directory holding
    ``reference_heldout.jsonl``)."""
    path = Path(reference)
    if path.is_dir():
        path = path / HELDOUT_FILE
    values = [row[DJ_STATS][stat] for row in iter_jsonl(path) if stat in (row.get(DJ_STATS) or {})]
    if not values:
        raise ComponentConfigError(f"{path} has no documents with stat {stat!r}", key="reference_path")
    return float(np.quantile(np.asarray(values, dtype=float), quantile))


__all__ = ["score_with_reference", "reference_threshold", "perplexity_stat", "HELDOUT_FILE"]
