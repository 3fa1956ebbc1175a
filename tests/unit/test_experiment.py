"""arm_ranking / ranking_agreement and Kendall tau-b against hand-computed values."""
from __future__ import annotations

import csv
import io
import json
import math

import jsonschema
import pytest

from juicer_sandbox.components.experiment import (
    OUTPUTS,
    PROBES,
    SCHEMAS,
    arm_ranking,
    compute_arm_ranking,
    kendall_tau,
    ranking_agreement,
    ranking_markdown,
    ranking_tau,
)
from juicer_sandbox.errors import ComponentConfigError


# -- Kendall tau-b -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("x, y, expected", [
    ([1, 2, 3, 4], [1, 2, 3, 4], 1.0),
    ([1, 2, 3, 4], [4, 3, 2, 1], -1.0),
    # pairs (0,1) C, (0,2) C, (1,2) D: (2 - 1) / 3
    ([1, 2, 3], [1, 3, 2], 1 / 3),
    # one pair tied in x, another tied in y, 4 concordant: 4 / sqrt((6 - 1)(6 - 1))
    ([1, 1, 2, 3], [1, 2, 2, 3], 0.8),
    # same ties, 4 discordant
    ([1, 2, 2, 3], [3, 1, 2, 1], -0.8),
    # a pair tied in both counts in neither P/Q nor n0 - n1: 2 / sqrt((3 - 1)(3 - 1))
    ([1, 1, 2], [5, 5, 6], 1.0),
    # P = 4, Q = 1, one pair tied in x: tau-a would give 3 / 6; tau-b gives 3 / sqrt((6 - 1)(6 - 0))
    ([1, 1, 2, 3], [1, 2, 4, 3], 3 / math.sqrt(30)),
])
def test_kendall_tau_b_hand_computed(x, y, expected):
    assert kendall_tau(x, y) == pytest.approx(expected)
    assert kendall_tau(y, x) == pytest.approx(expected)  # symmetric


def test_kendall_tau_undefined_and_invalid():
    assert kendall_tau([1], [2]) is None
    assert kendall_tau([], []) is None
    assert kendall_tau([1, 1, 1], [1, 2, 3]) is None  # no spread in x
    with pytest.raises(ValueError):
        kendall_tau([1, 2], [1, 2, 3])
    with pytest.raises(ValueError):
        kendall_tau([1, float("nan")], [1, 2])


def test_ranking_tau_over_common_items():
    tau, common = ranking_tau(["a", "b", "c", "x"], ["c", "a", "y", "b"])
    # common in a's order: a, b, c; positions a (0,1,2) vs b (1,3,0): (a,b) C, (a,c) D, (b,c) D -> -1/3
    assert common == ["a", "b", "c"] and tau == pytest.approx(-1 / 3)


# -- arm_ranking ---------------------------------------------------------------------------------------------------
def _ev(arm, seed, loss, **kw):
    return {"arm": arm, "seed": seed, "loss": loss, "perplexity": math.exp(loss), **kw}


EVALS = [
    _ev("A", 0, 2.0), _ev("A", 1, 1.9),
    _ev("B", 0, 1.0), _ev("B", 1, 1.4),
    _ev("random", 0, 3.0), _ev("random", 1, 2.0),
    _ev("C", 0, 2.6), _ev("C", 1, 1.2),
]
POOLS = {"A": "pools/a.jsonl", "B": "pools/b.jsonl", "C": "pools/c.jsonl", "random": "pools/random.jsonl"}


def test_registry_and_schemas():
    assert PROBES == {"arm_ranking": arm_ranking, "ranking_agreement": ranking_agreement}
    assert OUTPUTS == {"arm_ranking": 1, "ranking_agreement": 1}
    for name, schema in SCHEMAS.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["additionalProperties"] is False
    v = jsonschema.Draft202012Validator(SCHEMAS["arm_ranking"])
    assert v.is_valid({"type": "arm_ranking", "evaluations": EVALS, "baseline": "random", "pools": POOLS,
                       "top_n": 2, "goal": "maximize", "metric": "perplexity", "export_path": "x"})
    assert not v.is_valid({"evaluations": EVALS, "goal": "lowest"})
    assert not v.is_valid({"evaluations": EVALS, "top_n": 0})
    assert not v.is_valid({"evaluation": EVALS})
    # the compiler fills schema defaults into extra_configs before the job runs
    filled = {k: d["default"] for k, d in SCHEMAS["arm_ranking"]["properties"].items() if "default" in d}
    assert v.is_valid({**filled, "evaluations": EVALS})
    assert arm_ranking({**filled, "evaluations": EVALS}) == ["B", "C", "A", "random"]  # no pools: arm names


