"""The original DJ-Sandbox's model components, by their names and keys.

* ``api`` (InferModelHook): an OpenAI-compatible endpoint. With the original's keys
  (``build_messages_func``, ``parse_output_func``, ``func_kwargs``, ``model_params``,
  ``sampling_params``, ``api_endpoint``, ``response_path``) each row is turned into messages by
  a helper of :mod:`.api_helpers`; without them this is the project's own ``api`` component.
* ``huggingface`` (InferModelHook): a transformers text-generation pipeline on a LOCAL model
  directory (``model``); model hubs are never contacted. CPU unless CUDA is present.
* ``vllm`` (InferModelHook) and ``modelscope`` (TrainModelHook): validated at plan time; each runs in
  its model family's env (``envs/vllm.yaml``, ``envs/modelscope.yaml``; ``juicer_sandbox/families``),
  needed only where the job runs, and a missing package, weights or GPU stops the job at its start
  with one line naming what is missing. vLLM's ``tensor_parallel_size`` defaults to the GPUs the job
  holds (it asks the scheduler for ``model_params.tensor_parallel_size``, default 1).
* ``dj_text_quality_classifier`` (EvaluateDataHook): the original's GPT-3 quality score (mean
  P(high quality) over the dataset). Data-Juicer's pretrained PySpark model cannot be used
  here; the classifier is this project's GPT-3-method one (:mod:`..models.quality`), loaded
  from :func:`quality_model_path` or trained locally when ``reference_path`` is given.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable

from ..core.mappings import deep_merge
from ..dj.media import read_dataset
from ..errors import ComponentConfigError, SandboxError
from ..io import iter_jsonl, write_json, write_jsonl
from .api_helpers import PARSE_FUNCS, helper_schema, message_batches

QUALITY_MODEL_FILE = "gpt3_quality_classifier.json"
_PATHS = {"type": ["string", "array"], "items": {"type": "string"}}
_ORIGINAL_KEYS = ("build_messages_func", "parse_output_func", "func_kwargs", "model_params", "sampling_params",
                  "api_endpoint", "response_path")


def _schema(props: dict, required: list[str]) -> dict:
    return {"type": "object", "additionalProperties": False, "required": required,
            "properties": {"type": {"type": "string"}, "export_path": {"type": ["string", "null"]}, **props}}


def _datasets(cfg: dict) -> list[str]:
    value = cfg.get("dataset_path")
    paths = [value] if isinstance(value, str) else list(value or [])
    for p in paths:
        if not os.path.isfile(p):
            raise ComponentConfigError(f"dataset {p!r} not found", key="dataset_path")
    return paths


def _get_path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def llm_infer(cfg: dict, answer: Callable[[list[dict]], str]) -> list[str]:
    """The original's LLM inference loop: per row, helper messages -> answer -> parsed value,
    stored under infer_res_key; one ``<name>_inference.jsonl`` per input file."""
    build = cfg.get("build_messages_func") or "build_messages"
    parse = PARSE_FUNCS[cfg.get("parse_output_func") or "parse_output"]
    kwargs = dict(cfg.get("func_kwargs") or {})
    out_key = cfg.get("infer_res_key", "response")
    outputs = []
    for path in _datasets(cfg):
        rows = []
        for item in read_dataset(path):  # written elsewhere: media paths resolved
            batches, is_batch = message_batches(item, build, kwargs)
            results = [parse(answer(messages), item, **kwargs) for messages in batches]
            rows.append({**item, out_key: results if is_batch else results[0]})
        out = Path(cfg["export_path"]) / f"{os.path.splitext(os.path.basename(path))[0]}_inference.jsonl"
        write_jsonl(out, rows)
        outputs.append(str(out))
    return outputs


# -- api ---------------------------------------------------------------------------------------
def infer_api(cfg: dict, run) -> list[str]:
    if not any(k in cfg for k in _ORIGINAL_KEYS):
        if _PROJECT_API_FN is None:
            raise SandboxError("api: without build_messages_func this needs the project's own api component")
        return _PROJECT_API_FN(cfg, run)
    from ..models.infer import chat_completion

    params = dict(cfg.get("model_params") or {})
    base_url = cfg.get("base_url") or params.pop("base_url", None) or os.environ.get("OPENAI_BASE_URL")
    if not base_url:
        raise SandboxError("api: no endpoint: set OPENAI_BASE_URL (as for the original) or base_url")
    endpoint = cfg.get("api_endpoint")
    url = base_url.rstrip("/") + "/" + endpoint.lstrip("/") if endpoint else base_url
    api_key = (cfg.get("api_key") or params.pop("api_key", None)
               or (os.environ.get(cfg["api_key_env"]) if cfg.get("api_key_env") else None)
               or os.environ.get("OPENAI_API_KEY") or None)
    response_path = cfg.get("response_path") or "choices.0.message.content"
    sampling = dict(cfg.get("sampling_params") or {})

    def answer(messages: list[dict]) -> str:
        payload = {"model": cfg["model"], "messages": messages, **sampling}
        reply = chat_completion(payload, base_url=url, api_key=api_key, timeout=cfg.get("timeout", 60),
                                max_retries=cfg.get("max_retry_num", 5))
        try:
            return _get_path(reply, response_path)
        except (KeyError, IndexError, TypeError, ValueError):
            raise SandboxError(f"api: the answer has no {response_path!r} (response_path): {str(reply)[:200]}") from None

    return llm_infer(cfg, answer)


def sampling_with_defaults(sampling: dict | None, model_dir: str, key: str) -> dict:
    """The original's ``update_sampling_params``: ``key`` (``max_new_tokens`` for transformers, ``max_tokens``
    for vLLM) from ``sampling_params``, else from the model's ``generation_config.json`` (its ``max_tokens`` or
    ``max_new_tokens``), else 512. (The original passes the transformers key to vLLM too, which vLLM's
    SamplingParams rejects; vLLM gets its own key here.)"""
    out = dict(sampling or {})
    if key in out:
        return out
    path = Path(model_dir) / "generation_config.json"
    try:
        gen = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        gen = {}
    out[key] = next((gen[k] for k in ("max_tokens", "max_new_tokens") if isinstance(gen, dict) and gen.get(k)), 512)
    return out


def vllm_args(cfg: dict, n_devices: int) -> tuple[dict, dict]:
    """(``vllm.LLM`` keyword arguments, ``vllm.SamplingParams`` keyword arguments) of a job, as the original
    builds them, with ``tensor_parallel_size`` = the GPUs the job holds when not given (the original: all
    GPUs of the machine)."""
    params = dict(cfg.get("model_params") or {})
    if params.get("tensor_parallel_size") is None:
        params["tensor_parallel_size"] = max(1, n_devices)
    return {"model": cfg["model"], **params}, sampling_with_defaults(cfg.get("sampling_params"), cfg["model"],
                                                                      "max_tokens")


# -- huggingface (local) -------------------------------------------------------------------------
def infer_huggingface(cfg: dict, run) -> list[str]:
    model = cfg["model"]
    if not os.path.isdir(model):
        raise SandboxError(f"huggingface: model {model!r} is not a local directory; model hubs are not contacted "
                           f"here: download it once and give its path")
    import torch
    from transformers import pipeline

    torch.set_num_threads(max(1, run.threads))
    device = 0 if torch.cuda.is_available() else -1
    pipe = pipeline("text-generation", model=model, device=device, **(cfg.get("model_params") or {}))
    sampling = sampling_with_defaults(cfg.get("sampling_params"), model, "max_new_tokens")
    chat = bool(getattr(pipe.tokenizer, "chat_template", None))

    def answer(messages: list[dict]) -> str:
        prompt = messages if chat else "\n".join(m["content"] for m in messages)
        with torch.inference_mode():
            return pipe(prompt, return_full_text=False, **sampling)[0]["generated_text"]

    return llm_infer(cfg, answer)


# -- vllm / modelscope: need their package (and vLLM a GPU) where the job runs --------------------
def _require(module: str, component: str, gpu: bool = False):
    """The family check (juicer_sandbox/families) normally stops a job without its package first."""
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise SandboxError(f"{component}: the {module!r} package is not installed in this job's environment "
                           f"({exc}); install the pins of envs/{component}.yaml") from None
    if gpu:
        import torch

        if not torch.cuda.is_available():
            raise SandboxError(f"{component}: needs a CUDA GPU and this job's machine has none")
    return mod


def infer_vllm(cfg: dict, run) -> list[str]:
    vllm = _require("vllm", "vllm", gpu=True)
    import torch

    llm_kwargs, sampling_kwargs = vllm_args(cfg, len(run.devices) or torch.cuda.device_count())
    llm = vllm.LLM(**llm_kwargs)
    sampling = vllm.SamplingParams(**sampling_kwargs)
    return llm_infer(cfg, lambda messages: llm.chat(messages, sampling)[0].outputs[0].text)


def train_modelscope(cfg: dict, run) -> str:
    """The original's ModelScope trainer: build_trainer(model, trainer) on jsonl datasets with
    key_remapping; `train` is merged into the ModelScope config. Trains into the job's artifacts."""
    _require("modelscope", "modelscope")
    from modelscope.msdatasets import MsDataset
    from modelscope.trainers import build_trainer

    def dataset(path: str, split: str):
        ds = MsDataset.load("json", data_files={split: path}, split=split).to_hf_dataset()
        for old, new in (cfg.get("key_remapping") or {}).items():
            ds = ds.rename_column(old, new)
        return ds

    def modify(ms_cfg):
        return deep_merge(ms_cfg, cfg.get("train") or {})

    work_dir = str(run.artifacts / "work_dir")
    kwargs = {"model": cfg["model_name"], "work_dir": work_dir, "cfg_modify_fn": modify,
              "train_dataset": dataset(cfg["train_dataset"], "train")}
    if cfg.get("eval_dataset"):
        kwargs["eval_dataset"] = dataset(cfg["eval_dataset"], "validation")
    build_trainer(name=cfg["trainer_name"], default_args=kwargs).train()
    losses = [x for log in sorted(Path(work_dir).glob("*.log"))
              for x in modelscope_losses(log.read_text(encoding="utf-8", errors="replace"))]
    run.metrics.update({"loss_records": len(losses), "final_loss": losses[-1] if losses else None})
    return work_dir


