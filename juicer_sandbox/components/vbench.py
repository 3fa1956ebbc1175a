"""The original DJ-Sandbox's ``vbench_video_evaluator`` (EvaluateDataHook), by its names and keys.

As the original's ``VBenchEvaluator``: for each dimension of ``dimension_list`` it runs

    vbench evaluate --ngpus N --full_json_dir F --output_path O --videos_path V --dimension D
                    --load_ckpt_from_local L 2>&1 | tee -a "O/eval_log_D.txt"

(the exact command text: :func:`vbench_commands`, golden in ``tests/golden/t2v/original_commands.json``),
finds ``Evaluation results saved to X.json`` in that log, takes ``X.json[D][0]`` (VBench's result file:
``{dimension: [score, [{"video_path": ..., "video_results": ...}, ...]]}``), writes
``O/<eval_name>_merged_results.json`` = ``{"mean_score", "detail": {dimension: score}}`` and returns
``float(mean_score)``. Differences, each for a reason:

* ``O`` is the job's artifacts (``output_path``, when given, gets a copy, as every export here);
* ``num_gpus`` defaults to the GPUs the job holds (the original: every GPU of the machine);
* the command runs with ``pipefail``: a failing ``vbench`` fails the job at once, instead of the
  original's later "Cannot find the result json file";
* ``full_json_dir`` may be left out (VBench's own prompt suite is used); ``dimension_list`` defaults
  to VBench's 16 dimensions (the original required both);
* with ``arm`` (this project's key, for ``arm_ranking``) the result is ``{arm, mean_score, detail}``.

VBench loads its checkpoints from ``$VBENCH_CACHE_DIR`` (default ``~/.cache/vbench``) and downloads
missing ones there; the job checks that the directory exists before it starts, so nothing is fetched
from a hub unless you put it there. Note: VBench parses ``--load_ckpt_from_local`` with ``type=bool``, so
any value, ``False`` included, means "load from the local cache" (the original passes ``False``).
"""
from __future__ import annotations

import json
import os
import re
import subprocess

from ..errors import SandboxError

DIMENSIONS = ("subject_consistency", "background_consistency", "temporal_flickering", "motion_smoothness",
              "dynamic_degree", "aesthetic_quality", "imaging_quality", "object_class", "multiple_objects",
              "human_action", "color", "spatial_relationship", "scene", "temporal_style", "appearance_style",
              "overall_consistency")
_SAVED = re.compile(r"Evaluation results saved to (.*?).json")


def plan_paths(extra: dict, cwd: str | None = None) -> None:
    """The original's output_path is where results go: it is this job's export."""
    if extra.get("output_path") and not extra.get("export_path"):
        extra["export_path"] = extra["output_path"]


def vbench_commands(cfg: dict, ngpus: int, output_path: str) -> list[tuple[str, str, str]]:
    """(dimension, shell command, log path) per dimension, as the original builds them."""
    out = []
    for dimension in cfg.get("dimension_list") or DIMENSIONS:
        log = os.path.join(output_path, f"eval_log_{dimension}.txt")
        full = f"--full_json_dir {cfg['full_json_dir']} " if cfg.get("full_json_dir") else ""
        cmd = (f"vbench evaluate --ngpus {ngpus} {full}"
               f"--output_path {output_path} --videos_path {cfg['videos_path']} "
               f"--dimension {dimension} --load_ckpt_from_local {cfg.get('load_ckpt_from_local', False)} 2>&1"
               f' | tee -a "{log}"')
        out.append((dimension, cmd, log))
    return out


def result_file_from_log(text: str, log: str = "the VBench log") -> str:
    """The result JSON named by VBench's last words in a log (the original's regex: its first match)."""
    found = _SAVED.findall(text)
    if not found:
        raise SandboxError(f"vbench_video_evaluator: {log} does not say 'Evaluation results saved to ...json' "
                           f"(VBench did not finish; see the log)")
    return f"{found[0]}.json"