def test_arm_ranking_hand_computed(tmp_path):
    cfg = {"type": "arm_ranking", "evaluations": EVALS, "baseline": "random", "pools": POOLS, "top_n": 2,
           "export_path": str(tmp_path / "rank")}
    assert arm_ranking(cfg) == ["pools/b.jsonl", "pools/c.jsonl"]
    result = json.loads((tmp_path / "rank/ranking.json").read_text())
    rows = {r["arm"]: r for r in result["arms"]}
    assert [r["arm"] for r in result["arms"]] == ["B", "C", "A", "random"]  # baseline in the table, last here
    assert [r["rank"] for r in result["arms"]] == [1, 2, 3, 4]
    assert result["ranking"] == ["B", "C", "A"]  # ...but not in the ranking
    assert rows["A"]["mean"] == pytest.approx(1.95) and rows["A"]["std"] == pytest.approx(math.sqrt(0.005))
    assert rows["B"]["mean"] == pytest.approx(1.2) and rows["B"]["std"] == pytest.approx(math.sqrt(0.08))
    assert rows["C"]["mean"] == pytest.approx(1.9) and rows["C"]["std"] == pytest.approx(math.sqrt(0.98))
    assert rows["random"]["std"] == pytest.approx(math.sqrt(0.5)) and rows["random"]["n"] == 2
    assert rows["B"]["delta"] == pytest.approx(-1.3)
    assert rows["B"]["delta_baseline_std"] == pytest.approx(-1.3 / math.sqrt(0.5))
    assert rows["A"]["delta_baseline_std"] == pytest.approx(-0.55 / math.sqrt(0.5))
    # seed std pooled over the four arms (one degree of freedom each): sqrt((0.005 + 0.08 + 0.98 + 0.5) / 4)
    pooled = math.sqrt(1.565 / 4)
    assert result["pooled_std"] == pytest.approx(pooled) and result["pooled_std_dof"] == 4
    assert rows["B"]["delta_pooled_std"] == pytest.approx(-1.3 / pooled)
    assert rows["C"]["delta_pooled_std"] == pytest.approx(-0.6 / pooled)
    assert rows["B"]["beats_baseline"] is True and rows["random"]["beats_baseline"] is None
    assert rows["random"]["delta"] == 0.0 and rows["random"]["is_baseline"] is True
    # per-seed rankings: seed 0 B<A<C<random, seed 1 C<B<A<random
    assert result["per_seed"] == {"0": ["B", "A", "C", "random"], "1": ["C", "B", "A", "random"]}
    # over B, C, A, random: (B,C) D, (B,A) C, (B,r) C, (C,A) D, (C,r) C, (A,r) C -> (4 - 2) / 6
    kt = result["kendall_tau"]
    assert kt["seeds"] == [0, 1] and kt["n_arms"] == 4
    assert kt["tau"] == pytest.approx(1 / 3) and kt["mean_pairwise"] == pytest.approx(1 / 3)

    table = list(csv.DictReader(io.StringIO((tmp_path / "rank/ranking.csv").read_text())))
    assert [r["arm"] for r in table] == ["B", "C", "A", "random"]
    assert float(table[0]["mean"]) == pytest.approx(1.2) and table[0]["pool"] == "pools/b.jsonl"
    md = (tmp_path / "rank/ranking.md").read_text()
    assert "| 1 | B | 1.2000 ± 0.2828 | 2 | -1.3000 | -1.84 | -2.08 | -1.31 | `pools/b.jsonl` |" in md
    assert "| 4 | random (baseline) | 2.5000 ± 0.7071 | 2 |  |  |  |  |" in md
    assert "combined std pooled over all arms (0.6255, 4 degrees of freedom; includes training seed)" in md
    assert result["variance_sources"] == ["training seed"] and result["combined_std"] == pytest.approx(pooled)
    assert "Kendall τ between the rankings of seed 0 and seed 1: +0.333 (4 arms)." in md and "seed pairs" not in md


