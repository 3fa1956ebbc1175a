"""One W&B-style sweep as an Optuna study that many Snakemake jobs ask and tell.

Files under ``study_dir``:

``journal.log``   Optuna ``JournalStorage`` over ``JournalFileBackend`` (the source of truth)
``hpo.lock``      an ``fcntl.flock`` lock held for the length of every ``ask``/``tell``/``export``

Why a journal file and not SQLite: every trial is a few short-lived processes (one ``ask`` job,
one ``tell`` job), often several at once. ``JournalFileBackend`` appends one JSON line per
operation under a lock file and replays the log on open; it needs no server and handles
concurrent processes on one machine (measured in ``snakemake.md`` §B.4: 2 x 30 concurrent
trials, 2.7 s, against 9.6 s for SQLite, whose writers serialise on the database lock). On top of
it, ``hpo.lock`` makes "look up trial t, create it if missing" atomic across processes, so two
jobs can never create two Optuna trials for one trial index. ``flock`` is released by the kernel
when a process dies, so a killed job cannot leave the study locked. Across machines (SLURM nodes
sharing a network filesystem) this is only as safe as that filesystem's ``flock``; Linux maps it
to POSIX locks on NFSv4, which works on most clusters, but a local disk is safest.

How trial indices map to Optuna trials. The workflow numbers trials 0..max_trials-1 (its
``trial_index``); Optuna numbers trials in creation order (``number``). ``ask(t)`` creates an
Optuna trial in state RUNNING carrying user attributes ``trial_index=t`` and ``params`` (the
values handed to the pipeline), in a single journal record. The trial of index ``t`` is the
highest-numbered Optuna trial with that attribute. Consequences:

* ``ask(t)`` again (a rerun, or the ask job re-run after being killed) returns the recorded
  params: a killed trial is retried with the **same** parameters, and a finished one is never
  re-sampled. ``tell(t)`` again is a no-op (a different value for a COMPLETE trial is not
  recorded: Optuna trials are immutable once finished; a warning says so).
* A killed trial's Optuna trial stays RUNNING until its ``tell``; RUNNING trials are not part of
  any sampler's history, so they bias nothing.
* ``tell(t, state="fail")`` marks it FAIL. If the trial is later rerun and told ``complete``, a
  new COMPLETE Optuna trial with the same params and the same ``trial_index`` is added
  (``retry_of`` = the failed number); it supersedes the FAIL one.

Sampling (``random``/``bayes``). ``ask(t, parallel=P)`` builds a throw-away in-memory study from
the *finished* trials with index <= t - P, and asks it with ``RandomSampler``/``TPESampler``
seeded by ``hash(seed, t)``. With the workflow's rule "ask(t) waits for the tells of trials
<= t - P", the history is then the same on every run, so **the same sweep and seed give the same
params for each trial index** whatever the timing of parallel jobs (if a trial in that window is
still running it is simply left out; the indices used are recorded as ``history`` on the trial).
The per-trial seed is needed anyway: each ask is a new process, and a sampler seeded with the
same number in every process would draw the same point every time. ``bayes`` imputes failed
trials as W&B does (``metric.impute``: ``worst`` (default) / ``best`` of the completed values in
the window; ``latest`` is treated as ``worst``, since a trial reports no intermediate values);
with no completed trial to impute from, failures are left out (TPE ignores them).

``grid``: trial t gets the t-th grid point in W&B's order (``Sweep.grid_point``). Optuna's
``GridSampler`` is not used for the choice: it picks a random unvisited grid point per ask, so the
index -> point map would depend on timing; the points are recorded as categorical parameters, so
Optuna's tooling (plots, importances, dashboards) still works.

W&B distributions in Optuna (``sweep.py`` lists their meaning). Each parameter is stored in
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

import contextlib
import copy
import csv
import fcntl
import hashlib
import json
import logging
import math
import os
import statistics
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import SandboxError
from ..io import atomic_path, write_json
from .sweep import Sweep, _canon, grid_values

JOURNAL = "journal.log"
LOCK = "hpo.lock"
STUDY_NAME = "sweep"
_EPS = 1e-12
_QUANTILE_DISTS = ("normal", "q_normal", "log_normal", "q_log_normal", "beta", "q_beta",
                   "categorical_w_probabilities")


# --------------------------------------------------------------------------- encodings


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


# --------------------------------------------------------------------------- storage


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    import optuna

    old = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(old)


@contextlib.contextmanager
def _locked(study_dir: str | os.PathLike) -> Iterator[Path]:
    d = Path(study_dir)
    d.mkdir(parents=True, exist_ok=True)
    with open(d / LOCK, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield d
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _repair(d: Path) -> None:
    """Undo what a process killed in the middle of a journal append can leave (call under the lock).

    Every writer holds ``hpo.lock``, so a ``journal.log.lock`` seen here is stale (its owner died
    between Optuna's lock and unlock; Optuna itself would wait 30 s before breaking it), and a
    last line without its newline is a torn record: Optuna skips it, but the next append would
    be glued to it and corrupt the journal, so it is cut off.
    """
    journal = d / JOURNAL
    with contextlib.suppress(FileNotFoundError):
        os.unlink(str(journal) + ".lock")
    try:
        size = journal.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(journal, "rb+") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        fh.seek(0)
        data = fh.read()
        fh.truncate(data.rfind(b"\n") + 1)


def _open_study(d: Path, sweep: Sweep):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    _repair(d)
    storage = JournalStorage(JournalFileBackend(str(d / JOURNAL)))
    with _quiet_optuna():
        study = optuna.create_study(storage=storage, study_name=STUDY_NAME, direction=sweep.direction,
                                    sampler=optuna.samplers.RandomSampler(seed=sweep.seed), load_if_exists=True)
    fp = study.user_attrs.get("sweep_fingerprint")
    if fp is None:
        study.set_user_attr("sweep_fingerprint", sweep.fingerprint())
        study.set_user_attr("sweep", {"method": sweep.method, "parameters": sweep.parameters, "goal": sweep.goal,
                                      "metric": sweep.metric_name, "seed": sweep.seed, "name": sweep.name})
    elif fp != sweep.fingerprint():
        raise SandboxError(
            f"{d}: this study was created for a different sweep (method, parameters, goal or seed changed). "
            f"Its trials would not match the new search space; use a new study directory or delete {d}. "
            f"(Raising run_cap/sweep_max_count is allowed.)")
    return study


def _current(study) -> dict[int, Any]:
    """trial_index -> the FrozenTrial that currently stands for it (highest number)."""
    out: dict[int, Any] = {}
    for tr in study.get_trials(deepcopy=False):
        idx = tr.user_attrs.get("trial_index")
        if idx is None:
            continue
        if idx not in out or tr.number > out[idx].number:
            out[idx] = tr
    return out


def _attempts(study) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for tr in study.get_trials(deepcopy=False):
        idx = tr.user_attrs.get("trial_index")
        if idx is not None:
            out.setdefault(idx, []).append(tr.number)
    return out


def _check_index(sweep: Sweep, trial_index: int) -> None:
    if isinstance(trial_index, bool) or not isinstance(trial_index, int) or trial_index < 0:
        raise SandboxError(f"trial index must be an integer >= 0, got {trial_index!r}")
    if trial_index >= sweep.max_trials:
        raise SandboxError(f"trial {trial_index} is beyond this sweep's {sweep.max_trials} trials "
                           f"(indices 0..{sweep.max_trials - 1})")


def trial_seed(seed: int, trial_index: int) -> int:
    """The sampler seed of one trial: a stable hash of (sweep seed, trial index)."""
    digest = hashlib.sha256(f"juicer-sandbox-hpo:{seed}:{trial_index}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _sampler(sweep: Sweep, trial_index: int):
    import optuna

    s = trial_seed(sweep.seed, trial_index)
    if sweep.method == "random":
        return optuna.samplers.RandomSampler(seed=s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return optuna.samplers.TPESampler(seed=s)


def _sample(sweep: Sweep, encs: dict[str, _Enc], history: list, trial_index: int) -> dict:
    """Ask a throw-away study that holds only `history`; returns the internal params."""
    import optuna
    from optuna.trial import TrialState, create_trial

    dists = _distributions(encs)
    if not dists:
        return {}
    with _quiet_optuna(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tmp = optuna.create_study(storage=optuna.storages.InMemoryStorage(), direction=sweep.direction,
                                  sampler=_sampler(sweep, trial_index))
        done = [t.value for t in history if t.state == TrialState.COMPLETE]
        impute = None
        if sweep.method == "bayes" and done:
            worst = min(done) if sweep.goal == "maximize" else max(done)
            best = max(done) if sweep.goal == "maximize" else min(done)
            impute = best if sweep.metric_impute == "best" else worst
        for t in history:
            if t.state == TrialState.COMPLETE:
                tmp.add_trial(create_trial(params=t.params, distributions=t.distributions, value=t.value))
            elif impute is not None:
                tmp.add_trial(create_trial(params=t.params, distributions=t.distributions, value=impute))
            else:
                tmp.add_trial(create_trial(params=t.params, distributions=t.distributions, state=TrialState.FAIL))
        trial = tmp.ask(fixed_distributions=dists)
        return dict(trial.params)


# --------------------------------------------------------------------------- public API


def ask(study_dir: str | os.PathLike, sweep: Sweep, trial_index: int, *, parallel: int = 1) -> dict:
    """The parameters of trial ``trial_index`` (name -> value, in the sweep's parameter order).

    The first call creates the Optuna trial; every later call returns the same values, whatever
    happened in between (killed jobs, reruns, other processes). ``parallel`` is the number of
    trials the workflow runs at once: the sampler sees the finished trials with index <=
    ``trial_index - parallel`` (see the module docstring). Grid sweeps ignore it.
    """
    from optuna.trial import TrialState, create_trial

    _check_index(sweep, trial_index)
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise SandboxError(f"parallel must be an integer >= 1, got {parallel!r}")
    encs = _encodings(sweep)
    with _locked(study_dir) as d:
        study = _open_study(d, sweep)
        cur = _current(study)
        if trial_index in cur:
            return copy.deepcopy(cur[trial_index].user_attrs["params"])
        history_idx: list[int] = []
        if sweep.method == "grid":
            params = sweep.grid_point(trial_index)
            internal = _grid_internal(encs, params)
        else:
            window = trial_index - parallel
            history = []
            for idx in sorted(cur):
                t = cur[idx]
                if idx <= window and t.state in (TrialState.COMPLETE, TrialState.FAIL):
                    history.append(t)
                    history_idx.append(idx)
            internal = _sample(sweep, encs, history, trial_index)
            params = _decode(encs, internal)
        dists = _distributions(encs)
        with _quiet_optuna():
            study.add_trial(create_trial(
                state=TrialState.RUNNING, params=internal, distributions=dists,
                user_attrs={"trial_index": trial_index, "params": params, "history": history_idx,
                            "sampler_seed": trial_seed(sweep.seed, trial_index)}))
        return copy.deepcopy(params)


def tell(study_dir: str | os.PathLike, sweep: Sweep, trial_index: int, value: float | None,
         state: str = "complete") -> dict:
    """Report trial ``trial_index``'s objective. Idempotent; returns the trial's record.

    ``state="complete"`` needs a finite ``value`` (0.0 is a value like any other; NaN/inf is
    recorded as a failure). ``state="fail"`` marks the trial failed (``value`` is ignored).
    A COMPLETE trial is never changed. A FAIL trial told ``complete`` later (it was rerun) gets a
    new COMPLETE Optuna trial with the same params that supersedes it.
    """
    from optuna.trial import TrialState, create_trial

    _check_index(sweep, trial_index)
    if state not in ("complete", "fail"):
        raise SandboxError(f"state must be 'complete' or 'fail', got {state!r}")
    if state == "complete":
        if value is None or isinstance(value, bool):
            raise SandboxError(f"trial {trial_index}: state complete needs a numeric value, got {value!r}")
        value = float(value)
    note = None
    with _locked(study_dir) as d:
        study = _open_study(d, sweep)
        cur = _current(study).get(trial_index)
        if cur is None:
            raise SandboxError(f"trial {trial_index} was never asked in {d}")
        if state == "complete" and not math.isfinite(value):
            note = f"value {value} is not finite; recorded as a failure"
            state = "fail"
        with _quiet_optuna(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if cur.state == TrialState.RUNNING:
                if state == "complete":
                    study.tell(cur.number, value)
                else:
                    study.tell(cur.number, state=TrialState.FAIL)
            elif cur.state == TrialState.COMPLETE:
                if state == "fail":
                    note = f"trial {trial_index} is already COMPLETE; a failure report does not undo it"
                elif value != cur.value:
                    note = (f"trial {trial_index} is already COMPLETE with value {cur.value}; the new value "
                            f"{value} is not recorded (finished Optuna trials are immutable)")
            elif cur.state == TrialState.FAIL:
                if state == "complete":
                    study.add_trial(create_trial(
                        params=cur.params, distributions=cur.distributions, value=value,
                        user_attrs={"trial_index": trial_index, "params": cur.user_attrs["params"],
                                    "history": cur.user_attrs.get("history", []),
                                    "sampler_seed": cur.user_attrs.get("sampler_seed"), "retry_of": cur.number}))
            else:  # WAITING/PRUNED never come from this module
                raise SandboxError(f"trial {trial_index} is in unexpected state {cur.state.name}")
        rec = _record(_current(study)[trial_index], len(_attempts(study)[trial_index]))
    if note:
        rec["note"] = note
        if "not recorded" in note:
            warnings.warn(note, stacklevel=2)
    return rec


def _record(tr, attempts: int = 1) -> dict:
    dur = None
    if tr.datetime_start and tr.datetime_complete:
        dur = (tr.datetime_complete - tr.datetime_start).total_seconds()
    return {"trial_index": tr.user_attrs["trial_index"], "number": tr.number, "state": tr.state.name,
            "value": tr.value, "params": copy.deepcopy(tr.user_attrs["params"]), "attempts": attempts,
            "history": list(tr.user_attrs.get("history", [])),
            "datetime_start": tr.datetime_start.isoformat() if tr.datetime_start else None,
            "datetime_complete": tr.datetime_complete.isoformat() if tr.datetime_complete else None,
            "duration_s": dur}


def trial_records(study_dir: str | os.PathLike, sweep: Sweep) -> list[dict]:
    """One record per asked trial index (sorted): trial_index, number, state, value, params, ..."""
    with _locked(study_dir) as d:
        study = _open_study(d, sweep)
        cur = _current(study)
        att = _attempts(study)
        return [_record(cur[i], len(att[i])) for i in sorted(cur)]


def _cell(v) -> Any:
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return v


def _placeholder_png(path: Path, title: str, message: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, transform=ax.transAxes)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _history_png(path: Path, sweep: Sweep, records: list[dict]) -> str | None:
    done = [r for r in records if r["state"] == "COMPLETE"]
    if not done:
        note = "optimization_history.png: no completed trial yet"
        _placeholder_png(path, "Optimization history", note)
        return note
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["trial_index"] for r in done]
    ys = [r["value"] for r in done]
    best, run = [], None
    for y in ys:
        run = y if run is None else (max(run, y) if sweep.goal == "maximize" else min(run, y))
        best.append(run)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(xs, ys, label="trial value", zorder=3)
    ax.step(xs, best, where="post", color="tab:red", label=f"best so far ({sweep.goal})")
    failed = [r["trial_index"] for r in records if r["state"] == "FAIL"]
    if failed:
        ax.scatter(failed, [min(ys)] * len(failed), marker="x", color="grey", label="failed trial")
    ax.set_xlabel("trial index")
    ax.set_ylabel(sweep.metric_name or "objective")
    ax.set_title(f"Optimization history ({sweep.method}, {len(done)} completed)")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return None


def _importances(study, seed: int) -> tuple[dict[str, float], str]:
    """Optuna's default fANOVA when scikit-learn is installed, else PED-ANOVA (pure numpy)."""
    import optuna

    try:
        import sklearn  # noqa: F401

        evaluator, label = optuna.importance.FanovaImportanceEvaluator(seed=seed), "fANOVA"
    except ImportError:
        evaluator, label = optuna.importance.PedAnovaImportanceEvaluator(), "PED-ANOVA"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return optuna.importance.get_param_importances(study, evaluator=evaluator), label


def _importance_png(path: Path, sweep: Sweep, study, records: list[dict]) -> str | None:
    n_done = sum(r["state"] == "COMPLETE" for r in records)
    if n_done < 2:
        note = f"param_importances.png: needs at least 2 completed trials, have {n_done}"
        _placeholder_png(path, "Parameter importances", note)
        return note
    if not _distributions(_encodings(sweep)):
        note = "param_importances.png: the sweep has only constant parameters"
        _placeholder_png(path, "Parameter importances", note)
        return note
    try:
        imp, label = _importances(study, sweep.seed)
        if not imp:
            raise ValueError("no parameter varied across the completed trials")
    except Exception as exc:  # importance evaluators refuse degenerate studies; say why
        note = f"param_importances.png: importances not available ({type(exc).__name__}: {exc})"
        _placeholder_png(path, "Parameter importances", note)
        return note
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(imp)[::-1]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.45 * len(names)))
    ax.barh(names, [imp[n] for n in names])
    ax.set_xlabel("importance")
    ax.set_title(f"Parameter importances ({label}, {n_done} completed trials)")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return None


