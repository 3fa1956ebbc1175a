"""The image-to-text miniature's components: unpack a shipped image-caption archive, train the tiny
captioner, evaluate it with caption loss and the COCO caption metrics.

* ``unpack_dataset_archive`` (GeneralDataExecutorHook): a zip archive holding Data-Juicer jsonl files
  and the images they name (``data/image_caption/corpus.zip``) -> its jsonl files under
  ``export_path``, media paths made absolute, then (the runner, ``dj/media.py``) relative to the file
  since the unpacked images lie in the work dir too: a moved work dir keeps them valid; one
  output path per file in ``members`` order (default: the archive's jsonl files, sorted). Members
  must be plain relative paths inside the archive; ``sha256`` (optional) checks the archive first.
* ``image_captioner`` (TrainModelHook): :mod:`..models.captioner` trained for ``max_samples`` pairs
  (fixed budget) on ``dataset_path`` with the shared BPE tokenizer ``tokenizer_path``.
* ``image_caption_eval`` (EvaluateModelHook): held-out caption loss and perplexity, and the greedy
  captions scored with ``metrics`` (default BLEU-1..4, ROUGE-L, CIDEr; add ``METEOR`` where Java and
  the METEOR jar exist: :mod:`.caption_metrics`). Predictions go to ``<export>/predictions.jsonl``,
  per-image scores to ``<export>/caption_scores.jsonl``; ``arm``/``seed``/``pool`` label the result
  for ``arm_ranking``.
"""
from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from ..errors import ComponentConfigError
from ..io import iter_jsonl, write_json, write_jsonl
from .caption_metrics import ALL_METRICS, score_captions
from .config_helpers import one_path

_PATH = {"type": "string", "minLength": 1}
_PATHS = {"type": ["string", "array"], "items": {"type": "string"}}
_LABEL = {"type": ["string", "integer", "null"]}


def _schema(props: dict, required: list[str]) -> dict:
    return {"type": "object", "additionalProperties": False, "required": required,
            "properties": {"type": {"type": "string"}, "export_path": {"type": ["string", "null"]}, **props}}


# -- unpacking ---------------------------------------------------------------------------------------------------
def _safe_member(name: str) -> bool:
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts and "\\" not in name


def _absolute_media(src: Path, dst: Path, keys: list[str]) -> int:
    rows = []
    for row in iter_jsonl(src):
        for key in keys:
            media = row.get(key)
            if isinstance(media, list):
                row[key] = [m if Path(m).is_absolute() else str((src.parent / m).resolve()) for m in media]
        rows.append(row)
    return write_jsonl(dst, rows)


def unpack_dataset_archive(cfg: dict) -> list[str]:
    archive = one_path(cfg, "dataset_path")
    if cfg.get("sha256"):
        digest = hashlib.sha256(Path(archive).read_bytes()).hexdigest()
        if digest != cfg["sha256"]:
            raise ComponentConfigError(f"{archive}: SHA-256 {digest} differs from the expected one", key="sha256")
    out = Path(cfg["export_path"])
    raw_dir = out / "archive"
    if raw_dir.exists():
        shutil.rmtree(raw_dir)
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise ComponentConfigError(f"{archive}: not a zip archive ({exc})", key="dataset_path") from None
    with zf:
        names = zf.namelist()
        bad = [n for n in names if not _safe_member(n)]
        if bad:
            raise ComponentConfigError(f"{archive}: unsafe member path {bad[0]!r}", key="dataset_path")
        members = cfg.get("members") or sorted(n for n in names if n.endswith(".jsonl"))
        missing = [m for m in members if m not in names]
        if missing:
            raise ComponentConfigError(f"{archive} has no member {missing[0]!r} (it has {len(names)} files)",
                                       key="members")
        zf.extractall(raw_dir)
    outputs = []
    for m in members:
        dst = out / PurePosixPath(m).name
        _absolute_media(raw_dir / m, dst, cfg.get("media_keys") or ["images", "videos", "audios"])
        outputs.append(str(dst))
    return outputs


