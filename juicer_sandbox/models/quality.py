"""GPT-3-style text quality classifier (hashed n-grams + logistic regression, numpy only).

GPT-3 (Brown et al. 2020, appendix A) filtered Common Crawl with a logistic
regression classifier on hashed word features, trained with curated text
(WebText, Wikipedia, books) as positives and raw Common Crawl as negatives.
This module rebuilds that idea for the sandbox without Spark:

* **features**: the text is lower-cased and split into words and single
  punctuation marks (``\\w+|[^\\w\\s]``); unigrams and bigrams (``ngram=2``) are
  hashed into ``n_features`` buckets (default 2**18) with ``zlib.crc32`` started
  from a seed-dependent value, so buckets are stable across processes and
  machines (Python's own ``hash`` is randomised per process and is NOT used).
  Counts are L2-normalised per document.
* **model**: binary logistic regression with an L2 penalty, trained full-batch
  with Adam in numpy; positives and negatives are weighted to count equally.
* **score**: ``P(clean | text)`` in [0, 1].
* **keep rule** (:func:`gpt3_keep`): GPT-3 kept a document when
  ``score > np.random.pareto(alpha)`` with ``alpha = 9``. ``np.random.pareto``
  draws from a Lomax distribution, ``P(draw > x) = (1 + x) ** -alpha``, so the
  probability of keeping a document of score ``s`` is ``1 - (1 + s) ** -9``:
  about 0.16 at s=0.02, 0.58 at s=0.1, 0.97 at s=0.5 and 0.997 at s=0.9. Mostly
  high-scoring documents survive, but some low-scoring ones are kept on purpose
  for diversity. The draw is seeded (``numpy.random.default_rng(seed)``), so a
  rerun keeps exactly the same documents.
"""
from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from ..errors import SandboxError
from ..io import read_npz, write_npz

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_FORMAT = "juicer-sandbox-quality-v1"


def _hash_start(seed: int) -> int:
    return zlib.crc32(f"juicer-sandbox-quality:{int(seed)}".encode("ascii"))


def text_features(text: str, n_features: int, ngram: int, start: int, lowercase: bool = True):
    """Sorted bucket indices and L2-normalised counts of one text."""
    if lowercase:
        text = text.lower()
    toks = _TOKEN_RE.findall(text)
    mask = n_features - 1
    hashes = [zlib.crc32(t.encode("utf-8"), start) & mask for t in toks]
    for n in range(2, ngram + 1):
        hashes.extend(
            zlib.crc32(" ".join(toks[i:i + n]).encode("utf-8"), start) & mask for i in range(len(toks) - n + 1)
        )
    if not hashes:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
    idx, counts = np.unique(np.asarray(hashes, dtype=np.int64), return_counts=True)
    vals = counts.astype(np.float32)
    vals /= np.sqrt(float((vals * vals).sum()))
    return idx.astype(np.int32), vals


@dataclass
class QualityClassifier:
    """Hashed-n-gram logistic regression. ``score(texts)`` gives P(clean) in [0, 1]."""

    weights: np.ndarray
    bias: float = 0.0
    n_features: int = 2**18
    ngram: int = 2
    seed: int = 0
    lowercase: bool = True
    meta: dict = field(default_factory=dict)

    # ---- features
    def featurize(self, texts: Iterable[str]):
        """CSR parts ``(indptr, indices, data)`` for ``texts``."""
        start = _hash_start(self.seed)
        indptr = [0]
        idx_parts, val_parts = [], []
        for t in texts:
            i, v = text_features("" if t is None else str(t), self.n_features, self.ngram, start, self.lowercase)
            idx_parts.append(i)
            val_parts.append(v)
            indptr.append(indptr[-1] + len(i))
        indices = np.concatenate(idx_parts) if idx_parts else np.zeros(0, np.int32)
        data = np.concatenate(val_parts) if val_parts else np.zeros(0, np.float32)
        return np.asarray(indptr, dtype=np.int64), indices, data

    def _logits_csr(self, indptr, indices, data) -> np.ndarray:
        n = len(indptr) - 1
        rows = np.repeat(np.arange(n), np.diff(indptr))
        return np.bincount(rows, weights=data * self.weights[indices], minlength=n) + self.bias

    # ---- prediction
    def decision_function(self, texts: Iterable[str]) -> np.ndarray:
        return self._logits_csr(*self.featurize(texts))

    def score(self, texts: Iterable[str]) -> np.ndarray:
        """P(clean) for each text, float64 in [0, 1]."""
        return _sigmoid(self.decision_function(texts))

    def keep(self, texts: Iterable[str], alpha: float = 9.0, seed: int = 0) -> np.ndarray:
        """GPT-3 keep decision for each text (see :func:`gpt3_keep`)."""
        return gpt3_keep(self.score(texts), alpha=alpha, seed=seed)

    # ---- persistence
    def save(self, path: str | os.PathLike) -> str:
        """Write an ``.npz`` atomically (weights + JSON metadata). Returns the path."""
        meta = {
            "format": _FORMAT,
            "bias": float(self.bias),
            "n_features": int(self.n_features),
            "ngram": int(self.ngram),
            "seed": int(self.seed),
            "lowercase": bool(self.lowercase),
            "meta": self.meta,
        }
        return write_npz(path, {"weights": self.weights.astype(np.float32)}, meta)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "QualityClassifier":
        z, meta = read_npz(path, "quality classifier", _FORMAT)
        try:
            weights = z["weights"].astype(np.float32)
        except KeyError as exc:
            raise SandboxError(f"cannot read quality classifier {path}: {exc}") from None
        return cls(weights=weights, bias=meta["bias"], n_features=meta["n_features"], ngram=meta["ngram"],
                   seed=meta["seed"], lowercase=meta["lowercase"], meta=meta.get("meta", {}))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def train_quality_classifier(
    pos_texts: Iterable[str],
    neg_texts: Iterable[str],
    seed: int = 0,
    *,
    n_features: int = 2**18,
    ngram: int = 2,
    l2: float = 1e-4,
    iterations: int = 300,
    lr: float = 0.1,
    lowercase: bool = True,
) -> QualityClassifier:
    """Fit the classifier: ``pos_texts`` = clean reference (label 1), ``neg_texts`` = raw pool (label 0).

    Full-batch Adam on the class-balanced logistic loss plus ``l2/2 * |w|^2``
    (the bias is not penalised). Deterministic for the same inputs and seed.
    """
    if n_features < 2 or n_features & (n_features - 1):
        raise SandboxError(f"n_features must be a power of two, got {n_features}")
    if ngram < 1:
        raise SandboxError(f"ngram must be >= 1, got {ngram}")
    pos, neg = list(pos_texts), list(neg_texts)
    if not pos or not neg:
        raise SandboxError(f"need positive and negative texts (got {len(pos)} and {len(neg)})")

    model = QualityClassifier(weights=np.zeros(n_features, dtype=np.float64), bias=0.0, n_features=n_features,
                              ngram=ngram, seed=seed, lowercase=lowercase)
    indptr, indices, data = model.featurize(pos + neg)
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    w, b, loss = fit_logistic_csr(indptr, indices, data.astype(np.float64), y, n_features, l2=l2,
                                  iterations=iterations, lr=lr)
    model.weights = w.astype(np.float32)
    model.bias = float(b)
    train_pred = _sigmoid(model._logits_csr(indptr, indices, data)) > 0.5
    model.meta = {
        "n_pos": len(pos),
        "n_neg": len(neg),
        "l2": l2,
        "iterations": iterations,
        "lr": lr,
        "final_loss": loss,
        "train_balanced_accuracy": float(0.5 * train_pred[: len(pos)].mean() + 0.5 * (~train_pred[len(pos):]).mean()),
    }
    return model


