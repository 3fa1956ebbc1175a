"""W&B sweep configurations, validated and normalised without W&B.

The original DJ-Sandbox hands its ``hpo_config`` to ``wandb.sweep``/``wandb.agent``, which needs
the W&B server. Here the same YAML is read by :func:`load_sweep` and
driven by Optuna (:mod:`juicer_sandbox.hpo.study`). The accepted format is W&B's sweep schema
(``wandb/sweeps`` ``config/schema.json``) plus Data-Juicer's two extra keys and one of ours:

``method``            ``grid`` | ``random`` | ``bayes`` (``custom`` is refused: it needs W&B's scheduler)
``metric``            ``{name, goal: minimize (default) | maximize, target, impute, impute_while_running}``;
                      required for ``bayes`` (as in W&B)
``parameters``        name -> spec, see below; nested ``{parameters: {...}}`` specs are flattened to
                      dotted names (``a: {parameters: {b: ...}}`` -> ``a.b``)
``run_cap``           W&B's cap on the number of runs
``sweep_max_count``   Data-Juicer's cap (the ``count`` it passes to ``wandb.agent``)
``sweep_name``/``name`` a label
``early_terminate``   ``{type: hyperband, min_iter | (max_iter and s), eta: 3, strict: true}``
``seed``              (ours) integer seed of the samplers, default 0, so a sweep is reproducible
``program``, ``command``, ``entity``, ``project``, ``description``, ``controller``, ``job``,
``image_uri``, ``apiVersion``, ``kind``: W&B launch settings, accepted and ignored.

Parameter specs. When ``distribution`` is absent it is inferred as W&B does: ``values`` ->
``categorical`` (``categorical_w_probabilities`` with ``probabilities``), ``value`` -> ``constant``,
integer ``min``/``max`` -> ``int_uniform``, otherwise ``uniform``. The distributions and their
meaning (W&B's sampling code, ``sweeps/params.py``; U = uniform, N = normal, ``q`` default 1):

==========================  =============================================================
``constant``                ``value``
``categorical``             one of ``values``, uniformly
``categorical_w_probabilities``  one of ``values`` with ``probabilities`` (must sum to 1)
``int_uniform``             integer in [min, max] (ints)
``uniform``                 U(min, max)
``q_uniform``               round(U(min, max) / q) * q
``log_uniform``             exp(U(min, max)): **min and max are natural-log exponents**
``log_uniform_values``      log-uniform in [min, max] (min > 0)
``inv_log_uniform``         exp(-U(min, max)), i.e. log-uniform in [exp(-max), exp(-min)]
``inv_log_uniform_values``  exp(-U(-log max, -log min)), i.e. log-uniform in [min, max]
``q_log_uniform``           round(exp(U(min, max)) / q) * q (exponent bounds)
``q_log_uniform_values``    round(log-uniform in [min, max] / q) * q
``normal``                  N(mu=0, sigma=1)
``q_normal``                round(N(mu, sigma) / q) * q
``log_normal``              exp(N(mu, sigma))
``q_log_normal``            round(exp(N(mu, sigma)) / q) * q
``beta``                    Beta(a=1, b=1)
``q_beta``                  round(Beta(a, b) / q) * q
==========================  =============================================================

Every ``min`` must be strictly below ``max`` (W&B checks the same). One deliberate difference:
a quantised value whose ``q`` is a whole number is returned as an ``int`` (W&B returns ``1024.0``
for its default ``q: 1.0``), because Data-Juicer's integer op arguments want ints.

``grid`` accepts only ``constant``, ``categorical``, ``int_uniform`` (every integer from min to
max) and ``q_uniform`` (``min, min+q, ...`` strictly below ``max``: W&B's ``np.arange(min, max,
q)``, so ``max`` itself is excluded); any other distribution is an error naming the parameter.
The grid is W&B's order: parameters sorted by name, the last one varying fastest.

Trial budget (:attr:`Sweep.max_trials`): ``run_cap`` and ``sweep_max_count`` are both caps; when
both are given the smaller wins. ``random`` and ``bayes`` need one of them (W&B would otherwise
run forever, and a Snakemake DAG must be finite). ``grid`` runs the whole grid, capped by them.

``early_terminate`` is validated and kept on :attr:`Sweep.early_terminate`, but **it is not
applied**. Hyperband stops a run early by comparing the metric it logs at intermediate
iterations (epochs) with its bracket-mates. Here one trial is a set of whole Snakemake jobs that
yields a single objective value at the end (``tell``); there are no intermediate reports to
compare, and a job cannot be stopped half-way by the optimiser. Optuna's ``HyperbandPruner``
works on the same intermediate reports, so with one value per trial it would never prune
anything; it is therefore not installed. :attr:`Sweep.notes` says so for the logs. Likewise
``metric.target`` is recorded (``export`` reports whether it was reached) but does not stop the
sweep early: the DAG is fixed when Snakemake starts. ``metric.impute`` is honoured for ``bayes``
(see :mod:`juicer_sandbox.hpo.study`); ``impute_while_running`` is accepted and ignored.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import math
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import ConfigError
from .param_specs import _canon, _flatten, _is_int, _is_num

METHODS = ("grid", "random", "bayes")
GOALS = ("minimize", "maximize")
IMPUTE = ("latest", "best", "worst")

#: W&B launch/UI keys that mean nothing here; accepted so W&B files load unchanged.
IGNORED_TOP_KEYS = ("program", "command", "entity", "project", "description", "controller", "job",
                    "image_uri", "apiVersion", "kind")
TOP_KEYS = ("method", "metric", "parameters", "run_cap", "sweep_max_count", "sweep_name", "name",
            "early_terminate", "seed") + IGNORED_TOP_KEYS

GRID_DISTRIBUTIONS = ("constant", "categorical", "int_uniform", "q_uniform")

EARLY_TERMINATE_NOTE = (
    "early_terminate (hyperband) is validated but not applied: a trial is whole Snakemake jobs "
    "that report one final objective value, so there are no intermediate results to stop a trial on")


def _clean_float(x: float) -> float:
    """Drop binary noise from k*q style products (0.30000000000000004 -> 0.3)."""
    return float(f"{x:.15g}")


def grid_values(name: str, spec: dict) -> list:
    """The values a grid takes for one normalised parameter spec (W&B's grid_search semantics)."""
    dist = spec["distribution"]
    if dist == "constant":
        return [spec["value"]]
    if dist == "categorical":
        return list(spec["values"])
    if dist == "int_uniform":
        return list(range(spec["min"], spec["max"] + 1))
    if dist == "q_uniform":
        lo, hi, q = spec["min"], spec["max"], spec["q"]
        whole = all(_is_int(v) for v in (lo, hi, q))
        out, k = [], 0
        while True:  # np.arange(min, max, q): max excluded
            v = lo + k * q
            if v >= hi - 1e-12 * max(1.0, abs(hi)):
                break
            out.append(int(v) if whole else _clean_float(v))
            k += 1
        return out
    raise ConfigError(f"grid search needs `values` (or constant, int_uniform, q_uniform); "
                      f"distribution {dist!r} is continuous", key=f"parameters.{name}")


@dataclass
class Sweep:
    """A validated sweep. ``parameters`` maps flattened names to normalised specs (every spec has
    ``distribution`` and all defaults filled), in the order of the file."""

    method: str
    parameters: dict[str, dict]
    max_trials: int
    metric_name: str | None = None
    goal: str = "minimize"
    seed: int = 0
    name: str | None = None
    metric_target: float | None = None
    metric_impute: str = "worst"
    run_cap: int | None = None
    sweep_max_count: int | None = None
    early_terminate: dict | None = None
    file: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def direction(self) -> str:
        return self.goal

    def grid_names(self) -> list[str]:
        """Parameter names in W&B's grid order (sorted by name path)."""
        return sorted(self.parameters, key=lambda n: tuple(n.split(".")))

    def grid_size(self) -> int:
        return math.prod(len(grid_values(n, s)) for n, s in self.parameters.items())

    def grid_point(self, index: int) -> dict:
        """The ``index``-th grid point (0-based) in W&B's product order, in file parameter order."""
        names = self.grid_names()
        lists = [grid_values(n, self.parameters[n]) for n in names]
        sizes = [len(v) for v in lists]
        if not 0 <= index < math.prod(sizes):
            raise IndexError(f"grid point {index} out of range (grid has {math.prod(sizes)} points)")
        picked = {}
        for n, vals, size in zip(reversed(names), reversed(lists), reversed(sizes)):
            index, r = divmod(index, size)
            picked[n] = copy.deepcopy(vals[r])
        return {n: picked[n] for n in self.parameters}

    def grid_points(self) -> list[dict]:
        names = self.grid_names()
        lists = [grid_values(n, self.parameters[n]) for n in names]
        return [{n: copy.deepcopy(dict(zip(names, combo))[n]) for n in self.parameters}
                for combo in itertools.product(*lists)]

    def fingerprint(self) -> str:
        """Hash of what decides which parameters a trial gets; the trial budget is left out so a
        study can be extended by raising ``run_cap``."""
        key = {"method": self.method, "parameters": self.parameters, "goal": self.goal, "seed": self.seed,
               "impute": self.metric_impute if self.method == "bayes" else None}
        return hashlib.sha256(_canon(key).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {"method": self.method, "parameters": copy.deepcopy(self.parameters), "max_trials": self.max_trials,
                "metric_name": self.metric_name, "goal": self.goal, "seed": self.seed, "name": self.name,
                "metric_target": self.metric_target, "metric_impute": self.metric_impute,
                "run_cap": self.run_cap, "sweep_max_count": self.sweep_max_count,
                "early_terminate": copy.deepcopy(self.early_terminate), "file": self.file,
                "notes": list(self.notes)}


# --------------------------------------------------------------------------- validation


def _cap(cfg: dict, key: str, file: str | None) -> int | None:
    v = cfg.get(key)
    if v is None:
        return None
    if not _is_int(v) or v <= 0:
        raise ConfigError(f"`{key}` must be a positive integer, got {v!r}", file=file, key=key)
    return v


def _early_terminate(raw: Any, file: str | None) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError("early_terminate must be a mapping such as {type: hyperband, min_iter: 3}",
                          file=file, key="early_terminate")
    allowed = ("type", "min_iter", "max_iter", "s", "eta", "strict")
    for k in raw:
        if k not in allowed:
            raise ConfigError(f"unknown key {k!r} (allowed: {', '.join(allowed)})", file=file,
                              key=f"early_terminate.{k}")
    if raw.get("type") != "hyperband":
        raise ConfigError(f"early_terminate.type must be hyperband, got {raw.get('type')!r}", file=file,
                          key="early_terminate.type")
    et = {"type": "hyperband", "eta": 3, "strict": True}
    et.update(raw)
    if "min_iter" not in et and not ("max_iter" in et and "s" in et):
        raise ConfigError("hyperband needs min_iter, or max_iter together with s", file=file,
                          key="early_terminate")
    for k in ("min_iter", "max_iter"):
        if k in et and (not _is_int(et[k]) or et[k] < 1):
            raise ConfigError(f"{k} must be a positive integer", file=file, key=f"early_terminate.{k}")
    if "s" in et and (not _is_num(et["s"]) or et["s"] < 0):
        raise ConfigError("s must be a number >= 0", file=file, key="early_terminate.s")
    if not _is_num(et["eta"]) or et["eta"] <= 1:
        raise ConfigError("eta must be a number > 1", file=file, key="early_terminate.eta")
    if not isinstance(et["strict"], bool):
        raise ConfigError("strict must be true or false", file=file, key="early_terminate.strict")
    return et


def _read(cfg: dict | str | os.PathLike, file: str | None) -> tuple[dict, str | None]:
    if isinstance(cfg, (str, os.PathLike)):
        file = file or os.fspath(cfg)
        try:
            with open(cfg, "r", encoding="utf-8") as fh:
                cfg = yaml.safe_load(fh)
        except FileNotFoundError:
            raise ConfigError("sweep file not found", file=file) from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"not valid YAML: {exc}", file=file) from None
    if not isinstance(cfg, dict):
        raise ConfigError("a sweep configuration must be a mapping", file=file)
    for k in cfg:
        if k in ("metrics", "scheduler"):
            raise ConfigError(f"`{k}` needs W&B's custom scheduler (method: custom); not supported here",
                              file=file, key=k)
        if k not in TOP_KEYS:
            raise ConfigError(f"unknown sweep key (allowed: {', '.join(TOP_KEYS)})", file=file, key=k)
    return cfg, file


def _metric(metric: Any, method: str, file: str | None) -> tuple[str | None, str, float | None, str]:
    """``metric`` -> (name, goal, target, impute)."""
    metric_name, goal, target, impute = None, "minimize", None, "worst"
    if metric is None:
        if method == "bayes":
            raise ConfigError("method bayes needs a `metric: {name: ..., goal: ...}`", file=file, key="metric")
        return metric_name, goal, target, impute
    if not isinstance(metric, dict):
        raise ConfigError("metric must be a mapping {name, goal}", file=file, key="metric")
    for k in metric:
        if k not in ("name", "goal", "target", "impute", "impute_while_running"):
            raise ConfigError("unknown metric key (allowed: name, goal, target, impute, impute_while_running)",
                              file=file, key=f"metric.{k}")
    metric_name = metric.get("name")
    if not isinstance(metric_name, str) or not metric_name:
        raise ConfigError("metric.name must be a non-empty string", file=file, key="metric.name")
    goal = metric.get("goal", "minimize")
    if goal not in GOALS:
        raise ConfigError(f"metric.goal must be minimize or maximize, got {goal!r}", file=file,
                          key="metric.goal")
    target = metric.get("target")
    if target is not None and (not _is_num(target) or not math.isfinite(target)):
        raise ConfigError("metric.target must be a number", file=file, key="metric.target")
    impute = metric.get("impute", "worst")
    if impute not in IMPUTE:
        raise ConfigError(f"metric.impute must be one of {', '.join(IMPUTE)}", file=file, key="metric.impute")
    iwr = metric.get("impute_while_running", "false")
    if iwr not in IMPUTE + ("false", False):
        raise ConfigError("metric.impute_while_running must be latest, best, worst or false", file=file,
                          key="metric.impute_while_running")
    return metric_name, goal, target, impute


def _max_trials(method: str, parameters: dict[str, dict], caps: list[int], file: str | None) -> int:
    if method == "grid":
        for pname, spec in parameters.items():
            if spec["distribution"] not in GRID_DISTRIBUTIONS:
                raise ConfigError(f"grid search needs `values` (or a constant, int_uniform or q_uniform); "
                                  f"distribution {spec['distribution']!r} is continuous", file=file,
                                  key=f"parameters.{pname}")
            if not grid_values(pname, spec):
                raise ConfigError("this q_uniform gives no grid value below max", file=file,
                                  key=f"parameters.{pname}")
        size = math.prod(len(grid_values(n, s)) for n, s in parameters.items())
        return min([size] + caps)
    if not caps:
        raise ConfigError(f"method {method} needs a trial budget: set `run_cap` (W&B) or `sweep_max_count` "
                          f"(Data-Juicer)", file=file, key="run_cap")
    return min(caps)


def load_sweep(cfg: dict | str | os.PathLike, file: str | None = None) -> Sweep:
    """Validate a W&B sweep configuration (a dict, or the path of a YAML file) into a :class:`Sweep`.

    Errors are :class:`~juicer_sandbox.errors.ConfigError` located by ``file`` and dotted key.
    """
    cfg, file = _read(cfg, file)
    method = cfg.get("method")
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}", file=file, key="method")
    if "parameters" not in cfg:
        raise ConfigError("`parameters` is required", file=file, key="parameters")
    parameters = _flatten(cfg["parameters"], file)
    metric_name, goal, target, impute = _metric(cfg.get("metric"), method, file)

    run_cap = _cap(cfg, "run_cap", file)
    max_count = _cap(cfg, "sweep_max_count", file)
    caps = [c for c in (run_cap, max_count) if c is not None]
    seed = cfg.get("seed", 0)
    if not _is_int(seed) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}", file=file, key="seed")
    name = cfg.get("sweep_name", cfg.get("name"))
    if name is not None and not isinstance(name, str):
        raise ConfigError("the sweep name must be a string", file=file,
                          key="sweep_name" if "sweep_name" in cfg else "name")
    max_trials = _max_trials(method, parameters, caps, file)

    et = _early_terminate(cfg.get("early_terminate"), file)
    notes = []
    if et is not None:
        notes.append(EARLY_TERMINATE_NOTE)
    if target is not None:
        notes.append("metric.target is reported by export (target_reached) but does not stop the sweep: "
                     "the set of trials is fixed when the workflow starts")
    return Sweep(method=method, parameters=parameters, max_trials=max_trials, metric_name=metric_name, goal=goal,
                 seed=seed, name=name, metric_target=target, metric_impute=impute, run_cap=run_cap,
                 sweep_max_count=max_count, early_terminate=et, file=file, notes=notes)
