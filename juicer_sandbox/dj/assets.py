"""Local assets that some Data-Juicer ops would otherwise download at run time.

Offline, such an op waits on network retries and then fails deep inside a job. Here the
asset is looked up before any job runs and a missing one is a clear error that says where
to put it. Data-Juicer looks for model files in ``$DATA_JUICER_MODELS_CACHE`` (default
``~/.cache/data_juicer/models``) and ``$DATA_JUICER_EXTERNAL_MODELS_HOME``; word lists in the
op's ``stopwords_dir`` / ``flagged_words_dir`` (JSON files whose name contains the list type).
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError
from .recipe import iter_ops

_CACHE_HOME = os.path.join(os.path.expanduser("~"), ".cache", "data_juicer")


def _model_dirs() -> list[str]:
    dirs = [os.environ.get("DATA_JUICER_MODELS_CACHE",
                           os.path.join(os.environ.get("DATA_JUICER_CACHE_HOME", _CACHE_HOME), "models"))]
    dirs += [p for p in os.environ.get("DATA_JUICER_EXTERNAL_MODELS_HOME", "").split(os.pathsep) if p.strip()]
    return dirs


def _default_assets_dir() -> str:
    return os.environ.get("DATA_JUICER_ASSETS_CACHE",
                          os.path.join(os.environ.get("DATA_JUICER_CACHE_HOME", _CACHE_HOME), "assets"))


def _have_model(name: str) -> bool:
    return any(os.path.exists(os.path.join(d, name)) for d in _model_dirs())


def _have_words(words_dir: str, words_type: str) -> bool:
    p = Path(words_dir)
    return p.is_dir() and any(f.suffix == ".json" and words_type in f.name for f in p.iterdir())


def required_assets(op: str, args: dict) -> list[tuple[str, str, str]]:
    """(kind, name, hint) for each asset the op needs; kind is 'model', 'words' or 'hf'."""
    lang = args.get("lang", "en")
    need: list[tuple[str, str, str]] = []
    if op == "language_id_score_filter":
        need.append(("model", "lid.176.bin", "fastText language-id model"))
    if op == "perplexity_filter":
        need += [("model", f"{lang}.sp.model", "sentencepiece model"), ("model", f"{lang}.arpa.bin", "KenLM model")]
    if op in ("words_num_filter", "word_repetition_filter", "stopwords_filter", "flagged_words_filter") \
            and args.get("tokenization"):
        need.append(("model", f"{lang}.sp.model", "sentencepiece model for tokenization"))
    if op == "stopwords_filter":
        need.append(("words", args.get("stopwords_dir") or _default_assets_dir(), "stopwords"))
    if op == "flagged_words_filter":
        need.append(("words", args.get("flagged_words_dir") or _default_assets_dir(), "flagged_words"))
    if op == "alphanumeric_filter" and args.get("tokenization"):
        need.append(("hf", "EleutherAI/pythia-6.9b-deduped", "HuggingFace tokenizer"))
    return need


def check_assets(recipe: dict, file: str | None, prefix: str = "") -> None:
    for i, op, args in iter_ops(recipe):
        for kind, name, hint in required_assets(op, args):
            where = f"{prefix}.process[{i}].{op}" if prefix else f"process[{i}].{op}"
            if kind == "model" and not _have_model(name):
                raise ConfigError(
                    f"needs the {hint} '{name}', which is not in {' or '.join(_model_dirs())} and cannot be "
                    f"downloaded here; put the file there (or set DATA_JUICER_EXTERNAL_MODELS_HOME)",
                    file=file, key=where)
            if kind == "words" and not _have_words(name, hint):
                arg = "stopwords_dir" if hint == "stopwords" else "flagged_words_dir"
                raise ConfigError(
                    f"needs a local {hint} list: no JSON file with '{hint}' in its name in {name}; set `{arg}` to "
                    f"a directory holding e.g. {hint}.json ({{\"en\": [...]}})", file=file, key=where)
            if kind == "hf":
                hub = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
                if not (hub / ("models--" + name.replace("/", "--"))).exists():
                    raise ConfigError(f"tokenization=true needs the {hint} '{name}', which is not cached locally "
                                      f"and model hubs are unreachable; use tokenization: false", file=file, key=where)
