"""The data-driven refinement signals: reference perplexity (CCNet-style), the stats + n-gram quality classifier
and threshold_search (real Data-Juicer, torch and Optuna, tiny sizes)."""
from __future__ import annotations

import base64
import json
import random

import numpy as np
import pytest

from juicer_sandbox.components.ksigma import refine_from_stats
from juicer_sandbox.components.model_feedback import loss_threshold
from juicer_sandbox.components.reference_perplexity import HELDOUT_FILE, score_with_reference
from juicer_sandbox.core.names import DJ_STATS
from juicer_sandbox.io import iter_jsonl
from juicer_sandbox.models.ngram_lm import NgramLM, train_ngram_lm
from juicer_sandbox.models.stat_quality import auc, train_with_auc

WORDS = ("the data model sandbox recipe filter quality text of and to in is that for with as on by this are be it "
         "from an which was can were has its one all more").split()


def _prose(rng: random.Random, n: int = 40) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _blob(rng: random.Random) -> str:
    return base64.b64encode(bytes(rng.randrange(256) for _ in range(120))).decode()


def _write(path, texts, stats=None):
    with open(path, "w") as fh:
        for i, t in enumerate(texts):
            row = {"text": t}
            if stats is not None:
                row[DJ_STATS] = stats[i]
            fh.write(json.dumps(row) + "\n")
    return str(path)


def test_ngram_lm_prefers_reference_like_text_and_round_trips(tmp_path):
    rng = random.Random(0)
    model = train_ngram_lm([_prose(rng) for _ in range(200)], order=3)
    prose, blob = model.doc_losses([_prose(rng), _blob(rng)])
    assert prose < blob - 1.0
    path = model.save(tmp_path / "lm.npz")
    probe = ["hello world", _blob(rng)]
    assert NgramLM.load(path).doc_losses(probe) == model.doc_losses(probe)
    # the probabilities over the vocabulary sum to one for a seen history (interpolation is a distribution)
    hist = np.array([[256, 256, w] for w in range(model.vocab)])
    assert model._prob(hist).sum() == pytest.approx(1.0, abs=1e-9)


def test_reference_perplexity_stat_drives_k_sigma_pools_and_model_feedback(tmp_path):
    rng = random.Random(1)
    ref = _write(tmp_path / "ref.jsonl", [_prose(rng) for _ in range(300)])
    texts = [_prose(rng) for _ in range(60)] + [_blob(rng) for _ in range(40)]
    data = _write(tmp_path / "raw.jsonl", texts)
    info = score_with_reference(data, ref, tmp_path / "scored.jsonl", tmp_path, order=3)
    assert info["num_samples"] == 100 and info["heldout_docs"] > 0 and info["reference_docs"] > 200
    rows = list(iter_jsonl(tmp_path / "scored.jsonl"))
    losses = np.array([r[DJ_STATS]["ref_loss"] for r in rows])
    assert losses[:60].max() < losses[60:].min()  # every prose doc scores better than every blob
    assert all(r[DJ_STATS]["ref_perplexity"] == pytest.approx(np.exp(r[DJ_STATS]["ref_loss"])) for r in rows)
    assert (tmp_path / HELDOUT_FILE).exists()
    # model feedback: the held-out reference's 0.9 quantile keeps the prose and drops the blobs
    recipe, fb = loss_threshold({}, {"dataset_path": str(tmp_path / "scored.jsonl"), "stat": "ref_loss",
                                     "reference_path": str(tmp_path)})
    op = recipe["process"][-1]["specified_numeric_field_filter"]
    assert op["field_key"] == f"{DJ_STATS}.ref_loss" and fb["expected_kept"] == int((losses <= op["max_value"]).sum())
    assert 50 <= fb["expected_kept"] <= 60
    # k-sigma bounds the same stat through specified_numeric_field_filter
    ks_recipe = {"process": [{"specified_numeric_field_filter": {"field_key": f"{DJ_STATS}.ref_loss",
                                                                  "max_value": 100.0}}]}
    refined, changes = refine_from_stats(ks_recipe, [r[DJ_STATS] for r in rows], k=1)
    args = refined["process"][0]["specified_numeric_field_filter"]
    assert args["max_value"] == pytest.approx(losses.mean() + losses.std(ddof=1))
    assert {c["arg"] for c in changes if c["action"] == "set"} == {"min_value", "max_value"}
    # pools: CCNet's head / middle / tail are the thirds of the stat
    from juicer_sandbox.components.pools import MANIPULATORS

    head, _, tail = MANIPULATORS["data_pool_construction"]({
        "dataset_path": str(tmp_path / "scored.jsonl"), "export_path": str(tmp_path / "pools"), "stats": ["ref_loss"]})
    head_texts = {r["text"] for r in iter_jsonl(head)}
    assert len(head_texts) == 33 and head_texts <= set(texts[:60])  # the head is all prose
    assert {r["text"] for r in iter_jsonl(tail)} <= set(texts[60:])  # the tail is all blobs


