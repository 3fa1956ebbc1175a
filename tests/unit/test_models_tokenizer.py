"""Byte-level BPE tokenizer: determinism, special token, streaming encoder."""
from __future__ import annotations

import random

import pytest

from juicer_sandbox.errors import ComponentConfigError, SandboxError
from juicer_sandbox.io import write_jsonl
from juicer_sandbox.models.tokenizer import (
    EOS_TOKEN,
    encode_texts,
    eos_id,
    iter_texts,
    load_tokenizer,
    train_tokenizer,
)

WORDS = ("the a model data sandbox recipe filter keeps drops clean noisy text quickly slowly small large "
         "tokenizer learns merges from bytes and writes them to disk über café").split()


def _texts(n=300, seed=0):
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40))) + "." for _ in range(n)]


def test_training_is_deterministic(tmp_path):
    texts = _texts()
    a = train_tokenizer(texts, 400, tmp_path / "a" / "tokenizer.json")
    b = train_tokenizer(iter(texts), vocab_size=400, out_path=tmp_path / "b.json")
    assert open(a, "rb").read() == open(b, "rb").read()
    # a directory as out_path gets a tokenizer.json inside
    (tmp_path / "d").mkdir()
    c = train_tokenizer(texts, 400, tmp_path / "d")
    assert c.endswith("tokenizer.json") and open(c, "rb").read() == open(a, "rb").read()
    assert load_tokenizer(tmp_path / "d").get_vocab() == load_tokenizer(a).get_vocab()


def test_special_token_and_round_trip(tmp_path):
    path = train_tokenizer(_texts(), 400, tmp_path / "tok.json")
    tok = load_tokenizer(path)
    assert eos_id(tok) == 0 and tok.id_to_token(0) == EOS_TOKEN
    assert tok.get_vocab_size() <= 400
    s = "the café keeps über-clean text — 漢字 🙂"
    assert tok.decode(tok.encode(s).ids) == s  # byte-level: any UTF-8 survives


def test_load_errors(tmp_path):
    with pytest.raises(SandboxError, match="not found"):
        load_tokenizer(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SandboxError, match="cannot load"):
        load_tokenizer(bad)


def test_encode_texts_stream_layout(tmp_path):
    path = train_tokenizer(_texts(), 400, tmp_path / "tok.json")
    tok = load_tokenizer(path)
    docs = ["the model", "", "café data"]
    stream, n_docs, n_bytes = encode_texts(docs, tok)
    assert stream.dtype.name == "uint16"
    assert n_docs == 3 and n_bytes == sum(len(d.encode()) for d in docs)
    ids = stream.tolist()
    assert ids.count(0) == 3 and ids[-1] == 0
    assert ids[: ids.index(0)] == tok.encode("the model").ids
    with_bos, _, _ = encode_texts(docs, tok, bos=True)
    assert with_bos.tolist() == [0] + ids
    # max_tokens keeps whole documents (at least one)
    capped, n, b = encode_texts(docs, tok, max_tokens=len(tok.encode("the model").ids) + 2)
    assert n == 2 and b == len("the model".encode())
    one, n1, _ = encode_texts(["the model " * 20], tok, max_tokens=1)
    assert n1 == 1 and len(one) > 1


def test_iter_texts_missing_key(tmp_path):
    p = tmp_path / "d.jsonl"
    write_jsonl(p, [{"text": "a"}, {"content": "b"}])
    with pytest.raises(ComponentConfigError) as ei:
        list(iter_texts(p, "text"))
    assert ei.value.key == "text_key" and "row 2" in str(ei.value)
