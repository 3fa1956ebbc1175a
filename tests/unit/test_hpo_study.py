"""Ask/tell over a journal-file Optuna study (juicer_sandbox.hpo.study): idempotence, resume,
concurrency, grid order, seeded determinism, distribution mapping and export."""
from __future__ import annotations

import csv
import json
import math
import multiprocessing as mp
import warnings

import pytest

from juicer_sandbox.errors import SandboxError
from juicer_sandbox.hpo.encodings import beta_cdf, beta_ppf
from juicer_sandbox.hpo.study import ask, export, tell, trial_records
from juicer_sandbox.hpo.sweep import load_sweep

PNG = b"\x89PNG\r\n\x1a\n"


def bayes(run_cap=14, seed=0, **params):
    return load_sweep({"method": "bayes", "run_cap": run_cap, "seed": seed,
                       "metric": {"name": "score", "goal": "maximize"},
                       "parameters": params or {"x": {"min": -3.0, "max": 3.0}, "k": {"values": ["a", "b", "c"]},
                                                "n": {"distribution": "q_log_uniform_values", "min": 256,
                                                      "max": 8192}}})


def objective(p: dict) -> float:
    return -(p["x"] - 1.0) ** 2 + {"a": 0.0, "b": 0.5, "c": 0.2}[p["k"]] - abs(math.log(p["n"] / 1024))


def run_sequential(study_dir, sweep, order=None, parallel=1):
    out = {}
    for t in range(sweep.max_trials):
        p = ask(study_dir, sweep, t, parallel=parallel)
        out[t] = p
        tell(study_dir, sweep, t, objective(p))
    return out


# --------------------------------------------------------------------------- idempotence and resume


def test_ask_is_idempotent_and_a_killed_trial_resumes_with_the_same_params(tmp_path):
    s = bayes()
    p0 = ask(tmp_path, s, 0)
    p1 = ask(tmp_path, s, 1)
    assert p0 != p1  # per-trial seeds: a new process does not redraw the same point
    # "crash": trial 0's jobs were killed before tell; the rerun asks again
    assert ask(tmp_path, s, 0) == p0
    recs = trial_records(tmp_path, s)
    assert [(r["trial_index"], r["number"], r["state"]) for r in recs] == [(0, 0, "RUNNING"), (1, 1, "RUNNING")]
    # a value of exactly 0.0 is a value
    r = tell(tmp_path, s, 0, 0.0)
    assert (r["state"], r["value"], r["params"]) == ("COMPLETE", 0.0, p0)
    assert tell(tmp_path, s, 0, 0.0)["state"] == "COMPLETE"  # idempotent
    assert ask(tmp_path, s, 0) == p0  # a completed trial is never re-sampled
    with pytest.warns(UserWarning, match="not recorded"):
        r = tell(tmp_path, s, 0, 5.0)
    assert r["value"] == 0.0 and "not recorded" in r["note"]
    assert "does not undo" in tell(tmp_path, s, 0, None, state="fail")["note"]
    assert len(trial_records(tmp_path, s)) == 2


def test_failed_trial_rerun_keeps_params_and_supersedes(tmp_path):
    s = bayes()
    p = ask(tmp_path, s, 0)
    assert tell(tmp_path, s, 0, None, state="fail")["state"] == "FAIL"
    assert tell(tmp_path, s, 0, None, state="fail")["state"] == "FAIL"
    assert ask(tmp_path, s, 0) == p  # the retry runs with the same parameters
    r = tell(tmp_path, s, 0, 1.5)
    assert (r["state"], r["value"], r["attempts"], r["params"]) == ("COMPLETE", 1.5, 2, p)
    assert r["number"] == 1
    # NaN is recorded as a failure, with a note
    ask(tmp_path, s, 1)
    r = tell(tmp_path, s, 1, float("nan"))
    assert r["state"] == "FAIL" and "not finite" in r["note"]


def test_bad_calls(tmp_path):
    s = bayes(run_cap=3)
    with pytest.raises(SandboxError, match="never asked"):
        tell(tmp_path, s, 0, 1.0)
    with pytest.raises(SandboxError, match="beyond"):
        ask(tmp_path, s, 3)
    with pytest.raises(SandboxError, match="integer"):
        ask(tmp_path, s, -1)
    ask(tmp_path, s, 0)
    with pytest.raises(SandboxError, match="numeric value"):
        tell(tmp_path, s, 0, None)
    with pytest.raises(SandboxError, match="state"):
        tell(tmp_path, s, 0, 1.0, state="pruned")