def test_three_seeds_mean_pairwise_tau():
    ev = [_ev("X", 0, 1), _ev("X", 1, 1), _ev("X", 2, 3),
          _ev("Y", 0, 2), _ev("Y", 1, 3), _ev("Y", 2, 1),
          _ev("Z", 0, 3), _ev("Z", 1, 2), _ev("Z", 2, 2)]
    result = compute_arm_ranking({"evaluations": ev})
    kt = result["kendall_tau"]
    # (0,1): [1,2,3] vs [1,3,2] = 1/3; (0,2): [1,2,3] vs [3,1,2] = -1/3; (1,2): [1,3,2] vs [3,1,2] = -1
    assert [p["tau"] for p in kt["pairs"]] == pytest.approx([1 / 3, -1 / 3, -1.0])
    assert kt["tau"] == pytest.approx(1 / 3) and kt["mean_pairwise"] == pytest.approx(-1 / 3)
    assert result["ranking"] == ["X", "Y", "Z"]  # means 5/3, 2, 7/3
    assert result["baseline"] is None and result["arms"][0]["delta"] is None
    md = "\n".join(ranking_markdown(result))
    assert "seed 0 and seed 1: +0.333 (3 arms); mean over all 3 seed pairs: -0.333." in md


def test_one_seed_ties_maximize_and_pool_from_evaluations():
    ev = [{"arm": "p", "acc": 0.5, "pool": "p.jsonl"}, {"arm": "q", "acc": 0.7, "pool": "q.jsonl"},
          {"arm": "r", "acc": 0.5, "pool": "r.jsonl"}, {"arm": "base", "acc": 0.6, "pool": "base.jsonl"}]
    result = compute_arm_ranking({"evaluations": ev, "metric": "acc", "goal": "maximize", "baseline": "base"})
    assert [(r["arm"], r["rank"]) for r in result["arms"]] == [("q", 1), ("base", 2), ("p", 3), ("r", 3)]
    assert all(r["std"] is None and r["n"] == 1 for r in result["arms"])
    q = result["arms"][0]
    assert q["delta"] == pytest.approx(0.1) and q["delta_baseline_std"] is None and q["beats_baseline"] is True
    assert result["arms"][2]["beats_baseline"] is False
    assert result["pooled_std"] is None and q["delta_pooled_std"] is None  # one seed: no seed noise to pool
    assert result["ranked_pools"] == ["q.jsonl", "p.jsonl", "r.jsonl"]
    assert result["kendall_tau"] is None and result["per_seed"] is None
    md = "\n".join(ranking_markdown(result, title="t"))
    assert "acc mean ± std" in md and "higher is better" in md and "| 1 | q | 0.7000 | 1 | +0.1000 |  |" in md


def test_replicates_without_seeds_and_other_input_shapes(tmp_path):
    files = []
    for k, (arm, loss) in enumerate([("a", 1.0), ("b", 2.0), ("a", 3.0), ("b", 1.0)]):
        f = tmp_path / f"m{k}.json"
        f.write_text(json.dumps({"arm": arm, "loss": loss}))
        files.append(str(f))
    result = compute_arm_ranking({"evaluations": files})
    # no seeds: the k-th evaluation of an arm is replicate k; seed 0: a<b, seed 1: b<a -> tau -1
    assert result["per_seed"] == {"0": ["a", "b"], "1": ["b", "a"]}
    assert result["kendall_tau"]["tau"] == pytest.approx(-1.0)
    assert result["arms"][0]["arm"] == "b" and result["arms"][0]["mean"] == pytest.approx(1.5)
    # a mapping {"0": ..., "1": ...} (from extra_configs.evaluations.<i> references) counts as a list
    mapping = {"1": _ev("y", 0, 1.0), "0": _ev("x", 0, 2.0), "10": _ev("z", 0, 0.5)}
    assert arm_ranking({"evaluations": mapping}) == ["z", "y", "x"]
    assert arm_ranking({"evaluations": _ev("solo", 0, 1.0)}) == ["solo"]
    # nested metric, pools index-aligned with evaluations
    nested = [{"arm": "u", "m": {"loss": 2}}, {"arm": "v", "m": {"loss": 1}}]
    assert arm_ranking({"evaluations": nested, "metric": "m.loss", "pools": ["U", "V"]}) == ["V", "U"]


