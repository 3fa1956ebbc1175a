"""W&B sweep distributions encoded as Optuna distributions (used by :mod:`.study`).

W&B distributions in Optuna (:mod:`.sweep` lists their meaning). Each parameter is stored in
Optuna as an "internal" parameter and decoded to the value handed to the pipeline:

* ``int_uniform`` -> ``IntDistribution(min, max)``; ``uniform`` -> ``FloatDistribution(min, max)``.
* ``log_uniform`` -> ``FloatDistribution(exp(min), exp(max), log=True)`` (exponent bounds);
  ``log_uniform_values`` and ``inv_log_uniform_values`` -> ``FloatDistribution(min, max, log=True)``;
  ``inv_log_uniform`` -> ``FloatDistribution(exp(-max), exp(-min), log=True)``. These are the same
  distributions W&B samples (its inverse-log-uniform is log-uniform on the mirrored range).
* ``q_uniform`` -> ``IntDistribution``/``FloatDistribution(min, max, step=q)`` when min and max are
  multiples of q (same support as W&B's round(U/q)*q; W&B gives the two end points half weight).
  Otherwise ``FloatDistribution(min, max)`` decoded by round(x/q)*q, which is W&B's formula exactly.
* ``q_log_uniform(_values)`` -> the log-uniform float above, decoded by round(x/q)*q (Optuna has no
  log scale with a step other than 1 for ints).
* ``categorical`` -> ``CategoricalDistribution`` of the values (or of their indices when the values
  are not all strings or all distinct numbers: lists, dicts, mixed types).
* ``normal``, ``log_normal``, ``beta``, their ``q_`` forms and ``categorical_w_probabilities`` have no
  Optuna counterpart. They are stored as a quantile u in ``FloatDistribution(1e-12, 1 - 1e-12)``
  and decoded by the inverse CDF (mu + sigma * Phi^-1(u), its exp, the Beta inverse CDF, the
  cumulative probabilities), then quantised by q. That is exactly how W&B samples them
  (``ppf(uniform())``), so ``random`` is faithful; ``bayes`` (TPE) models them in quantile space,
  which is also how W&B's own Bayesian search normalises parameters (through their CDF).
* ``constant`` values are not Optuna parameters; they are in ``params`` only.
"""
from __future__ import annotations

import copy
import math
import statistics
from dataclasses import dataclass
from typing import Any, Callable

from .param_specs import _canon
from .sweep import Sweep, grid_values

_EPS = 1e-12
_QUANTILE_DISTS = ("normal", "q_normal", "log_normal", "q_log_normal", "beta", "q_beta",
                   "categorical_w_probabilities")



def _is_whole(q) -> bool:
    return float(q).is_integer()


def _quantise(x: float, q) -> int | float:
    v = round(x / q) * q
    return int(round(v)) if _is_whole(q) else float(f"{v:.15g}")


def _multiple(x, q) -> bool:
    k = x / q
    return abs(k - round(k)) < 1e-9


