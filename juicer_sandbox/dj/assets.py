"""Local assets that some Data-Juicer ops would otherwise download at run time.

Offline, such an op waits on network retries and then fails deep inside a job. Here the
asset is looked up before any job runs and a missing one is a clear error that says where
to put it. Data-Juicer looks for model files in ``$DATA_JUICER_MODELS_CACHE`` (default
``~/.cache/data_juicer/models``) and ``$DATA_JUICER_EXTERNAL_MODELS_HOME``; word lists in the
op's ``stopwords_dir`` / ``flagged_words_dir`` (JSON files whose name contains the list type).

Hub models (CLIP, BLIP, NSFW and aesthetics classifiers, captioners, ...: every ``hf_*`` argument of
an op, written or defaulted) are accepted in recipes and checked the same way, after the whole plan
(:func:`check_models`, so a config's more basic errors come first): a local directory, the model under
``$DATA_JUICER_EXTERNAL_MODELS_HOME`` (where Data-Juicer's ``check_model_home`` looks) or in the
Hugging Face cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``) is present; otherwise one line says
which model the op needs and where to put it. Programs an op starts are checked too (the ``ffmpeg``
video backend).
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
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


# ops whose hub model argument defaults to "" and then to this model (their source)
_EMPTY_MEANS = {"image_aesthetics_filter": "shunk031/aesthetics-predictor-v2-sac-logos-ava1-l14-linearMSE",
                "video_aesthetics_filter": "shunk031/aesthetics-predictor-v2-sac-logos-ava1-l14-linearMSE"}
# ops that start the ffmpeg program with video_backend 'ffmpeg' (their default here)
_FFMPEG_DEFAULT = {"video_duration_filter", "video_split_by_duration_mapper"}


def hub_models(op: str, args: dict) -> list[tuple[str, str]]:
    """(argument, model name or path) of each hub model the op loads with these arguments."""
    from .catalog import load_catalog

    params = (load_catalog()["ops"].get(op) or {}).get("params", {})
    out = []
    for name, spec in params.items():
        if not name.startswith("hf_"):
            continue
        value = args.get(name, spec.get("default"))
        if value == "" and op in _EMPTY_MEANS:
            value = _EMPTY_MEANS[op]
        if isinstance(value, str) and value.strip():
            out.append((name, value))
    return out


def hf_cache() -> Path:
    home = os.environ.get("HF_HOME", os.path.join(os.path.expanduser("~"), ".cache", "huggingface"))
    return Path(os.environ.get("HF_HUB_CACHE") or os.path.join(home, "hub"))


def model_present(value: str) -> bool:
    """A local model directory/file, or a hub id Data-Juicer or transformers find without a download."""
    if os.path.exists(os.path.expanduser(value)):
        return True
    external = os.environ.get("DATA_JUICER_EXTERNAL_MODELS_HOME", "")
    if external and os.path.exists(os.path.join(external, value)):
        return True
    snapshots = hf_cache() / ("models--" + value.replace("/", "--")) / "snapshots"
    return snapshots.is_dir() and any(snapshots.iterdir())


def check_models(recipe: dict, file: str | None, prefix: str = "") -> None:
    """Refuse an op whose hub model is not present locally ('needs model X at path Y') or whose
    program is not on PATH. The plan calls this after every job is compiled."""
    for i, op, args in iter_ops(recipe):
        where = f"{prefix}.process[{i}].{op}" if prefix else f"process[{i}].{op}"
        backend = (args or {}).get("video_backend", "ffmpeg")
        if op in _FFMPEG_DEFAULT and backend == "ffmpeg" and not shutil.which("ffmpeg"):
            raise ConfigError("video_backend: ffmpeg (the default of this op) runs the program 'ffmpeg', which is "
                              "not on PATH; install it (Debian: apt-get install ffmpeg) or set video_backend: av",
                              file=file, key=where)
        if op in _FFMPEG_DEFAULT and backend == "av" and importlib.util.find_spec("av") is None:
            raise ConfigError("video_backend: av needs the package av (PyAV), not installed in this environment",
                              file=file, key=where)
        for arg, value in hub_models(op, args or {}):
            if model_present(value):
                continue
            if os.path.isabs(value) or value.startswith((".", "~")):
                raise ConfigError(f"needs model {value} ({arg}) at path {value}, which does not exist",
                                  file=file, key=where)
            cached = hf_cache() / ("models--" + value.replace("/", "--"))
            raise ConfigError(
                f"needs model {value} ({arg}) at path {cached} (the Hugging Face cache; or set {arg} to a local "
                f"model directory); model hubs are not contacted at run time", file=file, key=where)


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
                    f"downloaded here; put the file there (or set DATA_JUICER_EXTERNAL_MODELS_HOME), or run "
                    f"`juicer-sandbox assets fetch` where the network allows",
                    file=file, key=where)
            if kind == "words" and not _have_words(name, hint):
                arg = "stopwords_dir" if hint == "stopwords" else "flagged_words_dir"
                raise ConfigError(
                    f"needs a local {hint} list: no JSON file with '{hint}' in its name in {name}; set `{arg}` to "
                    f"a directory holding e.g. {hint}.json ({{\"en\": [...]}})", file=file, key=where)
            if kind == "hf":
                if not (hf_cache() / ("models--" + name.replace("/", "--"))).exists():
                    raise ConfigError(f"tokenization=true needs the {hint} '{name}', which is not cached locally "
                                      f"and model hubs are unreachable; use tokenization: false", file=file, key=where)


# -- `juicer-sandbox assets fetch` -------------------------------------------------------------------
DEFAULT_ASSETS = [("language_id_score_filter", {}), ("perplexity_filter", {"lang": "en"}),
                  ("stopwords_filter", {}), ("flagged_words_filter", {})]


def _destination(kind: str, name: str, hint: str) -> str:
    if kind == "model":
        found = [os.path.join(d, name) for d in _model_dirs() if os.path.exists(os.path.join(d, name))]
        return found[0] if found else os.path.join(_model_dirs()[0], name)
    return os.path.join(name, f"{hint}.json")  # words: name is the directory


def _urls(kind: str, name: str, hint: str) -> list[str]:
    """Where Data-Juicer itself downloads the asset from (its own link tables)."""
    import fnmatch

    from data_juicer.utils.asset_utils import ASSET_LINKS
    from data_juicer.utils.model_utils import BACKUP_MODEL_LINKS, MODEL_LINKS

    if kind == "words":
        return [ASSET_LINKS[hint]] if hint in ASSET_LINKS else []
    urls = [MODEL_LINKS.rstrip("/") + "/" + name]
    urls += [base.rstrip("/") + "/" + name for pattern, base in BACKUP_MODEL_LINKS.items()
             if fnmatch.fnmatch(name, pattern) and base.startswith("http")]
    return urls


def _download(urls: list[str], dest: str, timeout: float) -> str | None:
    """Download the first URL that answers to dest (atomically); the error of the last try, or None."""
    import urllib.request

    error = "no download link known"
    for url in urls:
        tmp = dest + ".part"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
                with open(tmp, "wb") as fh:
                    while chunk := resp.read(1 << 20):
                        fh.write(chunk)
            os.replace(tmp, dest)
            return None
        except OSError as exc:  # URLError, timeouts and HTTP errors are OSErrors
            error = f"{url}: {getattr(exc, 'reason', exc)}"
            with contextlib.suppress(OSError):
                os.remove(tmp)
    return error


def wanted_assets(recipes: list[dict]) -> list[tuple[str, str, str]]:
    """(kind, name, hint) of every asset the recipes' ops need, each once, in recipe order."""
    seen, out = set(), []
    for recipe in recipes:
        for _, op, args in iter_ops(recipe):
            for asset in required_assets(op, args or {}):
                if asset not in seen:
                    seen.add(asset)
                    out.append(asset)
    return out