@pytest.mark.parametrize("cfg, key, text", [
    ({"evaluations": EVALS, "baseline": "nope"}, "baseline", "not one of the arms"),
    ({"evaluations": [{"seed": 0, "loss": 1.0}]}, "evaluations", "has no 'arm'"),
    ({"evaluations": [{"arm": "a", "seed": 0}]}, "evaluations", "has no 'loss'"),
    ({"evaluations": [{"arm": "a", "loss": "x"}]}, "evaluations", "not a finite number"),
    ({"evaluations": [{"arm": "a", "loss": float("nan")}]}, "evaluations", "not a finite number"),
    ({"evaluations": [_ev("a", 0, 1.0), _ev("a", 0, 2.0)]}, "evaluations", "two evaluations with seed 0"),
    ({"evaluations": [_ev("a", 0, 1.0), {"arm": "a", "loss": 2.0}]}, "evaluations", "no 'seed' while others do"),
    ({"evaluations": EVALS, "pools": ["a"]}, "pools", "index-aligned"),
    ({"evaluations": []}, "evaluations", "non-empty"),
    ({"evaluations": "missing.json"}, "evaluations", "not an existing JSON metrics file"),
    ({"evaluations": [3]}, "evaluations", "must be a metrics dict"),
    ({"evaluations": EVALS, "goal": "down"}, "goal", "must be one of"),
    ({"evaluations": EVALS, "top_n": 0}, "top_n", ">= 1"),
    ({"evaluations": EVALS, "basline": "random"}, "basline", "did you mean 'baseline'"),
])
def test_arm_ranking_errors_name_the_key(cfg, key, text):
    with pytest.raises(ComponentConfigError) as err:
        arm_ranking(cfg)
    assert err.value.key == key and text in str(err.value)


# -- ranking_agreement ---------------------------------------------------------------------------------------------
def test_ranking_agreement_lists(tmp_path):
    cfg = {"ranking_a": ["a", "b", "c", "d"], "ranking_b": ["b", "a", "c", "e"], "export_path": str(tmp_path)}
    # common a, b, c: positions (0,1,2) vs (1,0,2): (a,b) D, (a,c) C, (b,c) C -> 1/3
    assert ranking_agreement(cfg) == pytest.approx(1 / 3)
    out = json.loads((tmp_path / "agreement.json").read_text())
    assert out["common"] == ["a", "b", "c"] and out["n_common"] == 3
    assert out["only_in_a"] == ["d"] and out["only_in_b"] == ["e"]
    assert ranking_agreement({"ranking_a": ["a", "b"], "ranking_b": ["a", "b"]}) == pytest.approx(1.0)


def test_ranking_agreement_from_ranking_files(tmp_path):
    small = [_ev("A", 0, 2.0), _ev("B", 0, 1.0), _ev("C", 0, 1.0), _ev("random", 0, 3.0)]
    large = [_ev("A", 0, 1.5), _ev("B", 0, 0.9), _ev("C", 0, 1.2), _ev("random", 0, 1.0)]
    arm_ranking({"evaluations": small, "baseline": "random", "export_path": str(tmp_path / "s")})
    arm_ranking({"evaluations": large, "baseline": "random", "export_path": str(tmp_path / "l")})
    # scores from the means (B and C tie in small); over B, C, A, random:
    # small -loss (-1,-1,-2,-3), large (-0.9,-1.2,-1.5,-1.0): (B,C) tie x, (B,A) C, (B,r) C, (C,A) C, (C,r) D,
    # (A,r) D -> (3 - 2) / sqrt((6 - 1)(6 - 0))
    tau = ranking_agreement({"ranking_a": str(tmp_path / "s/ranking.json"),
                             "ranking_b": str(tmp_path / "l/ranking.json")})
    assert tau == pytest.approx(1 / math.sqrt(30))
    # a ranking file against a plain list (names best first)
    assert ranking_agreement({"ranking_a": str(tmp_path / "l/ranking.json"),
                              "ranking_b": ["B", "random", "C", "A"]}) == pytest.approx(1.0)


