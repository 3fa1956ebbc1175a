"""One W&B-style sweep as an Optuna study that many Snakemake jobs ask and tell.

Storage (an Optuna journal file under ``hpo.lock``) is in :mod:`.journal`, the encoding of W&B
distributions as Optuna ones in :mod:`.encodings`, the export's plots in :mod:`.plots`.

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
"""
from __future__ import annotations

import copy
import csv
import hashlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

from ..errors import SandboxError
from ..io import atomic_path, write_json
from .encodings import _Enc, _decode, _distributions, _encodings, _grid_internal
from .journal import _attempts, _current, _locked, _open_study, _quiet_optuna, _record
from .plots import _history_png, _importance_png
from .sweep import Sweep


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