def export(study_dir: str | os.PathLike, sweep: Sweep, out_dir: str | os.PathLike) -> dict:
    """Write ``trials.csv``, ``best.json``, ``optimization_history.png`` and ``param_importances.png``
    into ``out_dir`` (atomically). The two PNGs are always written; when a plot cannot be drawn
    (no completed trial; fewer than 2 for importances; importances failing) the PNG says why and
    the reason is listed under ``notes`` in ``best.json`` and the returned dict.

    Returns ``{"files": {name: path}, "best": {...} | None, "notes": [...], "counts": {...}}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _locked(study_dir) as d:
        study = _open_study(d, sweep)
        cur = _current(study)
        att = _attempts(study)
        records = [_record(cur[i], len(att[i])) for i in sorted(cur)]
        notes = list(sweep.notes)
        files = {"trials.csv": str(out / "trials.csv"), "best.json": str(out / "best.json"),
                 "optimization_history.png": str(out / "optimization_history.png"),
                 "param_importances.png": str(out / "param_importances.png")}

        cols = ["trial_index", "number", "state", "value", "attempts", "history", "datetime_start",
                "datetime_complete", "duration_s"] + [f"params_{n}" for n in sweep.parameters]
        with atomic_path(files["trials.csv"], suffix=".csv") as tmp:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(cols)
                for r in records:
                    row = [r["trial_index"], r["number"], r["state"], r["value"], r["attempts"],
                           len(r["history"]), r["datetime_start"], r["datetime_complete"], r["duration_s"]]
                    row += [r["params"].get(n) for n in sweep.parameters]
                    w.writerow([_cell(v) for v in row])

        done = [r for r in records if r["state"] == "COMPLETE"]
        best = None
        if done:
            pick = max if sweep.goal == "maximize" else min
            b = pick(done, key=lambda r: (r["value"], -r["trial_index"]) if sweep.goal == "maximize"
                     else (r["value"], r["trial_index"]))
            best = {"trial_index": b["trial_index"], "number": b["number"], "value": b["value"],
                    "params": b["params"]}
        target_reached = None
        if sweep.metric_target is not None:
            target_reached = best is not None and (
                best["value"] >= sweep.metric_target if sweep.goal == "maximize"
                else best["value"] <= sweep.metric_target)
        counts = {s: sum(r["state"] == s for r in records) for s in ("COMPLETE", "FAIL", "RUNNING")}
        counts["asked"] = len(records)
        counts["max_trials"] = sweep.max_trials

        for name, fn in (("optimization_history.png", lambda p: _history_png(p, sweep, records)),
                         ("param_importances.png", lambda p: _importance_png(p, sweep, study, records))):
            n = fn(Path(files[name]))
            if n:
                notes.append(n)

        et = None
        if sweep.early_terminate is not None:
            et = dict(sweep.early_terminate, applied=False)
        summary = {"metric": sweep.metric_name, "goal": sweep.goal, "method": sweep.method, "seed": sweep.seed,
                   "sweep_name": sweep.name, "best": best, "counts": counts, "target": sweep.metric_target,
                   "target_reached": target_reached, "early_terminate": et, "notes": notes}
        write_json(files["best.json"], summary)
    return {"files": files, "best": best, "notes": notes, "counts": counts}