def _norm_ppf(u: float) -> float:
    return statistics.NormalDist().inv_cdf(u)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def beta_cdf(x: float, a: float, b: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    bt = math.exp(ln)
    if x < (a + 1.0) / (a + b + 2.0):
        return bt * _betacf(a, b, x) / a
    return 1.0 - bt * _betacf(b, a, 1.0 - x) / b


def beta_ppf(u: float, a: float, b: float) -> float:
    """Inverse of :func:`beta_cdf` by bisection (monotone, 1e-15 precise)."""
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if beta_cdf(mid, a, b) < u:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return 0.5 * (lo + hi)


@dataclass
class _Enc:
    """How one sweep parameter lives in Optuna: its distribution and the decoder of its value."""

    distribution: Any  # an optuna distribution, or None for a constant
    decode: Callable[[Any], Any]


def _primitive_choices(values: list) -> bool:
    if all(isinstance(v, str) for v in values):
        return True
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return len({float(v) for v in values}) == len(values)
    return False


def _categorical(values: list) -> _Enc:
    from optuna.distributions import CategoricalDistribution

    if _primitive_choices(values):
        return _Enc(CategoricalDistribution(list(values)), lambda x: copy.deepcopy(x))
    return _Enc(CategoricalDistribution(list(range(len(values)))), lambda i: copy.deepcopy(values[int(i)]))


def _encoding(spec: dict) -> _Enc:
    from optuna.distributions import FloatDistribution, IntDistribution

    dist = spec["distribution"]
    if dist == "constant":
        value = spec["value"]
        return _Enc(None, lambda _x: copy.deepcopy(value))
    if dist == "categorical":
        return _categorical(spec["values"])
    if dist == "int_uniform":
        return _Enc(IntDistribution(spec["min"], spec["max"]), int)
    if dist == "uniform":
        return _Enc(FloatDistribution(float(spec["min"]), float(spec["max"])), float)
    if dist == "q_uniform":
        lo, hi, q = spec["min"], spec["max"], spec["q"]
        if _multiple(lo, q) and _multiple(hi, q) and _multiple(hi - lo, q):
            if _is_whole(q) and float(lo).is_integer() and float(hi).is_integer():
                return _Enc(IntDistribution(int(lo), int(hi), step=int(q)), int)
            return _Enc(FloatDistribution(float(lo), float(hi), step=float(q)), lambda x: _quantise(x, q))
        return _Enc(FloatDistribution(float(lo), float(hi)), lambda x: _quantise(x, q))
    if dist in ("log_uniform", "q_log_uniform"):
        fd = FloatDistribution(math.exp(spec["min"]), math.exp(spec["max"]), log=True)
    elif dist in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"):
        fd = FloatDistribution(float(spec["min"]), float(spec["max"]), log=True)
    elif dist == "inv_log_uniform":
        fd = FloatDistribution(math.exp(-spec["max"]), math.exp(-spec["min"]), log=True)
    else:
        fd = None
    if fd is not None:
        if dist.startswith("q_"):
            q = spec["q"]
            return _Enc(fd, lambda x: _quantise(x, q))
        return _Enc(fd, float)
    if dist in _QUANTILE_DISTS:
        ufd = FloatDistribution(_EPS, 1.0 - _EPS)
        if dist == "categorical_w_probabilities":
            values = spec["values"]
            cdf, acc = [], 0.0
            for p in spec["probabilities"]:
                acc += p
                cdf.append(acc)
            cdf[-1] = 1.0

            def pick(u):
                for v, c in zip(values, cdf):
                    if u < c:
                        return copy.deepcopy(v)
                return copy.deepcopy(values[-1])

            return _Enc(ufd, pick)
        base = dist[2:] if dist.startswith("q_") else dist
        if base == "normal":
            mu, sigma = spec["mu"], spec["sigma"]
            f = lambda u: mu + sigma * _norm_ppf(u)  # noqa: E731
        elif base == "log_normal":
            mu, sigma = spec["mu"], spec["sigma"]
            f = lambda u: math.exp(mu + sigma * _norm_ppf(u))  # noqa: E731
        else:
            a, b = spec["a"], spec["b"]
            f = lambda u: beta_ppf(u, a, b)  # noqa: E731
        if dist.startswith("q_"):
            q = spec["q"]
            return _Enc(ufd, lambda u: _quantise(f(u), q))
        return _Enc(ufd, lambda u: float(f(u)))
    raise AssertionError(f"unhandled distribution {dist}")  # load_sweep rejects unknown ones


def _encodings(sweep: Sweep) -> dict[str, _Enc]:
    if sweep.method == "grid":
        out = {}
        for name, spec in sweep.parameters.items():
            vals = grid_values(name, spec)
            out[name] = _Enc(None, lambda _x, v=vals[0]: copy.deepcopy(v)) if spec["distribution"] == "constant" \
                else _categorical(vals)
        return out
    return {name: _encoding(spec) for name, spec in sweep.parameters.items()}


def _distributions(encs: dict[str, _Enc]) -> dict:
    return {n: e.distribution for n, e in encs.items() if e.distribution is not None}


def _decode(encs: dict[str, _Enc], internal: dict) -> dict:
    return {n: _native(e.decode(internal.get(n))) for n, e in encs.items()}


def _native(v):
    """numpy scalars -> python; leave containers (already plain from YAML)."""
    if hasattr(v, "item") and not isinstance(v, (list, dict, str, bytes)):
        return v.item()
    return v


def _grid_internal(encs: dict[str, _Enc], point: dict) -> dict:
    """The Optuna choice of each grid parameter whose decoded value is the point's value."""
    internal = {}
    for name, enc in encs.items():
        if enc.distribution is None:
            continue
        target = _canon(point[name])
        internal[name] = next(c for c in enc.distribution.choices if _canon(enc.decode(c)) == target)
    return internal
