"""The components of the model factories (``model_train``, ``model_infer``, ``model_evaluator``), chosen by
``extra_configs.type``: tokenizer and LM trainers, local and API inference, the LM-loss evaluator.

Each takes ``(cfg, run)``: the job's extra_configs (without ``type``) and its runtime
(threads, seed, artifacts and a scratch directory that survives reruns).
torch/transformers are imported inside the functions, so listing the registry is cheap.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from ..dj.media import read_dataset
from ..errors import ComponentConfigError
from ..io import write_json, write_jsonl
from ..models.trainer_config import TRAINER_SCHEMA
from .config_helpers import one_path

_PATHS = {"type": ["string", "array"], "items": {"type": "string"}}
_PATH = {"type": "string", "minLength": 1}
_EXPORT = {"type": ["string", "null"]}


def _schema(props: dict, required: list[str]) -> dict:
    return {"type": "object", "additionalProperties": False, "required": required,
            "properties": {"type": {"type": "string"}, "export_path": _EXPORT, **props}}


def _paths(cfg: dict, key: str) -> list[str]:
    value = cfg.get(key)
    values = [value] if isinstance(value, str) else list(value or [])
    for v in values:
        if not os.path.exists(v):
            raise ComponentConfigError(f"dataset {v!r} not found", key=key)
    return values


# -- trainers ---------------------------------------------------------------------------------
def train_bpe_tokenizer(cfg: dict, run) -> str:
    """Byte-level BPE trained locally; share its file across all arms of an experiment."""
    from ..models.tokenizer import iter_texts, train_tokenizer

    def texts():
        for path in _paths(cfg, "dataset_path"):
            yield from iter_texts(path, cfg.get("text_key", "text"))

    out = Path(cfg["export_path"]) / "tokenizer.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    return train_tokenizer(texts(), vocab_size=cfg.get("vocab_size", 2048), out_path=out,
                           min_frequency=cfg.get("min_frequency", 2))


def train_causal_lm(cfg: dict, run) -> str:
    """A tiny causal LM with a fixed token budget; checkpoints in the job's scratch dir, so a
    killed job resumes from its last checkpoint when rerun."""
    from ..models.train import train_lm

    trainer_cfg = {k: v for k, v in cfg.items() if k in TRAINER_SCHEMA["properties"] and k != "export_path"}
    trainer_cfg.setdefault("seed", run.seed)
    out = Path(cfg["export_path"])
    metrics = train_lm(trainer_cfg, one_path(cfg, "dataset_path"), out, cfg.get("tokenizer_path"),
                       threads=run.threads, checkpoint_dir=run.scratch / "checkpoints")
    run.metrics.update(metrics)
    return str(out / "model")


_TRAIN_PROPS = {k: v for k, v in TRAINER_SCHEMA["properties"].items() if k != "type"}

# -- inference ---------------------------------------------------------------------------------
def _infer(cfg: dict, run, generate) -> list[str]:
    outputs = []
    for path in _paths(cfg, "dataset_path"):
        rows = list(read_dataset(path))  # written elsewhere: media paths resolved
        name = Path(path).name.split(".")[0]
        out = Path(cfg["export_path"]) / f"{name}_inference.jsonl"
        write_jsonl(out, generate(rows))
        outputs.append(str(out))
    return outputs


def infer_local(cfg: dict, run) -> list[str]:
    from ..models.infer import generate_local

    return _infer(cfg, run, lambda rows: generate_local(
        cfg["model_path"], rows, prompt_key=cfg.get("prompt_key", "text"), out_key=cfg.get("infer_res_key", "response"),
        max_new_tokens=cfg.get("max_new_tokens", 64), seed=cfg.get("seed", run.seed),
        do_sample=cfg.get("do_sample", False), threads=run.threads))


def infer_api(cfg: dict, run) -> list[str]:
    from ..models.infer import generate_api

    return _infer(cfg, run, lambda rows: generate_api(
        rows, base_url=cfg.get("base_url"), model=cfg["model"], api_key=cfg.get("api_key"),
        prompt_key=cfg.get("prompt_key", "text"), out_key=cfg.get("infer_res_key", "response"),
        max_tokens=cfg.get("max_tokens", 256), max_retries=cfg.get("max_retry_num", 3),
        system_prompt=cfg.get("system_prompt"), timeout=cfg.get("timeout", 60),
        api_key_env=cfg.get("api_key_env"), concurrency=cfg.get("concurrency", 4), deadline=cfg.get("deadline"),
        partial_path=run.scratch / "api_answers.jsonl",  # kept across reruns: a rerun asks only missing rows
        progress=lambda done, total: logging.getLogger("juicer_sandbox").info("%s: %d/%d answers", run.job_id,
                                                                              done, total)))


# -- model evaluation ----------------------------------------------------------------------------
def evaluate_lm_loss(cfg: dict, run) -> dict:
    """Validation loss (nats/token), perplexity and bits per byte on held-out text."""
    from ..models.evaluate import evaluate_lm

    metrics = evaluate_lm(cfg["model_path"], one_path(cfg, "val_path"), text_key=cfg.get("text_key", "text"),
                          max_tokens=cfg.get("max_tokens"), threads=run.threads)
    for key in ("arm", "seed", "pool"):  # labels an experiment's ranking groups by
        if cfg.get(key) is not None:
            metrics[key] = cfg[key]
    write_json(Path(cfg["export_path"]) / "metrics.json", metrics)
    return metrics


TRAINERS = {"bpe_tokenizer": train_bpe_tokenizer, "causal_lm": train_causal_lm}
INFERENCERS = {"local": infer_local, "api": infer_api}
MODEL_EVALUATORS = {"lm_loss": evaluate_lm_loss}

SCHEMAS = {
    "bpe_tokenizer": _schema({"dataset_path": _PATHS, "vocab_size": {"type": "integer", "minimum": 260,
                                                                     "default": 2048},
                              "min_frequency": {"type": "integer", "minimum": 1, "default": 2},
                              "text_key": {"type": "string", "default": "text"}}, ["dataset_path"]),
    "causal_lm": _schema({**_TRAIN_PROPS, "dataset_path": _PATHS, "tokenizer_path": {"type": ["string", "null"]}},
                         ["dataset_path"]),
    "local": _schema({"dataset_path": _PATHS, "model_path": _PATH, "prompt_key": {"type": "string"},
                      "infer_res_key": {"type": "string"}, "max_new_tokens": {"type": "integer", "minimum": 1},
                      "seed": {"type": "integer"}, "do_sample": {"type": "boolean"}},
                     ["dataset_path", "model_path"]),
    "api": _schema({"dataset_path": _PATHS, "model": {"type": "string"}, "base_url": {"type": ["string", "null"]},
                    "api_key": {"type": ["string", "null"]}, "prompt_key": {"type": "string"},
                    "infer_res_key": {"type": "string"}, "max_tokens": {"type": "integer", "minimum": 1},
                    "max_retry_num": {"type": "integer", "minimum": 0}, "system_prompt": {"type": ["string", "null"]},
                    "timeout": {"type": "number", "exclusiveMinimum": 0},
                    "api_key_env": {"type": ["string", "null"], "description": "env var holding the key"},
                    "concurrency": {"type": "integer", "minimum": 1, "description": "requests in flight"},
                    "deadline": {"type": ["number", "null"], "exclusiveMinimum": 0,
                                 "description": "seconds per request, retries included"}},
                   ["dataset_path", "model"]),
    "lm_loss": _schema({"model_path": _PATH, "val_path": _PATHS, "text_key": {"type": "string"},
                        "max_tokens": {"type": ["integer", "null"], "minimum": 1},
                        "arm": {"type": ["string", "null"]}, "seed": {"type": ["integer", "null"]},
                        "pool": {"type": ["string", "null"], "description": "the training data, for rankings"}},
                       ["model_path", "val_path"]),
}
