"""A reference n-gram language model for CCNet-style perplexity scores (numpy only, no pickles).

CCNet (Wenzek et al. 2020, "CCNet: Extracting High Quality Monolingual Datasets from Web Crawl Data", LREC)
scores every web document with a 5-gram KenLM model trained on a clean reference (Wikipedia) over SentencePiece
tokens and keeps the documents whose perplexity looks like the reference's. This module is that reference model,
small: an interpolated absolute-discounting n-gram model (Ney, Essen & Kneser 1994; the smoothing that KenLM's
modified Kneser-Ney refines) over the sandbox's BPE tokens (or UTF-8 bytes without a tokenizer).

* ``P(w | h) = max(c(h w) - D, 0) / c(h .) + D * N1+(h .) / c(h .) * P(w | h')`` with ``h'`` the history without its
  oldest token, down to an add-one unigram; a history never seen backs off entirely. ``D = 0.75``.
* A document is scored as ``<eos> tokens <eos>``: every token and the end are predicted, each from up to
  ``order - 1`` previous tokens (the start padded with ``<eos>``). Its score is the mean loss in nats per token;
  its perplexity ``exp(loss)``.
* n-grams are int64 keys (``((a * V) + b) * V + c``; V <= 2**20 for order 3), counted with ``numpy.unique`` and
  looked up with ``searchsorted``: scoring 20k documents takes seconds.
* ``save`` writes an ``.npz`` of arrays and JSON metadata, read back with ``allow_pickle=False``.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from ..errors import SandboxError
from ..io import read_npz, write_npz

_FORMAT = "juicer-sandbox-ngram-v1"
DISCOUNT = 0.75


class _Encoder:
    """Token ids of texts: the BPE tokenizer's (``tokenizer_path``) or UTF-8 bytes (vocab 257, eos 256)."""

    def __init__(self, tokenizer_path: str | None):
        self.tokenizer_path = tokenizer_path
        if tokenizer_path:
            from .tokenizer import eos_id, load_tokenizer

            self.tok = load_tokenizer(tokenizer_path)
            self.eos = eos_id(self.tok)
            self.vocab = int(self.tok.get_vocab_size())
        else:
            self.tok, self.eos, self.vocab = None, 256, 257

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        if self.tok is None:
            return [np.frombuffer(t.encode("utf-8"), dtype=np.uint8).astype(np.int64) for t in texts]
        return [np.asarray(e.ids, dtype=np.int64) for e in self.tok.encode_batch(list(texts), add_special_tokens=False)]


def _windows(ids: np.ndarray, eos: int, order: int) -> np.ndarray:
    """(n_predicted, order) rows: up to order-1 previous tokens (eos-padded) then the predicted token."""
    seq = np.concatenate([np.full(order - 1, eos, dtype=np.int64), ids, [eos]])
    n = len(seq) - (order - 1)
    return seq[np.arange(n)[:, None] + np.arange(order)[None, :]]


def _keys(cols: np.ndarray, vocab: int) -> np.ndarray:
    key = np.zeros(len(cols), dtype=np.int64)
    for j in range(cols.shape[1]):
        key = key * vocab + cols[:, j]
    return key