def dimension_score(result_file: str, dimension: str) -> float:
    """``results[dimension][0]`` of a VBench result file, checked."""
    try:
        with open(result_file, encoding="utf-8") as fh:
            results = json.load(fh)
    except (OSError, ValueError) as exc:
        raise SandboxError(f"vbench_video_evaluator: cannot read VBench's result file {result_file}: {exc}") from None
    entry = results.get(dimension) if isinstance(results, dict) else None
    if not isinstance(entry, list) or not entry or isinstance(entry[0], bool) \
            or not isinstance(entry[0], (int, float)):
        raise SandboxError(f"vbench_video_evaluator: {result_file} has no [score, per-video results] for "
                           f"{dimension!r} (keys: {', '.join(results) if isinstance(results, dict) else '-'})")
    return float(entry[0])


def merge(scores: dict[str, float]) -> dict:
    return {"mean_score": sum(scores.values()) / len(scores), "detail": dict(scores)}


def _ngpus(cfg: dict) -> int:
    held = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip() and d.strip() != "-1"]
    n = cfg.get("num_gpus") or len(held)
    if n <= 0:
        raise SandboxError("vbench_video_evaluator: no GPU: VBench evaluates on CUDA GPUs (ask for one with "
                           "`resources: {gpus: 1}` or num_gpus)")
    return min(n, len(held)) if held else n


def _check_inputs(cfg: dict) -> None:
    if not cfg.get("videos_path"):
        hint = (" (model_path names a model, not videos: generate them with InferModelHook easyanimate and give "
                "its output as videos_path)") if cfg.get("model_path") else ""
        raise SandboxError(f"vbench_video_evaluator: videos_path (the directory of generated videos) is not set{hint}")
    if not os.path.isdir(cfg["videos_path"]):
        raise SandboxError(f"vbench_video_evaluator: videos_path {cfg['videos_path']} is not a directory")
    cache = os.environ.get("VBENCH_CACHE_DIR") or os.path.expanduser("~/.cache/vbench")
    if not os.path.isdir(cache):
        raise SandboxError(f"vbench_video_evaluator: VBench's checkpoint cache {cache} does not exist: download "
                           f"VBench's checkpoints there once (or set VBENCH_CACHE_DIR); jobs do not fetch them")


def vbench_video_evaluator(cfg: dict):
    _check_inputs(cfg)
    output_path = cfg["export_path"]
    os.makedirs(output_path, exist_ok=True)
    scores = {}
    for dimension, cmd, log in vbench_commands(cfg, _ngpus(cfg), output_path):
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd])
        if proc.returncode != 0:
            raise SandboxError(f"vbench_video_evaluator: `vbench evaluate` for {dimension} exited with "
                               f"{proc.returncode} (log: {log})")
        with open(log, encoding="utf-8", errors="replace") as fh:
            scores[dimension] = dimension_score(result_file_from_log(fh.read(), log), dimension)
    result = merge(scores)
    with open(os.path.join(output_path, f"{cfg.get('eval_name', 'vbench_evaluator')}_merged_results.json"), "w",
              encoding="utf-8") as fh:
        json.dump(result, fh)
    if cfg.get("arm") is None:
        return float(result["mean_score"])
    return {"arm": cfg["arm"], **{k: cfg[k] for k in ("seed", "pool") if cfg.get(k) is not None}, **result}


_STR = {"type": ["string", "null"]}
DATA_EVALUATORS = {"vbench_video_evaluator": vbench_video_evaluator}
SCHEMAS = {"vbench_video_evaluator": {
    "type": "object", "additionalProperties": False,
    "properties": {"type": {"type": "string"}, "eval_name": {"type": "string"}, "full_json_dir": _STR,
                   "output_path": _STR, "videos_path": _STR, "export_path": _STR,
                   "dimension_list": {"type": "array", "minItems": 1, "items": {"enum": list(DIMENSIONS)}},
                   "load_ckpt_from_local": {"type": ["boolean", "string"]},
                   "num_gpus": {"type": ["integer", "null"], "minimum": 1},
                   "model_path": _STR, "arm": {"type": ["string", "number", "null"]},
                   "seed": {"type": ["integer", "null"]}, "pool": _STR}}}
PLAN_PATHS = {"vbench_video_evaluator": plan_paths}
