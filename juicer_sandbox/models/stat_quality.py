"""A quality classifier on Data-Juicer's per-document stats together with hashed n-grams (numpy only).

References: the GPT-3 classifier (Brown et al. 2020, appendix A: logistic regression on hashed word features,
curated reference text as positives, raw Common Crawl as negatives; :mod:`.quality`), extended with the document
statistics the DJ-Sandbox probes already compute (length, alphanumeric / special-character / repetition /
stopword ratios, ... as in Data-Juicer's filters; cf. the RefinedWeb and Gopher heuristics, Penedo et al. 2023,
Rae et al. 2021), so the classifier sees both what the words are and what the document looks like.

* **stat features**: each stat is cut into ``bins`` quantile bins (edges from the training rows, both classes);
  a document gets a one-hot per stat (a missing or non-finite value gets its own bin). Bins let a linear model
  learn two-sided ranges (too short and too long are both unlike the reference).
* **n-gram features**: :func:`juicer_sandbox.models.quality.text_features` (hashed, L2-normalised uni/bigrams).
* **model**: the same class-balanced L2 logistic regression (:func:`.quality.fit_logistic_csr`) on both blocks.
* **held-out AUC**: :func:`train_with_auc` holds out a hash-chosen part of the reference and of the raw pool,
  trains on the rest and reports the ROC AUC of reference vs raw on the held-out rows (Mann-Whitney U).
"""
from __future__ import annotations

import math
import os
import zlib
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..errors import SandboxError
from ..io import read_npz, write_npz
from .quality import _hash_start, _sigmoid, fit_logistic_csr, text_features

_FORMAT = "juicer-sandbox-stat-quality-v1"


@dataclass
class StatQualityClassifier:
    stats: list[str]
    edges: np.ndarray  # (n_stats, bins - 1)
    weights: np.ndarray
    bias: float = 0.0
    n_features: int = 2**18
    ngram: int = 2
    seed: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def bins(self) -> int:
        return self.edges.shape[1] + 1

    def featurize(self, texts: Sequence[str], stats_rows: Sequence[dict]):
        start = _hash_start(self.seed)
        indptr, idx_parts, val_parts = [0], [], []
        per_stat = self.bins + 1  # + the missing-value bin
        for text, st in zip(texts, stats_rows):
            i, v = text_features("" if text is None else str(text), self.n_features, self.ngram, start)
            extra = []
            for s, name in enumerate(self.stats):
                x = (st or {}).get(name)
                ok = isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                b = int(np.searchsorted(self.edges[s], x, side="right")) if ok else self.bins
                extra.append(self.n_features + s * per_stat + b)
            idx_parts.append(np.concatenate([i.astype(np.int64), np.asarray(extra, dtype=np.int64)]))
            val_parts.append(np.concatenate([v.astype(np.float64), np.ones(len(extra))]))
            indptr.append(indptr[-1] + len(idx_parts[-1]))
        return (np.asarray(indptr, dtype=np.int64), np.concatenate(idx_parts) if idx_parts else np.zeros(0, np.int64),
                np.concatenate(val_parts) if val_parts else np.zeros(0))

    def score(self, texts: Sequence[str], stats_rows: Sequence[dict]) -> np.ndarray:
        """P(reference-like) of each document."""
        indptr, indices, data = self.featurize(texts, stats_rows)
        n = len(indptr) - 1
        rows = np.repeat(np.arange(n), np.diff(indptr))
        return _sigmoid(np.bincount(rows, weights=data * self.weights[indices], minlength=n) + self.bias)

    def save(self, path: str | os.PathLike) -> str:
        meta = {"format": _FORMAT, "stats": self.stats, "bias": self.bias, "n_features": self.n_features,
                "ngram": self.ngram, "seed": self.seed, "meta": self.meta}
        return write_npz(path, {"weights": self.weights.astype(np.float32), "edges": self.edges}, meta)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "StatQualityClassifier":
        z, meta = read_npz(path, "stat quality classifier", _FORMAT)
        try:
            weights, edges = z["weights"].astype(np.float64), z["edges"]
        except KeyError as exc:
            raise SandboxError(f"cannot read stat quality classifier {path}: {exc}") from None
        return cls(stats=meta["stats"], edges=edges, weights=weights, bias=meta["bias"], n_features=meta["n_features"],
                   ngram=meta["ngram"], seed=meta["seed"], meta=meta.get("meta", {}))