def test_changed_sweep_is_refused_but_a_larger_budget_is_fine(tmp_path):
    s = bayes(run_cap=3)
    ask(tmp_path, s, 0)
    assert ask(tmp_path, bayes(run_cap=30), 0) == ask(tmp_path, s, 0)
    assert ask(tmp_path, bayes(run_cap=30), 5)
    with pytest.raises(SandboxError, match="different sweep"):
        ask(tmp_path, bayes(run_cap=3, seed=1), 1)


# --------------------------------------------------------------------------- concurrency


def _worker(study_dir, sweep, n, queue):
    got = {}
    for t in range(n):
        p = ask(study_dir, sweep, t)
        got[t] = p
        tell(study_dir, sweep, t, float(t))
    queue.put(got)


def test_two_processes_on_one_study_create_one_trial_per_index(tmp_path):
    s = load_sweep({"method": "random", "run_cap": 12, "parameters": {
        "x": {"min": 0.0, "max": 1.0}, "k": {"values": [1, 2, 3]}}})
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path), s, 12, q)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert results[0] == results[1]  # both processes saw the same params for every index
    recs = trial_records(tmp_path, s)
    assert [r["trial_index"] for r in recs] == list(range(12))
    assert [r["number"] for r in recs] == list(range(12))  # no duplicate Optuna trials
    assert all(r["state"] == "COMPLETE" and r["attempts"] == 1 for r in recs)
    assert [r["params"] for r in recs] == [results[0][t] for t in range(12)]


# --------------------------------------------------------------------------- grid


def test_grid_is_exhaustive_in_wandb_order_and_capped(tmp_path):
    cfg = {"method": "grid", "metric": {"name": "m"}, "parameters": {
        "b": {"values": [[1, 2], {"k": "v"}]}, "a": {"min": 1, "max": 3}, "c": {"value": "const"}}}
    s = load_sweep(cfg)
    got = [ask(tmp_path / "g", s, t) for t in range(s.max_trials)]
    assert got == s.grid_points() and len(got) == 6
    assert got[:2] == [{"b": [1, 2], "a": 1, "c": "const"}, {"b": {"k": "v"}, "a": 1, "c": "const"}]
    assert len({json.dumps(p, sort_keys=True) for p in got}) == 6
    with pytest.raises(SandboxError, match="beyond"):
        ask(tmp_path / "g", s, 6)
    # concurrency or ask order does not change which point an index gets
    capped = load_sweep(dict(cfg, run_cap=4))
    assert [ask(tmp_path / "h", capped, t) for t in (3, 1, 0, 2)] == [got[3], got[1], got[0], got[2]]


# --------------------------------------------------------------------------- determinism


def test_bayes_with_a_seed_is_deterministic(tmp_path):
    s = bayes(run_cap=14)  # > TPE's 10 start-up trials, so the model is used
    a = run_sequential(tmp_path / "a", s)
    b = run_sequential(tmp_path / "b", s)
    assert a == b
    assert run_sequential(tmp_path / "c", bayes(run_cap=14, seed=7)) != a
    hist = {r["trial_index"]: r["history"] for r in trial_records(tmp_path / "a", s)}
    assert hist[13] == list(range(13))


def test_parallel_window_makes_params_independent_of_timing(tmp_path):
    s = bayes(run_cap=14)
    # run A: strictly one trial after another
    a = {}
    for t in range(14):
        a[t] = ask(tmp_path / "a", s, t, parallel=2)
        tell(tmp_path / "a", s, t, objective(a[t]))
    # run B: two in flight; trial t is asked only after t-2 was told, but t-1 may already be done or not
    b = {}
    for t in range(14):
        b[t] = ask(tmp_path / "b", s, t, parallel=2)
        if t >= 1:
            tell(tmp_path / "b", s, t - 1, objective(b[t - 1]))
    tell(tmp_path / "b", s, 13, objective(b[13]))
    assert a == b
    hist = {r["trial_index"]: r["history"] for r in trial_records(tmp_path / "a", s)}
    assert hist[5] == [0, 1, 2, 3]  # trial 4 was complete in run A but lies in the window
    # bayes imputes failures; the trial keeps its params
    c_dir = tmp_path / "c"
    for t in range(12):
        p = ask(c_dir, s, t)
        tell(c_dir, s, t, None if t % 3 == 0 else objective(p), state="fail" if t % 3 == 0 else "complete")
    assert ask(c_dir, s, 12)


def test_random_sampling_is_seeded_per_trial(tmp_path):
    s = load_sweep({"method": "random", "run_cap": 6, "seed": 3, "parameters": {"x": {"min": 0.0, "max": 1.0}}})
    xs = [ask(tmp_path / "a", s, t)["x"] for t in range(6)]
    assert len(set(xs)) == 6
    assert [ask(tmp_path / "b", s, t)["x"] for t in (5, 4, 3, 2, 1, 0)] == xs[::-1]  # order-free for random


