"""The trainer's configuration: its JSON schema (:data:`TRAINER_SCHEMA`) and validation with
defaults filled and HF-style aliases resolved. Cheap to import (no torch)."""
from __future__ import annotations

import copy
from typing import Any, Mapping

from ..errors import ComponentConfigError

_POS_INT = {"type": "integer", "minimum": 1}

#: JSON schema of the trainer's cfg (defaults are filled by :func:`validate_trainer_cfg`).
TRAINER_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "train_lm config",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "description": "component selector; ignored by the trainer"},
        # model
        "arch": {"enum": ["gpt2", "llama"], "default": "gpt2", "description": "architecture built from scratch"},
        "n_layer": {**_POS_INT, "default": 2, "description": "transformer layers"},
        "d_model": {**_POS_INT, "default": 128, "description": "hidden size"},
        "n_head": {**_POS_INT, "default": 4, "description": "attention heads (must divide d_model)"},
        "num_hidden_layers": {**_POS_INT, "description": "alias of n_layer"},
        "hidden_size": {**_POS_INT, "description": "alias of d_model"},
        "num_attention_heads": {**_POS_INT, "description": "alias of n_head"},
        "d_ff": {"type": ["integer", "null"], "minimum": 1, "default": None,
                 "description": "MLP width (null: gpt2 4*d_model, llama ~8/3*d_model)"},
        "context": {**_POS_INT, "default": 128, "description": "tokens per training window"},
        "dropout": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.0},
        "tie_embeddings": {"type": "boolean", "default": True,
                           "description": "output layer shares the input embedding matrix"},
        "vocab_size": {"type": ["integer", "null"], "minimum": 2, "default": None,
                       "description": "model vocabulary (null: the tokenizer's size; must be >= it)"},
        "model_name_or_path": {"type": ["string", "null"], "default": None,
                               "description": "LOCAL model directory to start from instead of a fresh model"},
        # optimisation
        "batch_size": {**_POS_INT, "default": 32},
        "lr": {"type": "number", "exclusiveMinimum": 0, "default": 2e-3},
        "min_lr_ratio": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.1,
                         "description": "cosine decays to lr * min_lr_ratio"},
        "warmup": {"type": "number", "minimum": 0, "default": 0.05,
                   "description": "warm-up: a fraction of the steps if < 1, else a number of steps"},
        "weight_decay": {"type": "number", "minimum": 0, "default": 0.1},
        "betas": {"type": "array", "items": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                  "minItems": 2, "maxItems": 2, "default": [0.9, 0.95]},
        "grad_clip": {"type": ["number", "null"], "exclusiveMinimum": 0, "default": 1.0},
        "max_tokens": {**_POS_INT, "default": 1_000_000,
                       "description": "training budget; steps = max_tokens // (batch_size * context)"},
        "precision": {"enum": ["fp32", "bf16"], "default": "fp32", "description": "bf16 = CPU/GPU autocast"},
        "device": {"enum": ["auto", "cpu", "cuda"], "default": "auto"},
        "seed": {"type": "integer", "default": 0},
        # data
        "text_key": {"type": "string", "minLength": 1, "default": "text"},
        # bookkeeping
        "checkpoint_every": {**_POS_INT, "default": 100, "description": "steps between checkpoints"},
        "keep_checkpoints": {**_POS_INT, "default": 2, "description": "newest checkpoints kept"},
        "log_every": {**_POS_INT, "default": 10, "description": "steps between plain progress lines"},
        "deepspeed": {"type": ["object", "string", "null"], "default": None,
                      "description": "DeepSpeed config (dict or JSON path); "
                                     "used only with CUDA and deepspeed installed, else ignored with a warning; "
                                     "DeepSpeed runs do not checkpoint or resume (its checkpoints are pickles)"},
    },
}

# keys that do not change the training trajectory (not part of the resume fingerprint)
_NON_TRAJECTORY = {"type", "checkpoint_every", "keep_checkpoints", "log_every"}
_ALIASES = {"num_hidden_layers": "n_layer", "hidden_size": "d_model", "num_attention_heads": "n_head"}


def _schema_error_key(err) -> tuple[str, str]:
    path = ".".join(str(p) for p in err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        if extra:
            import difflib

            key = f"{path}.{extra[0]}" if path else extra[0]
            hint = difflib.get_close_matches(extra[0], sorted(allowed), n=1)
            if hint:
                return key, f"unknown key (did you mean '{hint[0]}'?)"
            return key, f"unknown key; allowed keys: {', '.join(sorted(allowed))}"
    return path or "<root>", err.message


def validate_against(schema: Mapping[str, Any], cfg: Mapping[str, Any] | None) -> dict:
    """Validate ``cfg`` against a flat object schema and return a copy with defaults filled.

    Raises :class:`ComponentConfigError` naming the offending key.
    """
    import jsonschema

    if cfg is None:
        cfg = {}
    if not isinstance(cfg, Mapping):
        raise ComponentConfigError(f"config must be a mapping, got {type(cfg).__name__}")
    out = dict(cfg)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(out), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        key, msg = _schema_error_key(errors[0])
        raise ComponentConfigError(msg, key=key)
    for name, sub in schema.get("properties", {}).items():
        if name not in out and "default" in sub:
            out[name] = copy.deepcopy(sub["default"])
    return out


def validate_trainer_cfg(cfg: Mapping[str, Any] | None) -> dict:
    """Validate the trainer cfg, resolve HF-style aliases, fill defaults."""
    raw = dict(cfg or {})
    for alias, canon in _ALIASES.items():
        if alias in raw:
            v = raw.pop(alias)
            if canon in raw and raw[canon] != v:
                raise ComponentConfigError(f"conflicts with {canon}={raw[canon]!r}", key=alias)
            raw[canon] = v
    out = validate_against(TRAINER_SCHEMA, raw)
    if out["d_model"] % out["n_head"]:
        raise ComponentConfigError(f"d_model {out['d_model']} is not divisible by n_head {out['n_head']}", key="n_head")
    return out
