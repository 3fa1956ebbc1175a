"""COCO caption metrics: hand-computed values, the reference implementation's values, the tokenizer, the component."""
from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from juicer_sandbox.components.caption_metrics import (ALL_METRICS, bleu, cider, coco_caption_metrics, meteor,
                                                       rouge_l, score_captions)
from juicer_sandbox.components.ptb_tokenizer import PUNCTUATIONS, ptb_tokens, tokenize_caption
from juicer_sandbox.errors import ConfigError, SandboxError

sys.path.insert(0, str(Path(__file__).parent))
from coco_caption_fixture import PREDICTIONS, REFERENCES  # noqa: E402

#: pycocoevalcap 1.2 (Java PTBTokenizer, METEOR 1.5 jar) on the fixture, recorded with the oracle below
REFERENCE_SCORES = {
    "Bleu_1": 0.8586820970716159, "Bleu_2": 0.7717537781059748, "Bleu_3": 0.6288069217628147,
    "Bleu_4": 0.5013449426239818, "METEOR": 0.34716153964960883, "ROUGE_L": 0.7099696595271435,
    "CIDEr": 2.1974100685736198,
}
TOKENIZER_CASES = [  # expected outputs are the Java PTBTokenizer's (CoreNLP 3.4.1, -preserveLines -lowerCase)
    ("A man riding a wave on top of a surfboard.", "a man riding a wave on top of a surfboard ."),
    ("Two dogs don't like the cat's toy, can't they?", "two dogs do n't like the cat 's toy , ca n't they ?"),
    ('The "big" bus (red) is nice...', "the `` big '' bus -lrb- red -rrb- is nice ..."),
    ("3.5 kids, 1,000 birds at 5:30 p.m. U.S. Mr. Smith", "3.5 kids , 1,000 birds at 5:30 p.m. u.s. mr. smith"),
    ("I'm we're they'll she'd you've cannot gonna", "i 'm we 're they 'll she 'd you 've can not gon na"),
    ("don’t “curly” — dash … end", "do n't `` curly '' -- dash ... end"),
    ("cost $5.00 or £3 or 50% off", "cost $ 5.00 or # 3 or 50 % off"),
    ("AT&T at&t x*y c\\d a=b", "at&t at & t x * y c \\ d a = b"),
    ("hello!!! wow?! the dogs' bowls", "hello !!! wow ?! the dogs ' bowls"),
    ("word.another the end. 1.5. co.", "word.another the end . 1.5 . co."),
    ("black-and-white e-mail a/b '90s 3rd", "black-and-white e-mail a/b '90s 3rd"),
    ("Fred L. and Rev. Jones: a.m. __init__ **kw", "fred l. and rev. jones : a.m. __ init __ ** kw"),
]
REFERENCE_CIDER_EACH = [3.149369011085, 2.361054098154, 2.07884693724, 2.19860150097, 1.871426120194,
                        2.387917253462, 2.694279214482, 2.743008094511, 0.003216993877, 2.486381461761]


# -- hand-computed -----------------------------------------------------------------------------------------------
def test_bleu_by_hand():
    gts, res = {"a": ["a b c e", "x y"]}, {"a": ["a b c d"]}
    corpus, each = bleu(gts, res)
    # unigrams 3/4 match, bigrams (ab, bc, cd) 2/3, trigrams (abc, bcd) 1/2, 4-gram 0/1; closest ref length 4
    assert corpus[0] == pytest.approx(3 / 4, abs=1e-9)
    assert corpus[1] == pytest.approx(math.sqrt(3 / 4 * 2 / 3), abs=1e-9)
    assert corpus[2] == pytest.approx((3 / 4 * 2 / 3 * 1 / 2) ** (1 / 3), abs=1e-9)
    assert corpus[3] < 1e-3  # no 4-gram match: only the reference's 1e-15 smoothing is left
    assert [e[0] for e in each] == corpus  # one image: per-image = corpus


