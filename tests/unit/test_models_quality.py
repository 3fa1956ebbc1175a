"""GPT-3-style quality classifier: stable hashing, separation of prose from junk, keep rule, persistence."""
from __future__ import annotations

import base64
import os
import random
import subprocess
import sys
import zlib

import numpy as np
import pytest

import juicer_sandbox

from juicer_sandbox.errors import SandboxError
from juicer_sandbox.models.quality import (
    QualityClassifier,
    gpt3_keep,
    load_quality_classifier,
    save_quality_classifier,
    text_features,
    train_quality_classifier,
)

NOUNS = "river city garden teacher window story market winter letter friend music evening road house child".split()
VERBS = "opened found carried watched remembered crossed painted followed answered visited".split()
ADJS = "old quiet bright narrow warm distant small busy gentle".split()


def prose(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        s = []
        for _ in range(rng.randint(2, 5)):
            s.append(f"The {rng.choice(ADJS)} {rng.choice(NOUNS)} {rng.choice(VERBS)} the {rng.choice(NOUNS)} "
                     f"and it was {rng.choice(ADJS)} in the {rng.choice(NOUNS)}.")
        out.append(" ".join(s))
    return out


def junk(n, seed):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 2:
            out.append(base64.b64encode(rng.randbytes(rng.randint(60, 300))).decode())
        else:
            tags = [f'<div class="{rng.choice(NOUNS)}-{rng.randint(1, 99)}"><a href="/{rng.choice(NOUNS)}.html">'
                    f'{rng.choice(NOUNS)}</a></div>' for _ in range(rng.randint(2, 6))]
            out.append("".join(tags))
    return out


def test_hashing_is_stable_and_not_python_hash():
    start = zlib.crc32(b"juicer-sandbox-quality:0")
    idx, val = text_features("Hello hello world", 2**18, 2, start)
    expected = sorted({zlib.crc32(b"hello", start) & (2**18 - 1), zlib.crc32(b"world", start) & (2**18 - 1),
                       zlib.crc32(b"hello hello", start) & (2**18 - 1),
                       zlib.crc32(b"hello world", start) & (2**18 - 1)})
    assert idx.tolist() == expected
    assert float((val**2).sum()) == pytest.approx(1.0)
    code = ("from juicer_sandbox.models.quality import text_features;"
            "print(text_features('some words here', 2**18, 2, 7)[0].tolist())")
    root = os.path.dirname(os.path.dirname(os.path.abspath(juicer_sandbox.__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**env, "PYTHONHASHSEED": s}).stdout for s in ("1", "2")}
    assert len(outs) == 1


def test_classifier_separates_prose_from_base64_and_html(tmp_path):
    clf = train_quality_classifier(prose(150, 0), prose(50, 1) + junk(150, 2), seed=0, iterations=150)
    clean, dirty = clf.score(prose(60, 10)), clf.score(junk(60, 11))
    assert ((clean >= 0) & (clean <= 1)).all() and ((dirty >= 0) & (dirty <= 1)).all()
    assert clean.min() > dirty.max(), (clean.min(), dirty.max())
    assert clean.mean() > 0.5 > dirty.mean()
    assert clf.meta["train_balanced_accuracy"] > 0.7
    # deterministic and persistent
    again = train_quality_classifier(prose(150, 0), prose(50, 1) + junk(150, 2), seed=0, iterations=150)
    assert np.array_equal(again.weights, clf.weights)
    path = save_quality_classifier(clf, tmp_path / "q" / "clf.npz")
    loaded = load_quality_classifier(path)
    assert isinstance(loaded, QualityClassifier) and loaded.n_features == 2**18 and loaded.ngram == 2
    assert np.allclose(loaded.score(prose(5, 3)), clf.score(prose(5, 3)))
    keep = loaded.keep(prose(40, 4) + junk(40, 5), seed=1)
    assert keep[:40].mean() > 0.9 and keep[40:].mean() < 0.5


def test_gpt3_keep_rule():
    s = np.full(20000, 0.1)
    k1, k2 = gpt3_keep(s, seed=3), gpt3_keep(s, seed=3)
    assert np.array_equal(k1, k2) and k1.dtype == bool
    assert k1.mean() == pytest.approx(1 - 1.1**-9, abs=0.015)  # P(keep | s) = 1 - (1 + s)^-alpha
    assert not gpt3_keep(np.zeros(100)).any()
    assert gpt3_keep(np.ones(2000), seed=0).mean() > 0.99


def test_errors(tmp_path):
    with pytest.raises(SandboxError):
        train_quality_classifier([], ["x"])
    with pytest.raises(SandboxError, match="power of two"):
        train_quality_classifier(["a"], ["b"], n_features=1000)
    with pytest.raises(SandboxError, match="not found"):
        load_quality_classifier(tmp_path / "none.npz")
