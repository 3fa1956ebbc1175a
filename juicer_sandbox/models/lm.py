"""Tiny causal language models: built from scratch or loaded from a LOCAL directory.

No hub access ever: ``model_name_or_path`` must be a local directory written by
``save_pretrained`` (e.g. the ``model/`` folder of an earlier ``train_lm`` run).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Mapping

from ..errors import ComponentConfigError, SandboxError

ARCHES = ("gpt2", "llama")

# cfg key -> accepted aliases (HF names); the first name is the canonical one.
_ALIASES = {
    "n_layer": ("n_layer", "num_hidden_layers", "n_layers"),
    "d_model": ("d_model", "hidden_size", "n_embd"),
    "n_head": ("n_head", "num_attention_heads", "n_heads"),
    "context": ("context", "n_positions", "max_position_embeddings", "n_ctx"),
}
_DEFAULTS = {"arch": "gpt2", "n_layer": 2, "d_model": 128, "n_head": 4, "context": 128, "dropout": 0.0}


def _get(cfg: Mapping[str, Any], name: str):
    for alias in _ALIASES.get(name, (name,)):
        if cfg.get(alias) is not None:
            return cfg[alias]
    return _DEFAULTS.get(name)


def _posint(cfg: Mapping[str, Any], name: str) -> int:
    v = _get(cfg, name)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ComponentConfigError(f"must be a positive integer, got {v!r}", key=name)
    return v


def _local_model_dir(path: str | os.PathLike) -> Path:
    p = Path(os.path.expanduser(str(path)))
    if not p.exists():
        raise ComponentConfigError(
            f"local model directory {str(path)!r} does not exist (model hubs are not used: "
            "give a directory written by save_pretrained, e.g. <train out_dir>/model)",
            key="model_name_or_path",
        )
    if not p.is_dir() or not (p / "config.json").is_file():
        raise ComponentConfigError(
            f"{str(path)!r} is not a model directory (no config.json inside)", key="model_name_or_path"
        )
    return p


@contextlib.contextmanager
def quiet_hf_progress():
    """Silence transformers' own progress bars ("Loading weights", "Writing model shards")."""
    try:
        from transformers.utils import logging as hf_logging

        was = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
    except Exception:  # pragma: no cover - depends on the transformers version
        hf_logging, was = None, False
    try:
        yield
    finally:
        if hf_logging is not None and was:
            hf_logging.enable_progress_bar()


def load_model(model_dir: str | os.PathLike, *, key: str = "model_name_or_path"):
    """``AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)`` with clear errors."""
    from transformers import AutoModelForCausalLM

    try:
        p = _local_model_dir(model_dir)
    except ComponentConfigError as exc:
        raise ComponentConfigError(exc.detail, key=key) from None
    try:
        with quiet_hf_progress():
            return AutoModelForCausalLM.from_pretrained(str(p), local_files_only=True)
    except Exception as exc:
        raise SandboxError(f"cannot load model from {p}: {exc}") from None


def build_model(cfg: Mapping[str, Any], vocab_size: int | None = None, *, eos_token_id: int = 0):
    """Build a causal LM from ``cfg``.

    * ``model_name_or_path`` set: load that local directory (its own architecture;
      the shape keys are ignored). If ``vocab_size`` is larger than the model's
      vocabulary the embeddings are resized.
    * otherwise ``arch`` ``gpt2`` (learned positions, GELU MLP) or ``llama``
      (RoPE, SwiGLU, RMSNorm, tied embeddings), randomly initialised from the
      global torch RNG (seed it first), with ``n_layer``/``num_hidden_layers``,
      ``d_model``/``hidden_size``, ``n_head``, ``context`` (max positions),
      optional ``d_ff`` (MLP width; gpt2 4*d, llama ~8/3*d rounded up to 32) and
      ``dropout`` (0), ``tie_embeddings`` (true: the output layer shares the input
      embedding). ``vocab_size`` is the argument or ``cfg["vocab_size"]``
      (normally the tokenizer's size).
    """
    path = cfg.get("model_name_or_path")
    if path:
        model = load_model(path)
        if vocab_size is not None and vocab_size > model.get_input_embeddings().num_embeddings:
            model.resize_token_embeddings(int(vocab_size))
        return model

    arch = cfg.get("arch") or _DEFAULTS["arch"]
    if arch not in ARCHES:
        raise ComponentConfigError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHES)}", key="arch")
    vocab = vocab_size if vocab_size is not None else cfg.get("vocab_size")
    if vocab is None:
        raise ComponentConfigError("vocab_size is unknown (pass the tokenizer's size)", key="vocab_size")
    vocab = int(vocab)
    n_layer, d_model, n_head, context = (_posint(cfg, k) for k in ("n_layer", "d_model", "n_head", "context"))
    if d_model % n_head:
        raise ComponentConfigError(f"d_model {d_model} is not divisible by n_head {n_head}", key="n_head")
    dropout = float(cfg.get("dropout") or 0.0)
    d_ff = cfg.get("d_ff")
    tie = cfg.get("tie_embeddings")
    tie = True if tie is None else bool(tie)

    if arch == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel

        conf = GPT2Config(
            vocab_size=vocab,
            n_positions=context,
            n_embd=d_model,
            n_layer=n_layer,
            n_head=n_head,
            n_inner=int(d_ff) if d_ff else None,
            resid_pdrop=dropout,
            embd_pdrop=dropout,
            attn_pdrop=dropout,
            bos_token_id=eos_token_id,
            eos_token_id=eos_token_id,
            pad_token_id=None,  # real EOS ids occur in inputs; no padding during training
            use_cache=True,
            tie_word_embeddings=tie,
        )
        return GPT2LMHeadModel(conf)

    from transformers import LlamaConfig, LlamaForCausalLM

    if not d_ff:
        d_ff = ((8 * d_model // 3) + 31) // 32 * 32
    conf = LlamaConfig(
        vocab_size=vocab,
        hidden_size=d_model,
        intermediate_size=int(d_ff),
        num_hidden_layers=n_layer,
        num_attention_heads=n_head,
        num_key_value_heads=n_head,
        max_position_embeddings=context,
        attention_dropout=dropout,
        tie_word_embeddings=tie,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=None,
        use_cache=True,
    )
    return LlamaForCausalLM(conf)


def model_context(model) -> int:
    """Maximum positions of a built/loaded model (gpt2: n_positions, llama: max_position_embeddings)."""
    conf = model.config
    for name in ("n_positions", "max_position_embeddings", "n_ctx"):
        v = getattr(conf, name, None)
        if isinstance(v, int) and v > 0:
            return v
    return 1024


def count_params(model) -> int:
    """Number of distinct parameters (tied weights counted once)."""
    seen = set()
    n = 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        n += p.numel()
    return n


__all__ = ["ARCHES", "build_model", "load_model", "quiet_hf_progress", "model_context", "count_params"]