_MS_LOSS = re.compile(r"loss:\s*([0-9.]+)")


def modelscope_losses(text: str) -> list[float]:
    """The losses a ModelScope trainer logs (``... - modelscope - INFO - epoch [1][100/4953]\tlr: 4.825e-05,
    memory: 8742, loss: 5.6125``), read with the original watcher's pattern, one per matching line."""
    return [float(m.group(1)) for m in map(_MS_LOSS.search, text.splitlines()) if m]


# -- dj_text_quality_classifier ---------------------------------------------------------------------
def quality_model_path(cfg: dict | None = None) -> str:
    """Where dj_text_quality_classifier looks for its model: `model_path`, else the first model
    directory (as for Data-Juicer's other model files) that holds QUALITY_MODEL_FILE."""
    if cfg and cfg.get("model_path"):
        return cfg["model_path"]
    from ..dj.assets import _model_dirs

    dirs = _model_dirs()
    return next((os.path.join(d, QUALITY_MODEL_FILE) for d in dirs if os.path.isfile(os.path.join(d, QUALITY_MODEL_FILE))),
                os.path.join(dirs[0], QUALITY_MODEL_FILE))


def missing_quality_model(cfg: dict) -> str | None:
    if cfg.get("reference_path") or os.path.isfile(quality_model_path(cfg)):
        return None
    return (f"dj_text_quality_classifier needs its classifier model {quality_model_path(cfg)}, which is absent "
            f"(Data-Juicer's pretrained gpt3.zip is a PySpark model that is downloaded at run time and not used "
            f"here): train one with `juicer-sandbox assets train-quality --reference CLEAN.jsonl`, or add "
            f"`reference_path: CLEAN.jsonl` to train it locally in the job (type text_quality_classifier)")


