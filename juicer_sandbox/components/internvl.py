"""InternVL COCO-caption fine-tuning and evaluation: the original DJ-Sandbox's ``internvl_coco_caption``.

TrainModelHook ``internvl_coco_caption`` (the original's ``InternVLCOCOCaptionTrainExecutor``): for each meta
file in ``meta_paths`` it writes one LoRA fine-tuning script of InternVL2 (InternVL's
``internvl/train/internvl_chat_finetune.py`` with the original's arguments: LoRA rank 128 on the LLM,
frozen backbone and MLP, DeepSpeed ZeRO-1, total batch 512 = GPUs x ``batch_size_per_device`` x gradient
accumulation) and runs them one after the other from ``<internvl_home>/internvl_chat``. It returns the
output directories. Keys as in the original: ``internvl_home``, ``num_gpus``, ``batch_size_per_device``
(default 4), ``model_name_or_path``, ``conv_style_or_scale`` (1B/40B -> Hermes-2, 2B/8B/26B/76B ->
internlm2-chat, 4B -> phi3-chat, or the style itself), ``meta_paths``, ``work_dir``, ``script_dir``.

EvaluateModelHook ``internvl_coco_caption`` (``InternVLCOCOCaptionEvaluator``): for each existing checkpoint
of ``ckpt_paths`` it runs ``GPUS=n bash evaluate.sh <ckpt relative to internvl_chat> caption-coco --dynamic``
and reads ``Bleu_1..4, METEOR, ROUGE_L, CIDEr`` from its output (the first ``<name>: <value>`` line of each,
as pycocoevalcap prints them); ``avg_score`` is their mean. Returns one dict per checkpoint, in order (what
``data_pool_ranking`` ranks by ``avg_score``). The predictions InternVL writes (``results/coco_<time>.json``,
``[{"image_id", "caption"}]``) are copied into the job's artifacts.

Deliberate differences, each fixing a problem of the original:

* outputs go to the job's artifacts (``work_dirs/<meta>_<model>``, ``scripts/``, ``eval/<n>_<ckpt>/eval_log.txt``),
  not to ``work_dir`` / ``script_dir`` / the checkpoint directory (another job's output); those keys are accepted;
* the world size is the GPUs the job holds (it asks the scheduler for ``num_gpus``) and each job gets its own
  rendezvous port (the original: all GPUs of the machine, port 34229 for every job);
* a failing training or evaluation fails the job (the original's ``| tee`` hid the exit code), and an
  evaluation log without scores is an error naming the log (the original divided by zero);
* the environment is the family's (``envs/internvl.yaml``), built by Snakemake; nothing is pip-installed.
"""
from __future__ import annotations

import ast
import os
import shlex
import subprocess
import sys
from pathlib import Path

from ..errors import ComponentConfigError, SandboxError
from ..families.launch import command, job_port

SCALE_MAPPING = {"1B": "Hermes-2", "2B": "internlm2-chat", "4B": "phi3-chat", "8B": "internlm2-chat",
                 "26B": "internlm2-chat", "40B": "Hermes-2", "76B": "internlm2-chat"}
