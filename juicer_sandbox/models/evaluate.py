"""Evaluate a trained LM: validation loss, perplexity, bits per byte; per-document loss.

Conventions (shared with :mod:`.train`):

* the evaluated stream is ``<eos> doc1 <eos> doc2 <eos> ... docN <eos>``; every
  token after the leading ``<eos>`` is predicted exactly once, so every byte of
  text is covered and each document's end is predicted too;
* the stream is cut into non-overlapping windows of ``context`` predicted
  tokens (the model restarts its context at each window);
* ``loss`` = total nats / predicted tokens, ``perplexity`` = exp(loss),
  ``bits_per_byte`` = total nats / ln 2 / UTF-8 bytes of the evaluated texts
  (separators excluded), which is comparable across tokenizers.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import SandboxError


def _load(model_dir, threads: int):
    import torch

    from .lm import load_model
    from .tokenizer import TOKENIZER_FILE, eos_id, load_tokenizer

    torch.set_num_threads(max(1, int(threads)))
    model = load_model(model_dir, key="model_dir")
    if not (Path(model_dir) / TOKENIZER_FILE).is_file():
        raise SandboxError(f"{model_dir} has no {TOKENIZER_FILE} (write it with the model)")
    tok = load_tokenizer(model_dir)
    model.eval()
    return model, tok, eos_id(tok)


def _context(model, context: int | None) -> int:
    from .lm import model_context

    limit = model_context(model)
    if context is None:
        return limit
    if context < 1:
        raise SandboxError(f"context must be positive, got {context}")
    return min(int(context), limit)


def _texts(data, text_key: str) -> Iterable[str]:
    from .tokenizer import iter_texts

    if isinstance(data, (str, os.PathLike)):
        if not Path(data).is_file():
            raise SandboxError(f"data not found: {data}")
        return iter_texts(data, text_key)
    return (t if isinstance(t, str) else str(t) for t in data)


def evaluate_lm(
    model_dir: str | os.PathLike,
    val_path: str | os.PathLike,
    *,
    text_key: str = "text",
    context: int | None = None,
    batch_size: int = 32,
    max_tokens: int | None = None,
    threads: int = 1,
) -> dict:
    """Mean loss over the whole validation stream (see the module docstring).

    ``context``: window length (default and maximum: the model's positions).
    ``max_tokens``: evaluate only the first documents, whole, up to about that
    many tokens. Returns ``loss``, ``perplexity``, ``bits_per_byte``,
    ``tokens`` (predicted), ``bytes``, ``docs``, ``context``, ``seconds``.
    """
    import numpy as np
    import torch
    import torch.nn.functional as F

    from .tokenizer import encode_texts

    t0 = time.perf_counter()
    model, tok, eos = _load(model_dir, threads)
    ctx = _context(model, context)
    stream, n_docs, n_bytes = encode_texts(_texts(val_path, text_key), tok, eos=eos, bos=True, max_tokens=max_tokens)
    if n_docs == 0:
        raise SandboxError(f"{val_path}: no documents to evaluate")
    stream = stream.astype(np.int64)
    n_pred = len(stream) - 1
    n_full = n_pred // ctx
    total = 0.0
    with torch.inference_mode():
        for b in range(0, n_full, batch_size):
            rows = range(b, min(n_full, b + batch_size))
            idx = np.array([r * ctx for r in rows])[:, None] + np.arange(ctx + 1)[None, :]
            w = torch.from_numpy(stream[idx])
            logits = model(input_ids=w[:, :-1]).logits
            total += float(F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), w[:, 1:].reshape(-1),
                                           reduction="sum"))
        rest = n_pred - n_full * ctx
        if rest:
            w = torch.from_numpy(stream[n_full * ctx:])[None, :]
            logits = model(input_ids=w[:, :-1]).logits
            total += float(F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), w[:, 1:].reshape(-1),
                                           reduction="sum"))
    loss = total / n_pred
    return {
        "loss": loss,
        "perplexity": math.exp(min(loss, 700.0)),
        "bits_per_byte": total / math.log(2) / n_bytes if n_bytes else None,
        "tokens": int(n_pred),
        "bytes": int(n_bytes),
        "docs": int(n_docs),
        "context": int(ctx),
        "seconds": round(time.perf_counter() - t0, 3),
        "model_dir": str(model_dir),
        "val_path": str(val_path) if isinstance(val_path, (str, os.PathLike)) else "<texts>",
    }


def per_sample_loss(
    model_dir: str | os.PathLike,
    data_path: str | os.PathLike | Sequence[str],
    *,
    text_key: str = "text",
    context: int | None = None,
    batch_size: int = 32,
    threads: int = 1,
    chunk_docs: int = 2048,
) -> list[float]:
    """Mean loss (nats/token) of each document, in file order.

    Each document is scored as ``<eos> text <eos>`` (its tokens and its end are
    predicted, so an empty text still gets a value); documents longer than the
    context are split into consecutive windows. ``data_path`` is a jsonl(.gz)
    path or a list of texts.
    """
    import numpy as np
    import torch
    import torch.nn.functional as F

    model, tok, eos = _load(model_dir, threads)
    ctx = _context(model, context)
    out: list[float] = []
    texts_iter = iter(_texts(data_path, text_key))
    with torch.inference_mode():
        while True:
            chunk = [t for _, t in zip(range(chunk_docs), texts_iter)]
            if not chunk:
                break
            encs = tok.encode_batch(chunk, add_special_tokens=False)
            nats = np.zeros(len(chunk))
            counts = np.zeros(len(chunk))
            pieces = []  # (length, doc index, tokens of the window incl. its next-token targets)
            for d, enc in enumerate(encs):
                seq = [eos, *enc.ids, eos]
                for i in range(0, len(seq) - 1, ctx):
                    piece = seq[i:i + ctx + 1]
                    pieces.append((len(piece), d, piece))
            pieces.sort(key=lambda p: -p[0])
            for b in range(0, len(pieces), batch_size):
                group = pieces[b:b + batch_size]
                width = group[0][0]
                arr = np.full((len(group), width), -100, dtype=np.int64)
                for r, (n, _, piece) in enumerate(group):
                    arr[r, :n] = piece
                w = torch.from_numpy(arr)
                inp = w[:, :-1].clamp(min=0)  # padding positions come after real ones: causal, no effect
                tgt = w[:, 1:]
                logits = model(input_ids=inp).logits
                ce = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), tgt.reshape(-1),
                                     ignore_index=-100, reduction="none").reshape(tgt.shape)
                row_sum = ce.sum(dim=1).double().numpy()
                row_n = (tgt != -100).sum(dim=1).numpy()
                for r, (_, d, _) in enumerate(group):
                    nats[d] += row_sum[r]
                    counts[d] += row_n[r]
            out.extend((nats / counts).tolist())
    return out


__all__ = ["evaluate_lm", "per_sample_loss"]