# -- training and evaluation -----------------------------------------------------------------------------------
def train_image_captioner(cfg: dict, run) -> str:
    from ..models.captioner_train import DEFAULTS, train_captioner

    trainer_cfg = {k: cfg[k] for k in DEFAULTS if cfg.get(k) is not None}
    trainer_cfg.setdefault("seed", run.seed)
    out = Path(cfg["export_path"])
    metrics = train_captioner(trainer_cfg, one_path(cfg, "dataset_path"), out, cfg["tokenizer_path"],
                              threads=run.threads)
    run.metrics.update(metrics)
    return str(out / "model")


def evaluate_image_captioner(cfg: dict, run) -> dict:
    from ..models.captioner_train import evaluate_captioner

    metrics, refs, preds = evaluate_captioner(
        cfg["model_path"], one_path(cfg, "val_path"), threads=getattr(run, "threads", 1),
        max_new_tokens=cfg.get("max_new_tokens"), image_key=cfg.get("image_key", "images"),
        text_key=cfg.get("text_key", "text"))
    out = Path(cfg["export_path"])
    write_jsonl(out / "predictions.jsonl", [{"id": i, "caption": c} for i, c in preds.items()])
    names = cfg.get("metrics") or [m for m in ALL_METRICS if m != "METEOR"]
    scores, per_image = score_captions(refs, preds, names, meteor_jar=cfg.get("meteor_jar"))
    write_jsonl(out / "caption_scores.jsonl", per_image)
    metrics.update(scores)
    metrics["empty_predictions"] = sum(1 for c in preds.values() if not c)
    for key in ("arm", "seed", "pool"):
        if cfg.get(key) is not None:
            metrics[key] = cfg[key]
    write_json(out / "metrics.json", metrics)
    return metrics


def _arch_props() -> dict:
    pos = {"type": "integer", "minimum": 1}
    return {"image_size": {"type": "integer", "minimum": 8, "multipleOf": 8, "default": 32},
            "n_layer": {**pos, "default": 2}, "d_model": {**pos, "default": 128}, "n_head": {**pos, "default": 4},
            "max_caption_tokens": {**pos, "default": 24}, "enc_channels": {**pos, "default": 32},
            "batch_size": {**pos, "default": 64},
            "max_samples": {**pos, "default": 64000, "description": "budget in image-caption pairs"},
            "lr": {"type": "number", "exclusiveMinimum": 0, "default": 2e-3},
            "warmup": {"type": "number", "minimum": 0, "default": 0.05},
            "min_lr_ratio": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.1},
            "weight_decay": {"type": "number", "minimum": 0, "default": 0.1},
            "betas": {"type": "array", "items": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                      "minItems": 2, "maxItems": 2},
            "grad_clip": {"type": ["number", "null"], "exclusiveMinimum": 0, "default": 1.0},
            "seed": {"type": "integer"}, "image_key": {"type": "string", "minLength": 1},
            "text_key": {"type": "string", "minLength": 1}}


CONVERTERS = {"unpack_dataset_archive": unpack_dataset_archive}
TRAINERS = {"image_captioner": train_image_captioner}
MODEL_EVALUATORS = {"image_caption_eval": evaluate_image_captioner}
SCHEMAS = {
    "unpack_dataset_archive": _schema({
        "dataset_path": _PATHS, "members": {"type": "array", "items": _PATH, "minItems": 1},
        "sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
        "media_keys": {"type": "array", "items": _PATH}}, ["dataset_path"]),
    "image_captioner": _schema({**_arch_props(), "dataset_path": _PATHS, "tokenizer_path": _PATH},
                               ["dataset_path", "tokenizer_path"]),
    "image_caption_eval": _schema({
        "model_path": _PATH, "val_path": _PATHS, "max_new_tokens": {"type": ["integer", "null"], "minimum": 1},
        "metrics": {"type": "array", "items": {"enum": list(ALL_METRICS)}, "minItems": 1},
        "meteor_jar": {"type": ["string", "null"]}, "image_key": {"type": "string"}, "text_key": {"type": "string"},
        "arm": _LABEL, "seed": {"type": ["integer", "null"]}, "pool": _LABEL}, ["model_path", "val_path"]),
}

__all__ = ["CONVERTERS", "TRAINERS", "MODEL_EVALUATORS", "SCHEMAS", "unpack_dataset_archive",
           "train_image_captioner", "evaluate_image_captioner"]