def test_auc_math():
    assert auc([3, 4], [1, 2]) == 1.0
    assert auc([1, 2], [3, 4]) == 0.0
    assert auc([1, 3], [2, 2]) == pytest.approx(0.5)  # one win, one loss over two pairs each
    assert auc([2], [2]) == pytest.approx(0.5)        # a tie counts one half


def test_stats_classifier_separates_a_separable_set():
    rng = random.Random(2)
    pos = [(_prose(rng), {"alnum_ratio": rng.uniform(0.75, 0.85), "text_len": rng.uniform(200, 300)})
           for _ in range(150)]
    neg = [(_blob(rng), {"alnum_ratio": rng.uniform(0.5, 0.7), "text_len": rng.uniform(150, 170)})
           for _ in range(150)]
    model, info = train_with_auc(pos, neg, ["alnum_ratio", "text_len"], n_features=2**12, iterations=100)
    assert info["auc_heldout"] > 0.98 and info["heldout_reference"] > 0 and info["heldout_raw"] > 0
    # the stat features alone carry the signal: same texts, stats swapped -> the scores follow the stats
    text = _prose(rng)
    clean = model.score([text], [{"alnum_ratio": 0.8, "text_len": 250}])[0]
    dirty = model.score([text], [{"alnum_ratio": 0.6, "text_len": 160}])[0]
    assert clean > dirty


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    """~160 docs probed by Data-Juicer's own ops (real stats), a reference set and a tokenizer."""
    from juicer_sandbox.dj.engine import compute_stats
    from juicer_sandbox.models.tokenizer import train_tokenizer

    tmp = tmp_path_factory.mktemp("probed")
    rng = random.Random(3)
    texts = [_prose(rng, rng.randrange(10, 80)) for _ in range(100)] + [_blob(rng) for _ in range(30)] + \
        ["x" * rng.randrange(5, 40) for _ in range(30)]
    raw = _write(tmp / "raw.jsonl", texts)
    recipe = {"dataset_path": raw, "text_keys": "text", "np": 1,
              "process": [{"alphanumeric_filter": {"min_ratio": 0.25}},
                          {"character_repetition_filter": {"max_ratio": 0.5}},
                          {"words_num_filter": {"min_num": 10}}]}
    compute_stats(recipe, tmp / "dj", tmp / "probed.jsonl", np=1)
    ref = _write(tmp / "ref.jsonl", [_prose(rng) for _ in range(80)])
    tok = train_tokenizer(texts, 300, tmp / "tokenizer.json")
    return {"recipe": recipe, "probed": str(tmp / "probed.jsonl"), "ref": ref, "tok": tok, "tmp": tmp}


def test_threshold_search_returns_a_valid_data_juicer_recipe(probed):
    from juicer_sandbox.components.threshold_search import threshold_search
    from juicer_sandbox.dj.engine import filter_with_stored_stats
    from juicer_sandbox.dj.recipe import validate_recipe

    recipe, info = threshold_search(probed["recipe"], {
        "dataset_path": probed["probed"], "reference_path": probed["ref"], "tokenizer_path": probed["tok"],
        "trials": 3, "search_tokens": 4096, "validate_tokens": 8192, "eval_tokens": 4000, "seed": 0,
        "model": {"n_layer": 1, "d_model": 32, "n_head": 2, "context": 32, "batch_size": 8}})
    validate_recipe(recipe, "threshold_search")  # op names and argument types Data-Juicer accepts
    assert recipe["dataset_path"] == probed["probed"]
    assert [list(op)[0] for op in recipe["process"]] == [list(op)[0] for op in probed["recipe"]["process"]]
    assert info["searched"] == ["alphanumeric_filter.min_ratio", "character_repetition_filter.max_ratio",
                                "words_num_filter.min_num"]
    assert len(info["trials"]) == 3 and info["validation"]["returned"] in ("best", "given")
    assert isinstance(recipe["process"][2]["words_num_filter"]["min_num"], int)
    # Data-Juicer's own filters, on the stored stats, keep what the search expected
    n_in, kept = filter_with_stored_stats(recipe, probed["tmp"] / "kept.jsonl")
    assert n_in == 160 and kept == info["expected_kept"]