def dj_text_quality_classifier(cfg: dict) -> float:
    if cfg.get("reference_path"):
        from .data_quality import text_quality_classifier

        return text_quality_classifier({k: v for k, v in cfg.items() if k != "model_path"})
    problem = missing_quality_model(cfg)
    if problem:
        raise SandboxError(problem)
    import numpy as np

    from ..models.quality import load_quality_classifier

    key = cfg.get("text_key", "text")
    path = _datasets(cfg)[0]
    rows = list(iter_jsonl(path))
    scores = load_quality_classifier(quality_model_path(cfg)).score([str(r.get(key, "")) for r in rows])
    out = Path(cfg["export_path"])
    write_jsonl(out / "scores.jsonl", ({"score": float(s)} for s in scores))
    write_json(out / "summary.json", {"model": quality_model_path(cfg), "dataset": path, "n": len(rows),
                                      "mean": float(np.mean(scores)) if len(scores) else 0.0})
    return float(np.mean(scores)) if len(scores) else 0.0


_LLM = {"dataset_path": _PATHS, "model": {"type": "string"}, "infer_res_key": {"type": "string"},
        "model_params": {"type": ["object", "null"]}, "sampling_params": {"type": ["object", "null"]},
        **helper_schema()}


def _project_api() -> tuple[Callable | None, dict]:
    """The project's own `api` component (registered after this module for model_infer): its
    function runs configs without the original's keys, and its keys stay valid here."""
    import importlib

    from .registry import FACTORIES

    for module_name, attr in FACTORIES["model_infer"].sources:
        if module_name != __name__:
            module = importlib.import_module(module_name)
            if "api" in getattr(module, attr, {}):
                return getattr(module, attr)["api"], getattr(module, "SCHEMAS", {}).get("api", {})
    return None, {}