def test_bleu_brevity_penalty_and_closest_length():
    # hypothesis of 2 tokens; references of 3 and 6 tokens: the closest is 3 -> BP = exp(1 - 3/2)
    corpus, _ = bleu({"a": ["a b c", "a b c d e f"]}, {"a": ["a b"]})
    assert corpus[0] == pytest.approx(math.exp(1 - 3 / 2), abs=1e-9)
    # equal distance (2 tokens vs 1 and 3): ties go to the shorter reference -> no penalty (1 of 2 unigrams match)
    corpus, _ = bleu({"a": ["x", "a q c"]}, {"a": ["a b"]})
    assert corpus[0] == pytest.approx(1 / 2, abs=1e-9)


def test_rouge_l_by_hand():
    # LCS(a b c d, a c d e) = 3; P = 3/4 and R = 3/4 -> F = 3/4; second image LCS 1, P = 1/2, R = 1/3
    score, each = rouge_l({"1": ["a c d e"], "2": ["x q r"]}, {"1": ["a b c d"], "2": ["x y"]})
    p, r = 1 / 2, 1 / 3
    f2 = (1 + 1.2 ** 2) * p * r / (r + 1.2 ** 2 * p)
    assert each == pytest.approx([3 / 4, f2], abs=1e-12)
    assert score == pytest.approx((3 / 4 + f2) / 2, abs=1e-12)


def test_cider_by_hand():
    # Two images. A: hypothesis equals its reference; every n-gram has df 1 -> weight log 2, cosine 1 for n=1,2,
    # no 3-/4-grams -> (1 + 1 + 0 + 0) / 4 * 10 = 5. B: hypothesis "c e" vs "c d": unigram cosine 1/2 ("e" appears in
    # no reference: df clipped to 1), no bigram match -> 0.5 / 4 * 10 = 1.25.
    score, each = cider({"A": ["a b"], "B": ["c d"]}, {"A": ["a b"], "B": ["c e"]})
    assert each == pytest.approx([5.0, 1.25], abs=1e-12)
    assert score == pytest.approx(3.125, abs=1e-12)


def test_cider_length_penalty_and_single_image():
    # one image: idf = log(1) - log(1) = 0 for everything, so CIDEr is 0 (as in the reference)
    assert cider({"A": ["a b c"]}, {"A": ["a b c"]})[0] == 0.0
    # a longer hypothesis is penalised by exp(-(bigram-count difference)^2 / 72)
    short = cider({"A": ["a b"], "B": ["c d"]}, {"A": ["a b"], "B": ["c d"]})[1][0]
    longer = cider({"A": ["a b"], "B": ["c d"]}, {"A": ["a b a b a b a b"], "B": ["c d"]})[1][0]
    assert 0 < longer < short


# -- the reference implementation's values ----------------------------------------------------------------------
def test_fixture_matches_recorded_reference_values():
    scores, per_image = score_captions(REFERENCES, PREDICTIONS, [m for m in ALL_METRICS if m != "METEOR"])
    for name, value in scores.items():
        assert value == pytest.approx(REFERENCE_SCORES[name], abs=1e-9), name
    assert [row["CIDEr"] for row in per_image] == pytest.approx(REFERENCE_CIDER_EACH, abs=1e-9)


_ORACLE = r"""
import json, sys
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.cider.cider import Cider
data = json.load(sys.stdin)
tok = PTBTokenizer()
gts = tok.tokenize({k: [{"caption": c} for c in v] for k, v in data["refs"].items()})
res = tok.tokenize({k: [{"caption": data["preds"][k]}] for k in data["refs"]})
out = {"gts": gts, "res": res, "texts": tok.tokenize({str(i): [{"caption": t}] for i, t in enumerate(data["texts"])})}
b, bi = Bleu(4).compute_score(gts, res, verbose=0)
for k in range(4):
    out[f"Bleu_{k+1}"] = [b[k], bi[k]]
for name, scorer in (("METEOR", Meteor), ("ROUGE_L", Rouge), ("CIDEr", Cider)):
    s, each = scorer().compute_score(gts, res)
    out[name] = [float(s), [float(x) for x in each]]
import os, pycocoevalcap.meteor.meteor as m
out["jar"] = os.path.join(os.path.dirname(m.__file__), "meteor-1.5.jar")
print(json.dumps(out))
"""