@pytest.fixture(scope="module")
def probed_reference(probed):
    """The reference probed with the same recipe (real Data-Juicer stats), as reference_bounds reads it."""
    from juicer_sandbox.dj.engine import compute_stats

    out = probed["tmp"] / "ref_probed.jsonl"
    compute_stats({**probed["recipe"], "dataset_path": probed["ref"]}, probed["tmp"] / "dj_ref", out, np=1)
    return str(out)


def test_reference_bounds_keep_the_reference_share_and_drop_dirt(probed, probed_reference):
    from juicer_sandbox.components.model_feedback import METHODS
    from juicer_sandbox.dj.engine import filter_with_stored_stats
    from juicer_sandbox.dj.recipe import validate_recipe

    recipe, info = METHODS["reference_bounds"](probed["recipe"], {
        "dataset_path": probed["probed"], "reference_path": probed_reference, "reference_quantile": 0.9})
    validate_recipe(recipe, "reference_bounds")
    assert 0.9 <= info["reference_kept"] < 1.0 and info["reference_docs"] == 80
    # every bound of the three ops is set (both sides), from the reference, not the recipe's values
    assert set(info["bounds"]) == {"alphanumeric_filter.min_ratio", "alphanumeric_filter.max_ratio",
                                   "character_repetition_filter.min_ratio", "character_repetition_filter.max_ratio",
                                   "words_num_filter.min_num", "words_num_filter.max_num"}
    assert recipe["process"][0]["alphanumeric_filter"]["min_ratio"] > 0.25
    n_in, kept = filter_with_stored_stats(recipe, probed["tmp"] / "ref_bounds_kept.jsonl")
    assert n_in == 160 and kept == info["expected_kept"]
    texts = [r["text"] for r in iter_jsonl(probed["tmp"] / "ref_bounds_kept.jsonl")]
    assert texts and all(" " in t for t in texts)  # no blob, no character run survives
    # a stricter share keeps less of the reference and of the data
    _, strict = METHODS["reference_bounds"](probed["recipe"], {
        "dataset_path": probed["probed"], "reference_path": probed_reference, "reference_quantile": 0.5})
    assert strict["reference_kept"] < info["reference_kept"] and strict["expected_kept"] < info["expected_kept"]


def test_stats_classifier_keep_rule_is_calibrated_on_the_held_out_reference(probed, probed_reference, tmp_path):
    from juicer_sandbox.components.data_quality import stats_quality_classifier
    from juicer_sandbox.models.stat_quality import _heldout

    scored, info = stats_quality_classifier({"dataset_path": probed["probed"], "reference_path": probed_reference,
                                             "export_path": str(tmp_path), "seed": 0})
    assert info["threshold"] == info["reference_threshold"] and info["reference_keep"] == 0.9
    model_scores = {r["text"]: r[DJ_STATS]["quality_score"] for r in iter_jsonl(scored)}
    kept = [r["text"] for r in iter_jsonl(tmp_path / "kept.jsonl")]
    assert len(kept) == info["kept"] and all(model_scores[t] >= info["threshold"] for t in kept)
    # the threshold keeps about 0.9 of the held-out reference (the same hash split as the AUC)
    from juicer_sandbox.models.stat_quality import StatQualityClassifier

    model = StatQualityClassifier.load(tmp_path / "stat_quality_classifier.npz")
    held = [r for r in iter_jsonl(probed_reference) if _heldout(r["text"], 0.2)]
    share = float(np.mean(model.score([r["text"] for r in held], [r[DJ_STATS] for r in held]) >= info["threshold"]))
    assert len(held) >= 8 and 0.8 <= share <= 1.0
    # an explicit threshold still wins
    _, fixed = stats_quality_classifier({"dataset_path": probed["probed"], "reference_path": probed_reference,
                                         "export_path": str(tmp_path / "fixed"), "seed": 0, "threshold": 0.99})
    assert fixed["threshold"] == 0.99 and fixed["kept"] <= info["kept"]