def _lookup(sorted_keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0:
        return np.zeros(len(query), dtype=np.float64)
    pos = np.clip(np.searchsorted(sorted_keys, query), 0, len(sorted_keys) - 1)
    return np.where(sorted_keys[pos] == query, values[pos], 0).astype(np.float64)


@dataclass
class NgramLM:
    """Counts of an order-n model. ``tables[k]`` (k = 1..n-1 history length): n-gram keys and counts,
    history keys with their total count and number of distinct followers."""

    order: int
    vocab: int
    eos: int
    unigram: np.ndarray
    tables: dict = field(default_factory=dict)
    tokenizer_path: str | None = None
    meta: dict = field(default_factory=dict)

    def _prob(self, rows: np.ndarray) -> np.ndarray:
        p = (self.unigram[rows[:, -1]] + 1.0) / (self.unigram.sum() + self.vocab)
        for k in range(1, self.order):
            grams, counts, hist, hist_total, hist_types = self.tables[k]
            cols = rows[:, -(k + 1):]
            c_hw = _lookup(grams, counts, _keys(cols, self.vocab))
            hkey = _keys(cols[:, :-1], self.vocab)
            c_h = _lookup(hist, hist_total, hkey)
            n_h = _lookup(hist, hist_types, hkey)
            seen = c_h > 0
            safe = np.where(seen, c_h, 1.0)
            p = np.where(seen, np.maximum(c_hw - DISCOUNT, 0.0) / safe + DISCOUNT * n_h / safe * p, p)
        return p

    def doc_losses(self, texts: Iterable[str], batch: int = 2048) -> list[float]:
        """Mean nats per predicted token of each text, in order."""
        enc = _Encoder(self.tokenizer_path)
        out: list[float] = []
        texts = list(texts)
        for b in range(0, len(texts), batch):
            for ids in enc.encode(["" if t is None else str(t) for t in texts[b:b + batch]]):
                rows = _windows(ids, self.eos, self.order)
                out.append(float(-np.log(self._prob(rows)).mean()))
        return out

    def save(self, path: str | os.PathLike) -> str:
        arrays = {"unigram": self.unigram}
        for k, parts in self.tables.items():
            for name, arr in zip(("grams", "counts", "hist", "total", "types"), parts):
                arrays[f"t{k}_{name}"] = arr
        meta = {"format": _FORMAT, "order": self.order, "vocab": self.vocab, "eos": self.eos,
                "tokenizer_path": self.tokenizer_path, "meta": self.meta}
        return write_npz(path, arrays, meta)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "NgramLM":
        z, meta = read_npz(path, "n-gram model", _FORMAT)
        try:
            tables = {k: tuple(z[f"t{k}_{n}"] for n in ("grams", "counts", "hist", "total", "types"))
                      for k in range(1, meta["order"])}
            unigram = z["unigram"]
        except KeyError as exc:
            raise SandboxError(f"cannot read n-gram model {path}: {exc}") from None
        return cls(order=meta["order"], vocab=meta["vocab"], eos=meta["eos"], unigram=unigram, tables=tables,
                   tokenizer_path=meta["tokenizer_path"], meta=meta.get("meta", {}))


def train_ngram_lm(texts: Iterable[str], order: int = 3, tokenizer_path: str | None = None) -> NgramLM:
    """Count an order-``order`` model on ``texts`` (the clean reference)."""
    if order < 1:
        raise SandboxError(f"order must be >= 1, got {order}")
    enc = _Encoder(tokenizer_path)
    if enc.vocab ** order >= 2**62:
        raise SandboxError(f"order {order} with a vocabulary of {enc.vocab} overflows the int64 n-gram keys")
    texts = ["" if t is None else str(t) for t in texts]
    if not texts:
        raise SandboxError("the reference has no texts")
    rows = np.concatenate([_windows(ids, enc.eos, order) for ids in enc.encode(texts)])
    unigram = np.bincount(rows[:, -1], minlength=enc.vocab).astype(np.int64)
    tables = {}
    for k in range(1, order):
        grams, counts = np.unique(_keys(rows[:, -(k + 1):], enc.vocab), return_counts=True)
        hist_of_gram = grams // enc.vocab
        hist, first, types = np.unique(hist_of_gram, return_index=True, return_counts=True)
        total = np.add.reduceat(counts, first) if len(first) else np.zeros(0, np.int64)
        tables[k] = (grams, counts.astype(np.int64), hist, total.astype(np.int64), types.astype(np.int64))
    meta = {"docs": len(texts), "tokens": int(len(rows)), "discount": DISCOUNT}
    return NgramLM(order=order, vocab=enc.vocab, eos=enc.eos, unigram=unigram, tables=tables,
                   tokenizer_path=tokenizer_path, meta=meta)


def perplexity(loss: float) -> float:
    return math.exp(min(loss, 700.0))


__all__ = ["NgramLM", "train_ngram_lm", "perplexity", "DISCOUNT"]
