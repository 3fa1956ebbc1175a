"""Describe per-sample statistics like Data-Juicer's ``OverallAnalysis`` (pandas ``describe``).

Used by every hook that summarises a dataset's stats: the probe, k-sigma, the model probe,
and the before/after data evaluator. Pure Python plus numpy (no data_juicer import).
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..core.names import DJ_STATS
from ..errors import ComponentConfigError

__all__ = ["describe_stats", "numeric_leaves", "percentile_label"]


def percentile_label(p: float) -> str:
    """pandas-style label of a percentile: 0.25 -> '25%', 0.125 -> '12.5%'."""
    return f"{p * 100:g}%"


_NONNUMERIC = object()  # sentinel for "this stat is not numeric"


def _flatten(value: Any, out: list[float]) -> bool:
    """Append the numeric leaves of ``value`` to ``out``; False if a leaf is not numeric.

    None / NaN leaves are missing values and are dropped (pandas' ``describe``
    does not count them). Lists (and numpy arrays) are exploded, like DJ's
    ``OverallAnalysis`` does for list-valued stats; an empty list adds nothing.
    Booleans are treated as non-numeric.
    """
    if value is None:
        return True
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, numbers.Real):
        f = float(value)
        if not math.isnan(f):
            out.append(f)
        return True
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return all(_flatten(v, out) for v in value)
    return False


def numeric_leaves(value: Any) -> list[float] | None:
    """One stat value flattened as Data-Juicer's analyzer does: one number per image/video for a
    list-valued (per-medium) stat, missing values dropped; None if a leaf is not numeric."""
    out: list[float] = []
    return out if _flatten(value, out) else None


def describe_stats(
    stats_rows: Iterable[Mapping[str, Any]],
    percentiles: Sequence[float] = (0.25, 0.5, 0.75),
) -> dict[str, dict[str, Any]]:
    """Summarise per-sample ``__dj__stats__`` dicts, one entry per numeric stat.

    ``stats_rows`` yields either the stats dicts themselves or whole samples
    that carry them under ``"__dj__stats__"``.

    Each result is ``{"count", "mean", "std", "min", "<p>%"..., "max"}`` computed
    like DJ's ``OverallAnalysis`` (pandas ``describe``): list-valued stats are
    flattened, ``std`` is the sample standard deviation (ddof=1), percentiles are
    linearly interpolated. Missing values (None/NaN, empty lists) are not
    counted. A stat with no values has count 0 and None elsewhere; ``std`` is
    None when there is a single value. Stats with any non-numeric value
    (strings such as ``lang``, booleans, dicts) are left out.
    """
    ps: list[float] = []
    for p in percentiles:
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= float(p) <= 1:
            raise ComponentConfigError(f"percentiles must be numbers in [0, 1], got {p!r}", key="percentiles")
        if float(p) not in ps:
            ps.append(float(p))
    ps.sort()

    values: dict[str, list[float] | object] = {}
    for row in stats_rows:
        if row is None:
            continue
        stats = row.get(DJ_STATS, row) if isinstance(row, Mapping) else None
        if not isinstance(stats, Mapping):
            continue
        for key, val in stats.items():
            bucket = values.setdefault(key, [])
            if bucket is _NONNUMERIC:
                continue
            if not _flatten(val, bucket):  # type: ignore[arg-type]
                values[key] = _NONNUMERIC

    result: dict[str, dict[str, Any]] = {}
    for key in sorted(values):
        bucket = values[key]
        if bucket is _NONNUMERIC:
            continue
        arr = np.asarray(bucket, dtype=np.float64)
        n = int(arr.size)
        entry: dict[str, Any] = {"count": n}
        if n == 0:
            entry.update({"mean": None, "std": None, "min": None})
            entry.update({percentile_label(p): None for p in ps})
            entry["max"] = None
        else:
            entry["mean"] = float(arr.mean())
            entry["std"] = float(arr.std(ddof=1)) if n > 1 else None
            entry["min"] = float(arr.min())
            for p, q in zip(ps, np.percentile(arr, [p * 100 for p in ps]) if ps else []):
                entry[percentile_label(p)] = float(q)
            entry["max"] = float(arr.max())
        result[key] = entry
    return result