TOTAL_BATCH_SIZE = 512
DIMENSIONS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")
TRAIN_SCRIPT = "internvl/train/internvl_chat_finetune.py"
# the original's fixed arguments of internvl_chat_finetune.py, in its order
FIXED_ARGS = [
    ("--overwrite_output_dir", "True"), ("--force_image_size", "448"), ("--max_dynamic_patch", "6"),
    ("--down_sample_ratio", "0.5"), ("--drop_path_rate", "0.0"), ("--freeze_llm", "True"), ("--freeze_mlp", "True"),
    ("--freeze_backbone", "True"), ("--use_llm_lora", "128"), ("--vision_select_layer", "-1"),
    ("--dataloader_num_workers", "4"), ("--bf16", "True"), ("--num_train_epochs", "1"),
    ("--per_device_train_batch_size", "${PER_DEVICE_BATCH_SIZE}"), ("--gradient_accumulation_steps", "${GRADIENT_ACC}"),
    ("--evaluation_strategy", "no"), ("--save_strategy", "steps"), ("--save_steps", "200"),
    ("--save_total_limit", "1"), ("--learning_rate", "4e-5"), ("--weight_decay", "0.01"), ("--warmup_ratio", "0.03"),
    ("--lr_scheduler_type", "cosine"), ("--logging_steps", "1"), ("--max_seq_length", "4096"), ("--do_train", "True"),
    ("--grad_checkpoint", "True"), ("--group_by_length", "True"), ("--dynamic_image_size", "True"),
    ("--use_thumbnail", "True"), ("--ps_version", "v2"), ("--deepspeed", "zero_stage1_config.json"),
    ("--report_to", "tensorboard"),
]
_ENV = {"env_name": {}, "env_manager": {}, "env_params": {}}  # taken out when planning (config/compat.py)
_PATHS = {"type": ["string", "array"], "items": {"type": "string"}}


def conv_style(value) -> str:
    if value in SCALE_MAPPING:
        return SCALE_MAPPING[value]
    if value in SCALE_MAPPING.values():
        return value
    raise ComponentConfigError(f"conv_style_or_scale {value!r} is not supported (scales: {', '.join(SCALE_MAPPING)}; "
                               f"styles: {', '.join(sorted(set(SCALE_MAPPING.values())))})", key="conv_style_or_scale")


def check_batch(world: int, per_device: int) -> None:
    if per_device <= 0:
        raise ComponentConfigError("must be greater than 0", key="batch_size_per_device")
    step = world * per_device
    if step > TOTAL_BATCH_SIZE or TOTAL_BATCH_SIZE % step:
        raise ComponentConfigError(f"GPUs x batch_size_per_device = {world} x {per_device} = {step} must divide the "
                                   f"total batch size {TOTAL_BATCH_SIZE}", key="batch_size_per_device")


def run_name(meta_path: str, model: str) -> str:
    return f"{os.path.splitext(os.path.basename(meta_path))[0]}_{os.path.splitext(os.path.basename(model))[0]}"


def training_script(*, home: str, world: int, per_device: int, output_dir: str, model: str, style: str,
                    meta_path: str, port: int, python: str) -> str:
    """The bash script of one fine-tuning run (the original's template, launched through torchrun with the
    job's world size; ``set -o pipefail`` so a failed run fails the script despite ``| tee``)."""
    args = ["--model_name_or_path", model, "--conv_style", style, "--output_dir", "${OUTPUT_DIR}",
            "--meta_path", meta_path]
    for flag, value in FIXED_ARGS:
        args += [flag, value]
    cmd = command("torchrun", world, TRAIN_SCRIPT, args, port=port, python=python)
    cut = cmd.index(TRAIN_SCRIPT)
    lines = [" ".join(map(shlex.quote, cmd[:3]))] + [shlex.quote(a) for a in cmd[3:cut + 1]]
    lines += [f"{flag} {_q(value)}" for flag, value in zip(args[::2], args[1::2])]
    quoted = " \\\n  ".join(lines)
    return "\n".join([
        "set -x", "set -o pipefail", "", f"cd {shlex.quote(os.path.join(home, 'internvl_chat'))}", "",
        f"GPUS={world}", "BATCH_SIZE=${BATCH_SIZE:-512}", f"PER_DEVICE_BATCH_SIZE={per_device}",
        "GRADIENT_ACC=$((BATCH_SIZE / PER_DEVICE_BATCH_SIZE / GPUS))", "",
        'export PYTHONPATH="${PYTHONPATH}:$(pwd)"', f"export MASTER_PORT={port}", "export TF_CPP_MIN_LOG_LEVEL=3",
        "export LAUNCHER=pytorch", "", f"OUTPUT_DIR={shlex.quote(output_dir)}", 'mkdir -p "$OUTPUT_DIR"', "",
        f"{quoted} \\\n  2>&1 | tee -a \"${{OUTPUT_DIR}}/training_log.txt\"", ""])


