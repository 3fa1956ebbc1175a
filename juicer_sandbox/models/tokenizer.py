"""Byte-level BPE tokenizer trained locally (no hub).

One tokenizer is trained on the raw pool and shared by every arm, so that
losses of different arms are comparable. The vocabulary starts with the single
special token ``<|endoftext|>`` (id 0), used both as document separator and as
"beginning of text" for evaluation and generation.

Training is deterministic: the same texts in the same order give a byte-identical
``tokenizer.json``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import SandboxError
from ..io import atomic_path

EOS_TOKEN = "<|endoftext|>"
TOKENIZER_FILE = "tokenizer.json"


def _batched(texts: Iterable[str], n: int = 1000) -> Iterator[list[str]]:
    buf: list[str] = []
    for t in texts:
        if not isinstance(t, str):
            t = "" if t is None else str(t)
        buf.append(t)
        if len(buf) >= n:
            yield buf
            buf = []
    if buf:
        yield buf


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 2048,
    out_path: str | os.PathLike | None = None,
    min_frequency: int = 2,
) -> str:
    """Train a byte-level BPE tokenizer on ``texts`` and write it to ``out_path``.

    ``out_path`` is a ``tokenizer.json`` file (or a directory, which then gets a
    ``tokenizer.json``). The write is atomic. Returns the file path as a string.
    The vocabulary can end up smaller than ``vocab_size`` on a tiny corpus (no
    more pairs reach ``min_frequency``); the model takes its size from the file.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if out_path is None:
        raise TypeError("train_tokenizer() needs out_path")
    if int(vocab_size) < 257 + 1:
        raise SandboxError(f"vocab_size must be at least 258 (256 bytes + {EOS_TOKEN}), got {vocab_size}")
    out = Path(out_path)
    if out.is_dir() or str(out_path).endswith(os.sep):
        out = out / TOKENIZER_FILE

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=int(vocab_size),
        min_frequency=int(min_frequency),
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[EOS_TOKEN],
    )
    tok.train_from_iterator(_batched(texts), trainer=trainer)
    with atomic_path(out, suffix=".json") as tmp:
        tok.save(str(tmp), pretty=False)
    return str(out)


def resolve_tokenizer_file(path: str | os.PathLike) -> Path:
    """A tokenizer.json path from a file path or a directory holding one."""
    p = Path(path)
    if p.is_dir():
        p = p / TOKENIZER_FILE
    if not p.is_file():
        raise SandboxError(f"tokenizer not found: {p}")
    return p


def load_tokenizer(path: str | os.PathLike):
    """Load a ``tokenizers.Tokenizer`` from a tokenizer.json file or a directory holding one."""
    from tokenizers import Tokenizer

    p = resolve_tokenizer_file(path)
    try:
        return Tokenizer.from_file(str(p))
    except Exception as exc:  # a corrupt or foreign file
        raise SandboxError(f"cannot load tokenizer {p}: {exc}") from None


def eos_id(tok) -> int:
    """Id of ``<|endoftext|>`` in ``tok`` (error if the tokenizer lacks it)."""
    i = tok.token_to_id(EOS_TOKEN)
    if i is None:
        raise SandboxError(f"tokenizer has no {EOS_TOKEN} token")
    return int(i)


def save_hf_tokenizer(tokenizer_path: str | os.PathLike, out_dir: str | os.PathLike) -> None:
    """Write the tokenizer into a model directory so ``AutoTokenizer.from_pretrained(out_dir)`` works.

    Falls back to a bare copy of tokenizer.json if transformers cannot wrap it.
    """
    src = resolve_tokenizer_file(tokenizer_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        from transformers import PreTrainedTokenizerFast

        hf = PreTrainedTokenizerFast(
            tokenizer_file=str(src),
            eos_token=EOS_TOKEN,
            bos_token=EOS_TOKEN,
            unk_token=EOS_TOKEN,
            pad_token=EOS_TOKEN,
        )
        hf.save_pretrained(str(out))
    except Exception:  # pragma: no cover - depends on the transformers version
        pass
    # Always keep the exact file we trained with (byte-identical).
    with atomic_path(out / TOKENIZER_FILE, suffix=".json") as tmp:
        tmp.write_bytes(src.read_bytes())


def tokenizer_fingerprint(path: str | os.PathLike) -> str:
    import hashlib

    return hashlib.sha256(resolve_tokenizer_file(path).read_bytes()).hexdigest()[:16]


__all__ = [
    "EOS_TOKEN",
    "TOKENIZER_FILE",
    "train_tokenizer",
    "load_tokenizer",
    "resolve_tokenizer_file",
    "eos_id",
    "save_hf_tokenizer",
    "tokenizer_fingerprint",
    "encode_texts",
    "iter_texts",
]


def encode_texts(
    texts: Iterable[str],
    tok,
    *,
    eos: int | None = None,
    bos: bool = False,
    batch: int = 1000,
    max_tokens: int | None = None,
):
    """Tokenise ``texts`` into ONE flat token stream, streaming (low memory).

    Each document is followed by ``eos`` (``<|endoftext|>`` by default); with
    ``bos=True`` the stream also starts with it, so the first document's first
    token is predicted too. Returns ``(stream, n_docs, n_bytes)`` where
    ``stream`` is a numpy uint16 array (int32 if the vocabulary needs it) and
    ``n_bytes`` the UTF-8 size of the texts (separators excluded).

    ``max_tokens`` keeps whole documents only: a document is added while the
    stream (without the leading bos) stays within ``max_tokens`` tokens; the
    first document is always kept, so ``n_bytes`` always matches the stream.
    """
    import array

    import numpy as np

    if eos is None:
        eos = eos_id(tok)
    big = tok.get_vocab_size(with_added_tokens=True) > 65535
    buf = array.array("i" if big else "H")
    if bos:
        buf.append(eos)
    n_docs = 0
    n_bytes = 0
    start = len(buf)
    full = False
    for chunk in _batched(texts, batch):
        for text, enc in zip(chunk, tok.encode_batch(chunk, add_special_tokens=False)):
            ids = enc.ids
            if max_tokens is not None and n_docs and len(buf) - start + len(ids) + 1 > max_tokens:
                full = True
                break
            buf.extend(ids)
            buf.append(eos)
            n_bytes += len(text.encode("utf-8"))
            n_docs += 1
        if full:
            break
    stream = np.frombuffer(buf, dtype=np.int32 if big else np.uint16).copy()
    return stream, n_docs, n_bytes


def iter_texts(path: str | os.PathLike, text_key: str = "text") -> Iterator[str]:
    """Texts of a jsonl(.gz) file; a row without ``text_key`` is an error naming the key."""
    from ..errors import ComponentConfigError
    from ..io import iter_jsonl

    for i, row in enumerate(iter_jsonl(path), 1):
        try:
            t = row[text_key]
        except (KeyError, TypeError):
            raise ComponentConfigError(f"row {i} of {path} has no key {text_key!r}", key="text_key") from None
        yield t if isinstance(t, str) else ("" if t is None else str(t))