def _oracle_python() -> str | None:
    if importlib.util.find_spec("pycocoevalcap"):
        return sys.executable
    return os.environ.get("PYCOCOEVALCAP_PYTHON")  # a throwaway venv with `pip install pycocoevalcap`


@pytest.mark.skipif(shutil.which("java") is None, reason="the reference (pycocoevalcap) needs Java")
@pytest.mark.skipif(_oracle_python() is None, reason="pycocoevalcap is not installed (pip install pycocoevalcap, or "
                    "set PYCOCOEVALCAP_PYTHON to a Python that has it)")
def test_equal_to_pycocoevalcap_live():
    texts = [text for text, _ in TOKENIZER_CASES]
    data = json.dumps({"refs": REFERENCES, "preds": PREDICTIONS, "texts": texts})
    proc = subprocess.run([_oracle_python(), "-c", _ORACLE], input=data, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ref = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in REFERENCES:  # the Python tokenizer gives the Java tokenizer's output on every caption
        assert [tokenize_caption(c) for c in REFERENCES[key]] == ref["gts"][key]
        assert [tokenize_caption(PREDICTIONS[key])] == ref["res"][key]
    assert [tokenize_caption(t) for t in texts] == [ref["texts"][str(i)][0] for i in range(len(texts))]
    scores, per_image = score_captions(REFERENCES, PREDICTIONS, ALL_METRICS, meteor_jar=ref["jar"])
    for name in ALL_METRICS:  # METEOR is the same jar, so the same tolerance holds
        corpus, each = ref[name]
        assert scores[name] == pytest.approx(corpus, abs=1e-9), name
        assert [row[name] for row in per_image] == pytest.approx(each, abs=1e-9), name
        assert corpus == pytest.approx(REFERENCE_SCORES[name], abs=1e-9), name  # the recorded values still hold


# -- METEOR without its parts -----------------------------------------------------------------------------------
def test_meteor_without_jar_or_java_is_an_error(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="METEOR jar not found"):
        meteor({"a": ["x"]}, {"a": ["x"]}, jar=str(tmp_path / "missing.jar"))
    jar = tmp_path / "meteor-1.5.jar"
    jar.write_bytes(b"")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxError, match="METEOR needs Java"):
        meteor({"a": ["x"]}, {"a": ["x"]}, jar=str(jar))


# -- tokenizer ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,tokens", TOKENIZER_CASES)
def test_ptb_tokens(text, tokens):
    assert " ".join(ptb_tokens(text)) == tokens


def test_punctuation_removal_keeps_lowercased_brackets_and_bang_runs():
    # the reference's list holds "-LRB-" in upper case while the tokenizer lower-cases: brackets survive
    tokens = tokenize_caption("A (red) bus, stopped; here -- ok!!! \"yes\"")
    assert tokens == "a -lrb- red -rrb- bus stopped here ok !!! yes"
    assert "-LRB-" in PUNCTUATIONS and "-lrb-" not in PUNCTUATIONS
    assert tokenize_caption("line one\nline two.") == "line one line two"


# -- the component -----------------------------------------------------------------------------------------------
def _write_files(tmp_path: Path) -> tuple[Path, Path]:
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"image_id": int(k), "caption": "<__dj__image> " + v}) + "\n"
                             for k, v in PREDICTIONS.items()))
    refs = tmp_path / "captions_val.json"
    anns = [{"id": i, "image_id": int(k), "caption": c}
            for i, (k, c) in enumerate((k, c) for k, cs in REFERENCES.items() for c in cs)]
    refs.write_text(json.dumps({"images": [{"id": int(k)} for k in REFERENCES], "annotations": anns}))
    return preds, refs