def _q(value: str) -> str:
    return f'"{value}"' if value.startswith("${") else shlex.quote(value)


def parse_training_log(text: str) -> list[dict]:
    """The trainer's log records (``{'loss': 2.055, 'learning_rate': 3e-05, 'epoch': 0.02}``, with or without
    ``grad_norm``), read as Python literals (never evaluated as code)."""
    records = []
    for line in text.splitlines():
        line = line.strip()
        if not (line.startswith("{'loss'") and line.endswith("}")):
            continue
        try:
            rec = ast.literal_eval(line)
        except (ValueError, SyntaxError):
            continue
        if isinstance(rec, dict) and isinstance(rec.get("loss"), (int, float)):
            records.append({k: float(v) for k, v in rec.items() if isinstance(v, (int, float))})
    return records


def _existing(paths, key: str) -> tuple[list[str], list[str]]:
    paths = [paths] if isinstance(paths, str) else list(paths or [])
    found = [p for p in paths if os.path.exists(p)]
    missing = [p for p in paths if not os.path.exists(p)]
    if not found:
        raise ComponentConfigError(f"none of {paths} exists", key=key)
    return found, missing


def _world(run, cfg: dict) -> int:
    return len(run.devices) if run.devices else int(cfg.get("num_gpus") or 1)


def _run_bash(args: list[str], what: str, log_path: Path, cwd: str | None = None) -> None:
    """Run bash with the job's stdout (its log, so progress shows); the command tees into ``log_path`` itself."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["bash", *args], cwd=cwd)
    if proc.returncode != 0:
        raise SandboxError(f"internvl_coco_caption: {what} failed (exit {proc.returncode}); see {log_path}")


def train(cfg: dict, run) -> list[str]:
    home = cfg["internvl_home"]
    world, per_device = _world(run, cfg), int(cfg.get("batch_size_per_device", 4))
    check_batch(world, per_device)
    style = conv_style(cfg.get("conv_style_or_scale"))
    metas, missing = _existing(cfg.get("meta_paths"), "meta_paths")
    if missing:
        run.metrics.setdefault("warnings", []).append(f"meta files not found, skipped (as the original): {missing}")
    model, port = cfg["model_name_or_path"], job_port(run.job_id, 34229)
    outputs, runs = [], {}
    for meta in metas:
        name = run_name(meta, model)
        out = run.artifacts / "work_dirs" / name
        script = run.artifacts / "scripts" / f"{name}.sh"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(training_script(home=home, world=world, per_device=per_device, output_dir=str(out),
                                          model=model, style=style, meta_path=os.path.abspath(meta), port=port,
                                          python=sys.executable), encoding="utf-8")
        _run_bash([str(script)], f"training {name}", out / "training_log.txt")
        records = parse_training_log((out / "training_log.txt").read_text(encoding="utf-8", errors="replace"))
        runs[name] = {"steps": len(records), "final_loss": records[-1]["loss"] if records else None}
        outputs.append(str(out))
    run.metrics.update({"world_size": world, "runs": runs})
    return outputs


TRAIN_SCHEMA = {"type": "object", "additionalProperties": False,
                "required": ["internvl_home", "model_name_or_path", "conv_style_or_scale", "meta_paths"],
                "properties": {"type": {"type": "string"}, **_ENV, "internvl_home": {"type": "string"},
                               "num_gpus": {"type": "integer", "minimum": 1},
                               "batch_size_per_device": {"type": "integer", "minimum": 1},
                               "work_dir": {"type": ["string", "null"]}, "script_dir": {"type": ["string", "null"]},
                               "model_name_or_path": {"type": "string"},
                               "conv_style_or_scale": {"enum": [*SCALE_MAPPING, *sorted(set(SCALE_MAPPING.values()))]},
                               "meta_paths": _PATHS}}
TRAINERS = {"internvl_coco_caption": train}
SCHEMAS = {"internvl_coco_caption": TRAIN_SCHEMA}