def fetch_assets(recipes: list[dict] | None = None, timeout: float = 30.0, out=print) -> int:
    """Download what is missing; otherwise say which file to put where. Returns the number missing."""
    if recipes is None:
        recipes = [{"process": [{op: args} for op, args in DEFAULT_ASSETS]}]
    missing = 0
    for kind, name, hint in wanted_assets(recipes):
        if kind == "hf":
            out(f"skip:    {hint} '{name}' (HuggingFace hub): use `tokenization: false` in the op")
            continue
        dest = _destination(kind, name, hint)
        present = _have_model(name) if kind == "model" else _have_words(name, hint)
        if present:
            out(f"present: {hint}: {dest if kind == 'model' else name}")
            continue
        error = _download(_urls(kind, name, hint), dest, timeout)
        if error is None:
            out(f"fetched: {hint}: {dest}")
            continue
        missing += 1
        source = ", ".join(_urls(kind, name, hint)) or "(no known link)"
        out(f"missing: {hint}: put the file at {dest} (download from {source}; here: {error})")
    return missing + _report_hub_models(recipes, out)


def _report_hub_models(recipes: list[dict], out) -> int:
    """Hub models are not downloaded here (they are large; transformers fetches them where the network
    allows): one line per model saying where it is, or where to put it. Returns the number missing."""
    seen, missing = set(), 0
    for recipe in recipes:
        for _, op, args in iter_ops(recipe):
            for arg, value in hub_models(op, args or {}):
                if value in seen:
                    continue
                seen.add(value)
                if model_present(value):
                    out(f"present: model {value} ({op}.{arg})")
                    continue
                missing += 1
                where = value if os.path.isabs(value) else hf_cache() / ("models--" + value.replace("/", "--"))
                out(f"missing: model {value} ({op}.{arg}): put it at {where} (e.g. `huggingface-cli download "
                    f"{value}` where the network allows), or set {arg} to a local model directory")
    return missing