def _edges(stats: list[str], rows: Sequence[dict], bins: int) -> np.ndarray:
    out = np.zeros((len(stats), bins - 1))
    qs = np.linspace(0, 1, bins + 1)[1:-1]
    for s, name in enumerate(stats):
        vals = [r.get(name) for r in rows]
        vals = np.asarray([v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)
                           and math.isfinite(v)], dtype=float)
        out[s] = np.quantile(vals, qs) if vals.size else np.zeros(bins - 1)
    return out


def train_stat_classifier(pos: Sequence[tuple[str, dict]], neg: Sequence[tuple[str, dict]], stats: list[str], *,
                          bins: int = 8, n_features: int = 2**18, ngram: int = 2, seed: int = 0, l2: float = 1e-4,
                          iterations: int = 300, lr: float = 0.1) -> StatQualityClassifier:
    """Fit on (text, stats) pairs: ``pos`` the clean reference (label 1), ``neg`` the raw pool (label 0)."""
    if not pos or not neg:
        raise SandboxError(f"need reference and raw documents (got {len(pos)} and {len(neg)})")
    if bins < 2:
        raise SandboxError(f"bins must be >= 2, got {bins}")
    rows = [st for _, st in pos] + [st for _, st in neg]
    model = StatQualityClassifier(stats=list(stats), edges=_edges(list(stats), rows, bins), weights=np.zeros(0),
                                  n_features=n_features, ngram=ngram, seed=seed)
    size = n_features + len(stats) * (bins + 1)
    indptr, indices, data = model.featurize([t for t, _ in pos] + [t for t, _ in neg], rows)
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    w, b, loss = fit_logistic_csr(indptr, indices, data, y, size, l2=l2, iterations=iterations, lr=lr)
    model.weights, model.bias = w, b
    model.meta = {"n_pos": len(pos), "n_neg": len(neg), "bins": bins, "final_loss": loss}
    return model


def auc(pos_scores: Sequence[float], neg_scores: Sequence[float]) -> float:
    """ROC AUC = P(score of a positive > score of a negative), ties count one half (Mann-Whitney U)."""
    p, n = np.asarray(pos_scores, float), np.asarray(neg_scores, float)
    if not p.size or not n.size:
        raise SandboxError("AUC needs positive and negative scores")
    allv = np.concatenate([p, n])
    order = np.argsort(allv, kind="mergesort")
    ranks = np.empty(len(allv))
    sorted_v = allv[order]
    i = 0
    while i < len(allv):  # average ranks over ties
        j = i
        while j + 1 < len(allv) and sorted_v[j + 1] == sorted_v[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[:len(p)].sum() - len(p) * (len(p) + 1) / 2) / (len(p) * len(n)))


def _heldout(text: str, fraction: float) -> bool:
    return zlib.crc32(("auc:" + text).encode("utf-8", "replace")) % 10_000 < fraction * 10_000


def train_with_auc(pos: Sequence[tuple[str, dict]], neg: Sequence[tuple[str, dict]], stats: list[str], *,
                   heldout_fraction: float = 0.2, reference_keep: float = 0.9,
                   **kw) -> tuple[StatQualityClassifier, dict]:
    """Train on all but a held-out part of each side; report the held-out AUC and ``reference_threshold``: the
    score that keeps ``reference_keep`` of the held-out reference (its ``1 - reference_keep`` quantile), the
    data-driven keep rule (a fixed P >= 0.5 keeps almost nothing when the classifier also separates clean raw
    documents from the reference)."""
    def split(items):
        held = [x for x in items if _heldout(x[0], heldout_fraction)]
        return [x for x in items if not _heldout(x[0], heldout_fraction)], held

    pos_tr, pos_ho = split(pos)
    neg_tr, neg_ho = split(neg)
    if not pos_ho or not neg_ho:
        raise SandboxError("too few documents to hold out a part of each side for the AUC")
    model = train_stat_classifier(pos_tr, neg_tr, stats, **kw)
    sp = model.score([t for t, _ in pos_ho], [s for _, s in pos_ho])
    sn = model.score([t for t, _ in neg_ho], [s for _, s in neg_ho])
    info = {"auc_heldout": auc(sp, sn), "heldout_reference": len(pos_ho), "heldout_raw": len(neg_ho),
            "train_reference": len(pos_tr), "train_raw": len(neg_tr), "stats": list(stats),
            "reference_keep": reference_keep, "reference_threshold": float(np.quantile(sp, 1 - reference_keep))}
    model.meta.update(info)
    return model, info


__all__ = ["StatQualityClassifier", "train_stat_classifier", "train_with_auc", "auc"]