# --------------------------------------------------------------------------- distributions


def test_beta_inverse_cdf():
    for u in (0.01, 0.3, 0.5, 0.9):
        assert beta_ppf(u, 1, 1) == pytest.approx(u, abs=1e-9)
        assert beta_ppf(u, 2, 1) == pytest.approx(math.sqrt(u), abs=1e-9)
        assert beta_ppf(u, 1, 2) == pytest.approx(1 - math.sqrt(1 - u), abs=1e-9)
    # Beta(2, 5): cdf by the midpoint rule of the density 30 x (1-x)^4
    n = 20000
    x = 0.3
    num = sum(30 * ((i + 0.5) * x / n) * (1 - (i + 0.5) * x / n) ** 4 for i in range(n)) * x / n
    assert beta_cdf(x, 2, 5) == pytest.approx(num, abs=1e-7)
    assert beta_cdf(beta_ppf(0.42, 2, 5), 2, 5) == pytest.approx(0.42, abs=1e-9)


def test_every_wandb_distribution_lands_in_its_support(tmp_path):
    params = {
        "const": {"value": [1, 2]},
        "cat": {"values": ["a", "b"]},
        "catobj": {"values": [{"a": 1}, [2], True]},
        "catp": {"values": ["x", "y"], "probabilities": [0.0, 1.0]},
        "iu": {"min": -2, "max": 2},
        "u": {"min": 0.5, "max": 0.75},
        "qu": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25},
        "qu_off": {"distribution": "q_uniform", "min": 0.1, "max": 0.9, "q": 0.25},
        "qu_int": {"distribution": "q_uniform", "min": 0, "max": 12, "q": 4},
        "lu": {"distribution": "log_uniform", "min": 0, "max": 2},  # exponents: e^0..e^2
        "luv": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
        "ilu": {"distribution": "inv_log_uniform", "min": 0, "max": 2},  # e^-2..e^0
        "iluv": {"distribution": "inv_log_uniform_values", "min": 2, "max": 20},
        "qlu": {"distribution": "q_log_uniform", "min": 0, "max": 3, "q": 2},
        "qluv": {"distribution": "q_log_uniform_values", "min": 256, "max": 8192},
        "n": {"distribution": "normal", "mu": 10, "sigma": 0.001},
        "qn": {"distribution": "q_normal", "mu": 10, "sigma": 3, "q": 2},
        "ln": {"distribution": "log_normal", "mu": 0, "sigma": 1},
        "qln": {"distribution": "q_log_normal", "mu": 2, "sigma": 0.5, "q": 0.5},
        "b": {"distribution": "beta", "a": 2, "b": 5},
        "qb": {"distribution": "q_beta", "a": 2, "b": 2, "q": 0.1},
    }
    for method in ("random", "bayes"):
        s = load_sweep({"method": method, "run_cap": 14, "metric": {"name": "m"}, "parameters": params})
        for t in range(14):
            p = ask(tmp_path / method, s, t)
            tell(tmp_path / method, s, t, p["u"])
            assert list(p) == list(params)
            assert p["const"] == [1, 2] and p["cat"] in ("a", "b") and p["catobj"] in ({"a": 1}, [2], True)
            assert p["catp"] == "y"
            assert isinstance(p["iu"], int) and -2 <= p["iu"] <= 2
            assert 0.5 <= p["u"] <= 0.75
            assert p["qu"] in (0.0, 0.25, 0.5, 0.75, 1.0)
            assert p["qu_off"] in (0.0, 0.25, 0.5, 0.75, 1.0)  # W&B rounds to multiples of q
            assert p["qu_int"] in (0, 4, 8, 12) and isinstance(p["qu_int"], int)
            assert 1.0 <= p["lu"] <= math.exp(2)
            assert 1e-4 <= p["luv"] <= 1e-1
            assert math.exp(-2) <= p["ilu"] <= 1.0
            assert 2 <= p["iluv"] <= 20
            assert isinstance(p["qlu"], int) and p["qlu"] % 2 == 0 and 0 <= p["qlu"] <= 20
            assert isinstance(p["qluv"], int) and 256 <= p["qluv"] <= 8192
            assert p["n"] == pytest.approx(10, abs=0.01)
            assert isinstance(p["qn"], int) and p["qn"] % 2 == 0
            assert p["ln"] > 0
            assert (p["qln"] / 0.5).is_integer()
            assert 0 <= p["b"] <= 1 and 0 <= p["qb"] <= 1
            assert round(p["qb"] * 10, 9).is_integer()
    json.dumps(p)  # plain python values


