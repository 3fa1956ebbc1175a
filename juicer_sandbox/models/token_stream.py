"""The training token stream: a jsonl(.gz) pool tokenised into one array, and the random
windows each optimizer step trains on."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import SandboxError


def tokenize_file(path: str | os.PathLike, tok, text_key: str = "text"):
    """(stream, n_docs, n_bytes) of a jsonl(.gz) file: docs joined with <|endoftext|>."""
    from .tokenizer import encode_texts, iter_texts

    if not Path(path).is_file():
        raise SandboxError(f"training data not found: {path}")
    return encode_texts(iter_texts(path, text_key), tok)


def sample_batch(stream, rng, batch_size: int, context: int):
    """``batch_size`` random windows of ``context + 1`` tokens as an int64 numpy array."""
    import numpy as np

    starts = rng.integers(0, len(stream) - context, size=batch_size)
    idx = starts[:, None] + np.arange(context + 1)[None, :]
    return stream[idx].astype(np.int64)