_PROJECT_API_FN, _PROJECT_API_SCHEMA = _project_api()
INFERENCERS = {"api": infer_api, "huggingface": infer_huggingface, "vllm": infer_vllm}
TRAINERS = {"modelscope": train_modelscope}
DATA_EVALUATORS = {"dj_text_quality_classifier": dj_text_quality_classifier}
SCHEMAS = {
    "api": _schema({**(_PROJECT_API_SCHEMA.get("properties") or {}), **_LLM,
                    "api_endpoint": {"type": ["string", "null"]},
                    "response_path": {"type": ["string", "null"]},
                    "max_retry_num": {"type": "integer", "minimum": 0}}, ["dataset_path", "model"]),
    "huggingface": _schema(_LLM, ["dataset_path", "model"]),
    "vllm": _schema(_LLM, ["dataset_path", "model"]),
    "modelscope": _schema({"model_name": {"type": "string"}, "trainer_name": {"type": "string"},
                           "train_dataset": {"type": "string"}, "eval_dataset": {"type": ["string", "null"]},
                           "work_dir": {"type": "string"}, "key_remapping": {"type": ["object", "null"]},
                           "train": {"type": ["object", "null"]}},
                          ["model_name", "trainer_name", "train_dataset", "work_dir"]),
    "dj_text_quality_classifier": _schema({"dataset_path": _PATHS, "model_path": {"type": ["string", "null"]},
                                           "reference_path": {"type": "string"},
                                           "negative_path": {"type": ["string", "null"]},
                                           "text_key": {"type": "string"}, "seed": {"type": "integer"},
                                           "keep_rule": {"enum": [None, "gpt3", "threshold"]},
                                           "threshold": {"type": "number"}}, ["dataset_path"]),
}