def test_component_on_files(tmp_path):
    preds, refs = _write_files(tmp_path)
    export = tmp_path / "export"
    export.mkdir()
    metrics = [m for m in ALL_METRICS if m != "METEOR"]
    out = coco_caption_metrics({"predicted_dataset_path": str(preds), "ground_truth_dataset_path": [str(refs)],
                                "metrics": metrics, "export_path": str(export), "arm": "refined"})
    for name in metrics:
        assert out[name] == pytest.approx(REFERENCE_SCORES[name], abs=1e-9)
    assert out["avg_score"] == pytest.approx(sum(REFERENCE_SCORES[m] for m in metrics) / len(metrics))
    assert out["num_images"] == 10 and out["arm"] == "refined" and "METEOR" not in out
    rows = [json.loads(line) for line in (export / "caption_scores.jsonl").read_text().splitlines()]
    assert [r["image_id"] for r in rows] == list(range(1, 11))
    assert json.loads((export / "metrics.json").read_text())["CIDEr"] == out["CIDEr"]
    # references as JSONL with a list of captions per row give the same scores
    refs_jsonl = tmp_path / "refs.jsonl"
    refs_jsonl.write_text("".join(json.dumps({"id": k, "refs": v}) + "\n" for k, v in REFERENCES.items()))
    preds_list = tmp_path / "results.json"
    preds_list.write_text(json.dumps([{"id": k, "text": v} for k, v in PREDICTIONS.items()]))
    again = coco_caption_metrics({"predicted_dataset_path": str(preds_list), "ground_truth_dataset_path":
                                  str(refs_jsonl), "id_key": "id", "predicted_caption_key": "text",
                                  "ground_truth_caption_key": "refs", "metrics": metrics})
    assert {m: again[m] for m in metrics} == pytest.approx({m: out[m] for m in metrics}, abs=1e-12)


def test_component_errors_name_the_place(tmp_path):
    preds, refs = _write_files(tmp_path)
    base = {"predicted_dataset_path": str(preds), "ground_truth_dataset_path": str(refs), "metrics": ["CIDEr"]}
    with pytest.raises(ConfigError, match="metric"):
        coco_caption_metrics({**base, "metrics": ["SPICE"]})
    with pytest.raises(ConfigError, match="unknown key"):
        coco_caption_metrics({**base, "metric": ["CIDEr"]})
    extra = tmp_path / "extra.jsonl"
    extra.write_text(preds.read_text() + json.dumps({"image_id": 99, "caption": "a dog"}) + "\n")
    with pytest.raises(SandboxError, match="no reference caption for image_id 99"):
        coco_caption_metrics({**base, "predicted_dataset_path": str(extra)})
    dup = tmp_path / "dup.jsonl"
    dup.write_text(preds.read_text() + json.dumps({"image_id": 1, "caption": "a dog"}) + "\n")
    with pytest.raises(SandboxError, match=r"dup.jsonl:11: second prediction"):
        coco_caption_metrics({**base, "predicted_dataset_path": str(dup)})
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"image_id": 1, "caption": "x"}\n{"image_id": 2\n')
    with pytest.raises(SandboxError, match=r"bad.jsonl:2: not valid JSON"):
        coco_caption_metrics({**base, "predicted_dataset_path": str(bad)})
    nokey = tmp_path / "nokey.jsonl"
    nokey.write_text('{"image_id": 1, "text": "x"}\n')
    with pytest.raises(SandboxError, match=r"nokey.jsonl:1: missing key 'caption'"):
        coco_caption_metrics({**base, "predicted_dataset_path": str(nokey)})