@pytest.mark.parametrize("cfg, key, text", [
    ({"ranking_a": ["a", "b"], "ranking_b": ["a", "c"]}, "ranking_b", "share 1 item"),
    ({"ranking_a": ["a", "a"], "ranking_b": ["a", "b"]}, "ranking_a", "twice"),
    ({"ranking_a": "nope.json", "ranking_b": ["a", "b"]}, "ranking_a", "not an existing ranking.json"),
    ({"ranking_b": ["a", "b"]}, "ranking_a", "is required"),
    ({"ranking_a": [{"x": 1}], "ranking_b": ["a", "b"]}, "ranking_a", "list of names"),
])
def test_ranking_agreement_errors(cfg, key, text):
    with pytest.raises(ComponentConfigError) as err:
        ranking_agreement(cfg)
    assert err.value.key == key and text in str(err.value)


def test_ranking_agreement_rejects_a_list_file(tmp_path):
    f = tmp_path / "ranking.json"
    f.write_text(json.dumps({"not": "arms"}))
    with pytest.raises(ComponentConfigError, match="no 'arms' table"):
        ranking_agreement({"ranking_a": str(f), "ranking_b": ["a", "b"]})


def _tau_b_by_definition(x, y):
    """Kendall's tau-b counted pair by pair, as in the textbook definition."""
    n = len(x)
    p = q = tx = ty = 0
    for i in range(n):
        for j in range(i + 1, n):
            a, b = x[i] - x[j], y[i] - y[j]
            if a == 0:
                tx += 1
            if b == 0:
                ty += 1
            if a * b > 0:
                p += 1
            elif a * b < 0:
                q += 1
    n0 = n * (n - 1) // 2
    return (p - q) / math.sqrt((n0 - tx) * (n0 - ty))


def test_kendall_tau_matches_the_definition_on_random_ties():
    import random

    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(2, 9)
        x = [rng.randint(0, 3) for _ in range(n)]
        y = [rng.randint(0, 3) for _ in range(n)]
        if len(set(x)) < 2 or len(set(y)) < 2:
            assert kendall_tau(x, y) is None
            continue
        assert kendall_tau(x, y) == pytest.approx(_tau_b_by_definition(x, y))


def test_ranking_agreement_from_job_directories(tmp_path):
    """`<pipeline>.rank.__artifacts__`: the directory of an arm_ranking job; the hook's ranking.json there is the
    ranked list, so the ranking is recomputed from the resolved config the runner keeps next to it."""
    def job_dir(name, evaluations, exported=False):
        d = tmp_path / name
        d.mkdir()
        cfg = {"type": "arm_ranking", "evaluations": evaluations, "baseline": "random", "export_path": None}
        (d / "resolved_config.json").write_text(json.dumps({"dj_configs": None, "extra_configs": cfg}))
        (d / "ranking.json").write_text(json.dumps(["pools/whatever.jsonl"]))  # what the hook writes
        if exported:
            arm_ranking({**cfg, "export_path": str(d / "export")})
        return str(d)

    big = job_dir("big", [_ev("A", 0, 1.0), _ev("B", 0, 2.0), _ev("random", 0, 3.0)], exported=True)
    small = job_dir("small", [_ev("A", 0, 2.5), _ev("B", 0, 2.0), _ev("random", 0, 3.0)])
    # A, B, random: big (-1, -2, -3), small (-2.5, -2, -3): (A,B) D, (A,r) C, (B,r) C -> 1/3
    assert ranking_agreement({"ranking_a": big, "ranking_b": small}) == pytest.approx(1 / 3)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ComponentConfigError, match="holds no ranking"):
        ranking_agreement({"ranking_a": str(empty), "ranking_b": small})


def test_one_per_group_keeps_the_best_arm_of_each_group():
    from juicer_sandbox.components.experiment import compute_arm_ranking

    evals = [{"arm": a, "seed": 0, "loss": v, "pool": f"/p/{a}"} for a, v in
             [("text_len_0", 5.0), ("text_len_2", 4.0), ("alnum_ratio_1", 4.5), ("random", 6.0)]]
    res = compute_arm_ranking({"evaluations": evals, "baseline": "random", "one_per_group": True})
    assert res["ranked_pools"] == ["/p/text_len_2", "/p/alnum_ratio_1"]
    assert res["ranking"] == ["text_len_2", "alnum_ratio_1", "text_len_0"]  # the table keeps every arm