def fit_logistic_csr(indptr, indices, data, y, n_features: int, *, l2: float = 1e-4, iterations: int = 300,
                     lr: float = 0.1) -> tuple[np.ndarray, float, float]:
    """Class-balanced L2 logistic regression on CSR rows, full-batch Adam; returns (weights, bias, final loss)."""
    n = len(y)
    n_pos = int(y.sum())
    sw = np.where(y > 0, 0.5 / max(n_pos, 1), 0.5 / max(n - n_pos, 1))
    rows = np.repeat(np.arange(n), np.diff(indptr))
    w = np.zeros(n_features)
    b = 0.0
    m_w, v_w = np.zeros(n_features), np.zeros(n_features)
    m_b = v_b = 0.0
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    loss = float("nan")
    for it in range(1, iterations + 1):
        z = np.bincount(rows, weights=data * w[indices], minlength=n) + b
        p = _sigmoid(z)
        r = sw * (p - y)
        g_w = np.bincount(indices, weights=data * r[rows], minlength=n_features) + l2 * w
        g_b = float(r.sum())
        m_w = beta1 * m_w + (1 - beta1) * g_w
        v_w = beta2 * v_w + (1 - beta2) * g_w * g_w
        m_b = beta1 * m_b + (1 - beta1) * g_b
        v_b = beta2 * v_b + (1 - beta2) * g_b * g_b
        c1, c2 = 1 - beta1**it, 1 - beta2**it
        w -= lr * (m_w / c1) / (np.sqrt(v_w / c2) + eps)
        b -= lr * (m_b / c1) / (np.sqrt(v_b / c2) + eps)
        if it == iterations:
            pc = np.clip(p, 1e-12, 1 - 1e-12)
            loss = float(-(sw * (y * np.log(pc) + (1 - y) * np.log(1 - pc))).sum())
    return w, float(b), loss


def gpt3_keep(scores: Sequence[float] | np.ndarray, alpha: float = 9.0, seed: int = 0) -> np.ndarray:
    """GPT-3's stochastic filter: ``keep = score > np.random.pareto(alpha)`` (seeded draw per document).

    P(keep | s) = 1 - (1 + s) ** -alpha; see the module docstring.
    """
    s = np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(seed)
    return s > rng.pareto(alpha, size=s.shape)


def save_quality_classifier(model: QualityClassifier, path: str | os.PathLike) -> str:
    return model.save(path)


def load_quality_classifier(path: str | os.PathLike) -> QualityClassifier:
    return QualityClassifier.load(path)


def score(model: QualityClassifier, texts: Iterable[str]) -> np.ndarray:
    """Module-level alias of ``model.score(texts)``."""
    return model.score(texts)


__all__ = [
    "QualityClassifier",
    "train_quality_classifier",
    "save_quality_classifier",
    "load_quality_classifier",
    "score",
    "gpt3_keep",
    "text_features",
]