def test_log_uniform_uses_exponent_bounds_statistically(tmp_path):
    s = load_sweep({"method": "random", "run_cap": 60, "parameters": {
        "lu": {"distribution": "log_uniform", "min": 0, "max": 4}}})
    logs = [math.log(ask(tmp_path, s, t)["lu"]) for t in range(60)]
    assert 0 <= min(logs) and max(logs) <= 4
    assert sum(logs) / len(logs) == pytest.approx(2.0, abs=0.5)  # uniform in the exponent


# --------------------------------------------------------------------------- export


def test_export_writes_all_files(tmp_path):
    s = load_sweep({"method": "bayes", "run_cap": 8, "metric": {"name": "score", "goal": "maximize", "target": 0.3},
                    "early_terminate": {"type": "hyperband", "min_iter": 2},
                    "parameters": {"x": {"min": -3.0, "max": 3.0}, "k": {"values": ["a", "b", "c"]},
                                   "n": {"distribution": "q_log_uniform_values", "min": 256, "max": 8192}}})
    sd = tmp_path / "study"
    # empty study: still every file, placeholders say why
    out = export(sd, s, tmp_path / "e0")
    assert out["best"] is None
    assert sum(n.startswith(("optimization_history.png", "param_importances.png")) for n in out["notes"]) == 2
    for f in out["files"].values():
        assert (tmp_path / "e0").joinpath(f.rsplit("/", 1)[-1]).exists()
    vals = {}
    for t in range(7):
        p = ask(sd, s, t)
        vals[t] = objective(p)
        if t == 2:
            tell(sd, s, t, None, state="fail")
        else:
            tell(sd, s, t, vals[t])
    ask(sd, s, 7)  # still running
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no stray warnings from plotting/importances
        out = export(sd, s, tmp_path / "e1")
    d = tmp_path / "e1"
    rows = list(csv.DictReader(open(d / "trials.csv", encoding="utf-8")))
    assert [int(r["trial_index"]) for r in rows] == list(range(8))
    assert [r["state"] for r in rows] == ["COMPLETE"] * 2 + ["FAIL"] + ["COMPLETE"] * 4 + ["RUNNING"]
    assert rows[7]["value"] == ""
    assert {"params_x", "params_k", "params_n"} <= set(rows[0])
    assert float(rows[0]["value"]) == pytest.approx(vals[0])
    best = json.loads((d / "best.json").read_text())
    done = {t: v for t, v in vals.items() if t != 2}
    bt = max(done, key=done.get)
    assert best["best"]["trial_index"] == bt and best["best"]["value"] == pytest.approx(done[bt])
    assert best["best"]["params"] == ask(sd, s, bt)
    assert best["counts"] == {"COMPLETE": 6, "FAIL": 1, "RUNNING": 1, "asked": 8, "max_trials": 8}
    assert best["target_reached"] == (done[bt] >= 0.3)
    assert best["early_terminate"]["applied"] is False
    assert any("not applied" in n for n in best["notes"])
    for png in ("optimization_history.png", "param_importances.png"):
        assert (d / png).read_bytes()[:8] == PNG
    assert out["files"]["best.json"] == str(d / "best.json")


def test_export_with_one_complete_trial_notes_missing_importances(tmp_path):
    s = bayes(run_cap=3)
    p = ask(tmp_path / "s", s, 0)
    tell(tmp_path / "s", s, 0, 0.0)
    out = export(tmp_path / "s", s, tmp_path / "o")
    assert out["best"] == {"trial_index": 0, "number": 0, "value": 0.0, "params": p}
    assert any("at least 2 completed" in n for n in out["notes"])
    assert (tmp_path / "o" / "param_importances.png").read_bytes()[:8] == PNG


def test_a_torn_journal_record_and_a_stale_optuna_lock_are_repaired(tmp_path):
    s = bayes(run_cap=4)
    p0 = ask(tmp_path, s, 0)
    # a process killed inside Optuna's append: its lock file stays, half a record is on disk
    (tmp_path / "journal.log.lock").write_text("")
    with open(tmp_path / "journal.log", "ab") as fh:
        fh.write(b'{"op_code":5,"worker_id":"x","trial_id":0,"sta')
    assert ask(tmp_path, s, 0) == p0
    p1 = ask(tmp_path, s, 1)
    tell(tmp_path, s, 1, 2.0)
    assert [r["state"] for r in trial_records(tmp_path, s)] == ["RUNNING", "COMPLETE"]
    assert ask(tmp_path, s, 1) == p1
    assert not (tmp_path / "journal.log.lock").exists()
