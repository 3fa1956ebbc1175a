"""EvaluateModelHook ``internvl_coco_caption``: COCO-caption scores of InternVL checkpoints (see :mod:`.internvl`).

Also reads InternVL's caption predictions (``results/coco_<time>.json``: ``[{"image_id": int, "caption": str}]``,
written by ``eval/caption/evaluate_caption.py``) so they can be re-scored with :mod:`.caption_metrics`.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import time
from pathlib import Path

from ..errors import SandboxError
from ..families.launch import job_port
from .internvl import _ENV, _PATHS, DIMENSIONS, _existing, _run_bash, _world


def read_predictions(path: str | os.PathLike) -> dict[int, str]:
    """InternVL's caption predictions file as {image_id: caption}; a malformed file is an error naming it."""
    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SandboxError(f"{path}: not a caption predictions file ({exc})") from None
    if not isinstance(rows, list):
        raise SandboxError(f"{path}: expected a JSON list of {{image_id, caption}}, got {type(rows).__name__}")
    out = {}
    for i, row in enumerate(rows):
        if not (isinstance(row, dict) and isinstance(row.get("image_id"), int) and isinstance(row.get("caption"), str)):
            raise SandboxError(f"{path}: item {i} is not {{image_id: int, caption: str}}: {str(row)[:80]}")
        if row["image_id"] in out:
            raise SandboxError(f"{path}: image_id {row['image_id']} is predicted twice (items before {i})")
        out[row["image_id"]] = row["caption"]
    return out


def parse_scores(text: str, where: str) -> dict:
    """The caption scores in an evaluation log: the first ``<dim>: <value>`` line of each dimension, and
    ``avg_score`` (their mean), as the original reads them."""
    result = {}
    for dim in DIMENSIONS:
        m = re.search(rf"{dim}: (.*?)\n", text)
        if m:
            try:
                result[dim] = float(m.group(1))
            except ValueError:
                raise SandboxError(f"{where}: {dim} is not a number: {m.group(1)!r}") from None
    if not result:
        raise SandboxError(f"{where}: no caption scores ({', '.join(DIMENSIONS)}) in the evaluation output")
    result["avg_score"] = sum(result.values()) / len(result)
    return result


def _new_predictions(results_dir: Path, since: float) -> Path | None:
    found = [p for p in results_dir.glob("coco_*.json") if p.stat().st_mtime >= since]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def evaluation_command(ckpt: str, chat_dir: str, gpus: int, port: int) -> str:
    rel = os.path.relpath(os.path.abspath(ckpt), os.path.abspath(chat_dir))  # evaluate.sh prefixes $(pwd)
    return (f"cd {shlex.quote(chat_dir)} && GPUS={gpus} MASTER_PORT={port} bash evaluate.sh "
            f"{shlex.quote(rel)} caption-coco --dynamic")


def evaluate(cfg: dict, run) -> list[dict]:
    chat_dir = os.path.join(cfg["internvl_home"], "internvl_chat")
    ckpts, missing = _existing(cfg.get("ckpt_paths"), "ckpt_paths")
    if missing:
        run.metrics.setdefault("warnings", []).append(f"checkpoints not found, skipped (as the original): {missing}")
    gpus, port = _world(run, cfg), job_port(run.job_id, 63669)
    results = []
    for i, ckpt in enumerate(ckpts):
        out = run.artifacts / "eval" / f"{i}_{os.path.basename(os.path.normpath(ckpt))}"
        log, start = out / "eval_log.txt", time.time()
        out.mkdir(parents=True, exist_ok=True)
        _run_bash(["-c", f"set -o pipefail; {evaluation_command(ckpt, chat_dir, gpus, port)} 2>&1 | tee -a "
                         f"{shlex.quote(str(log))}"], f"evaluating {ckpt}", log, cwd=chat_dir)
        scores = parse_scores(log.read_text(encoding="utf-8", errors="replace"), str(log))
        preds = _new_predictions(Path(chat_dir) / "results", start)
        if preds:
            shutil.copy2(preds, out / preds.name)
        results.append(scores)
    return results


EVAL_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["internvl_home", "ckpt_paths"],
               "properties": {"type": {"type": "string"}, **_ENV, "internvl_home": {"type": "string"},
                              "num_gpus": {"type": "integer", "minimum": 1}, "ckpt_paths": _PATHS}}
MODEL_EVALUATORS = {"internvl_coco_caption": evaluate}
SCHEMAS = {"internvl_coco_caption": EVAL_SCHEMA}
