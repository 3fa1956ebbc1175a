"""The original DJ-Sandbox's ``easyanimate`` TrainModelHook (LoRA) and InferModelHook, by its names and keys.

The original runs, in EasyAnimate's checkout (its ``thirdparty/models/EasyAnimate`` with DJ-Sandbox's
patch, at EasyAnimate commit ``b54412ce``), ``bash train_lora.sh`` with 14 positional values from
``train.{model_path, dataset_path, training_config, saving_config, tracker_config}`` and ``bash
infer_lora.sh`` with 11 from ``train.{model_path, infer_config, saving_config}``; those scripts launch
``accelerate launch train_lora.py ...`` and one ``python infer_lora.py ... --chunk_id=i`` per GPU.
Here the same processes are launched directly, with exactly the arguments those scripts pass
(``tests/golden/t2v/original_commands.json``, recorded from the original's scripts), so that:

* training goes through the family's launcher with the job's world size (one process per GPU the job
  holds; the original left that to accelerate's default config), and keys of ``training_config``
  beyond the original's seven are passed on to ``train_lora.py`` as ``--key=value`` (they must be
  arguments of the pinned ``train_lora.py``: :data:`TRAIN_LORA_OPTIONS`);
* inference runs one chunk per GPU the job holds, each on its own device (the original used devices
  ``0..gpu_num-1`` whatever the node gave the job);
* paths are absolute. The original's relative paths are relative to its EasyAnimate home
  ``<cwd>/thirdparty/models/EasyAnimate`` (its configs say so: ``../../../outputs/...``), but it
  returned ``os.path.abspath`` of them against the cwd, a wrong path (its bug 15). Here they are
  resolved against that same home at plan time (:func:`resolve_paths`), so the written configs mean
  what they meant, jobs that read them depend on the job that writes them, and the returned path is right.

Outputs: train returns its output directory (as the original) holding ``checkpoint-<step>.safetensors``;
metrics: the checkpoints, the last step and ``step_loss`` read from the training log. Infer returns the
video directory (``<prompt>-<i>.mp4``); metrics: videos written against prompts x video_num_per_prompt.
A ``lora_path`` naming a directory means its latest checkpoint.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from ..errors import SandboxError

ORIGINAL_HOME = os.path.join("thirdparty", "models", "EasyAnimate")  # the original's home, relative to the cwd
MODEL_CONFIG = "config/easyanimate_video_motion_module_v1.yaml"  # what train_lora.sh / infer_lora.sh pass
# train.training_config keys of the original, in train_lora.sh's order, with the values of its model_train.yaml
# (used when a key is absent; the original then failed with AttributeError)
TRAINING_DEFAULTS = {"sample_size": 256, "mixed_precision": "bf16", "batch_size_per_gpu": 8,
                     "gradient_accumulation_steps": 1, "num_train_epochs": 1, "dataloader_num_workers": 8, "seed": 42}
INFER_DEFAULTS = {"image_size": 256, "gpu_num": 1, "batch_size": 8, "mixed_precision": "bf16",
                  "video_num_per_prompt": 5, "seed": 43}
#: arguments of the pinned train_lora.py (DJ-Sandbox's patch) that training_config may add
TRAIN_LORA_OPTIONS = frozenset("""input_perturbation revision variant max_train_samples validation_prompts
validation_images cache_dir random_flip train_batch_size vae_mini_batch max_train_steps gradient_checkpointing
learning_rate scale_lr lr_scheduler lr_warmup_steps use_8bit_adam allow_tf32 non_ema_revision adam_beta1 adam_beta2
adam_weight_decay adam_epsilon max_grad_norm prediction_type logging_dir report_to checkpointing_steps
checkpoints_total_limit resume_from_checkpoint enable_xformers_memory_efficient_attention validation_epochs
validation_steps rank network_alpha train_text_encoder snr_loss random_ratio_crop random_frame_crop
train_sampling_steps sample_stride sample_n_frames vae_path""".split())
# path keys under `train`, resolved against the original's home; weights stay hub ids when they do not look
# like paths (the family's weight check then looks for them in the caches)
_PATHS = ("dataset_path.dataset_name", "dataset_path.dataset_meta_name", "saving_config.output_dir",
          "model_path.lora_path", "infer_config.prompt_info_path", "saving_config.output_video_dir")
_WEIGHTS = ("model_path.pretrained_model_name_or_path", "model_path.transformer_path")


def _get(cfg: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(cfg, dict):
            return None
        cfg = cfg.get(part)
    return cfg


def _set(cfg: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        cfg = cfg.setdefault(part, {})
    cfg[leaf] = value


def _require_base_model(train: dict) -> None:
    if not _get(train, "model_path.pretrained_model_name_or_path"):
        raise SandboxError("easyanimate: train.model_path.pretrained_model_name_or_path (the base model directory) "
                           "is not set")


def resolve_paths(extra: dict, cwd: str | None = None) -> None:
    """Make the relative paths of an easyanimate config absolute, against the original's EasyAnimate home
    (``<cwd>/thirdparty/models/EasyAnimate``), and name the output directory as the job's export (in place;
    idempotent). A ``train.dataset_path`` given as a string (a converted dataset) is the meta file."""
    train = extra.get("train")
    if not isinstance(train, dict):
        return
    home = os.path.join(os.path.abspath(cwd or os.getcwd()), ORIGINAL_HOME)
    if isinstance(train.get("dataset_path"), str):
        train["dataset_path"] = {"dataset_name": "", "dataset_meta_name": train["dataset_path"]}
    for key in _PATHS + _WEIGHTS:
        value = _get(train, key)
        if not isinstance(value, str) or not value or os.path.isabs(value) or value.startswith("<"):
            continue
        resolved = os.path.normpath(os.path.join(home, value))
        if key in _WEIGHTS and not value.startswith(".") and not os.path.exists(resolved):
            continue  # a hub id (or a path relative to the cwd, which the weight check names)
        _set(train, key, resolved)
    out = _get(train, "saving_config.output_dir") or _get(train, "saving_config.output_video_dir")
    if out and not extra.get("export_path"):
        extra["export_path"] = out


# -- command lines -----------------------------------------------------------------------------------
def _bash_double_quoted(text: str) -> str:
    return re.sub(r'\\([$`"\\\n])', r"\1", text)


def validation_prompt(home: str) -> str | None:
    """The validation prompt train_lora.sh of the checkout passes (its VALIDATION_PROMPTS line)."""
    try:
        script = Path(home, "train_lora.sh").read_text(encoding="utf-8")
    except OSError:
        return None
    found = re.search(r'^VALIDATION_PROMPTS="((?:[^"\\]|\\.)*)"', script, re.M)
    return _bash_double_quoted(found.group(1)) if found else None


def _option(key: str, value) -> str:
    if isinstance(value, bool):
        value = str(value).lower()
    return f"--{key}={value}"


def train_lora_args(cfg: dict, prompt: str | None) -> list[str]:
    """Arguments of ``train_lora.py``: exactly what the original's train_lora.sh passes, then the extra
    training_config keys as ``--key=value`` (later options win in argparse)."""
    t = cfg["train"]
    _require_base_model(t)
    tc = {**TRAINING_DEFAULTS, **(t.get("training_config") or {})}
    tracker = t.get("tracker_config") or {}
    args = [
        "--config_path", MODEL_CONFIG,
        f"--pretrained_model_name_or_path={_get(t, 'model_path.pretrained_model_name_or_path')}",
        f"--transformer_path={_get(t, 'model_path.transformer_path')}",
        f"--train_data_dir={_get(t, 'dataset_path.dataset_name') or ''}",
        f"--train_data_meta={_get(t, 'dataset_path.dataset_meta_name')}",
        f"--sample_size={tc['sample_size']}", "--sample_n_frames=16", "--sample_stride=2",
        f"--train_batch_size={tc['batch_size_per_gpu']}",
        f"--gradient_accumulation_steps={tc['gradient_accumulation_steps']}",
        f"--num_train_epochs={tc['num_train_epochs']}", f"--dataloader_num_workers={tc['dataloader_num_workers']}",
        "--checkpointing_steps=1000",
        *([f"--validation_prompts={prompt}"] if prompt is not None else []),
        f"--output_dir={cfg['export_path']}", "--validation_steps=500", "--learning_rate=2e-05", f"--seed={tc['seed']}",
        "--enable_xformers_memory_efficient_attention", "--gradient_checkpointing", "--adam_weight_decay=3e-2",
        "--adam_epsilon=1e-10", "--vae_mini_batch=1", "--report_to=wandb",
        f"--tracker_project_name={tracker.get('project_name', 'juicer-sandbox')}",
        f"--tracker_experiment_name={tracker.get('experiment_name', 'easyanimate-lora')}",
    ]
    extra = {k: v for k, v in tc.items() if k not in TRAINING_DEFAULTS}
    unknown = sorted(k for k in extra if k not in TRAIN_LORA_OPTIONS)
    if unknown:
        raise SandboxError(f"easyanimate: train.training_config key(s) {', '.join(unknown)} are not options of "
                           f"the pinned train_lora.py (known: see components/easyanimate.py TRAIN_LORA_OPTIONS)")
    return args + [_option(k, v) for k, v in extra.items() if v is not None]


def latest_checkpoint(path: str) -> str:
    """A LoRA file: the path itself, or in a directory its ``checkpoint-<step>.safetensors`` of the last step."""
    if not os.path.isdir(path):
        return path
    found = sorted((int(m.group(1)), name) for name in os.listdir(path)
                   if (m := re.fullmatch(r"checkpoint-(\d+)\.safetensors", name)))
    if not found:
        raise SandboxError(f"easyanimate: lora_path {path} is a directory without checkpoint-<step>.safetensors")
    return os.path.join(path, found[-1][1])


def infer_lora_commands(cfg: dict, devices: list[str], python: str | None = None) -> list[tuple[dict, list[str]]]:
    """(env, argv) per chunk: what infer_lora.sh starts, one chunk per device the job holds."""
    t = cfg["train"]
    _require_base_model(t)
    ic = {**INFER_DEFAULTS, **(t.get("infer_config") or {})}
    unknown = sorted(set(ic) - set(INFER_DEFAULTS) - {"prompt_info_path"})
    if unknown:  # infer_lora.py fixes 16 frames at 12 fps, guidance 6.0, 30 DPM++ steps, LoRA weight 0.55
        raise SandboxError(f"easyanimate: train.infer_config key(s) {', '.join(unknown)} are not read by the pinned "
                           f"infer_lora.py (it takes {', '.join(sorted(INFER_DEFAULTS))}, prompt_info_path)")
    lora = _get(t, "model_path.lora_path")
    n = max(1, len(devices))
    out = []
    for i in range(n):
        argv = [python or sys.executable, "infer_lora.py",
                f"--prompt_info_path={ic['prompt_info_path']}", "--config_path", MODEL_CONFIG,
                f"--pretrained_model_name_or_path={_get(t, 'model_path.pretrained_model_name_or_path')}",
                f"--transformer_path={_get(t, 'model_path.transformer_path')}",
                f"--lora_path={latest_checkpoint(lora) if lora else lora}", f"--image_size={ic['image_size']}",
                f"--chunks_num={n}", f"--chunk_id={i}", f"--batch_size={ic['batch_size']}",
                f"--video_num_per_prompt={ic['video_num_per_prompt']}", f"--mixed_precision={ic['mixed_precision']}",
                f"--save_path={cfg['export_path']}", f"--seed={ic['seed']}"]
        out.append(({"CUDA_VISIBLE_DEVICES": devices[i]} if devices else {}, argv))
    return out


# -- parsing what the tools wrote -------------------------------------------------------------------------
_STEP_LOSS = re.compile(r"step_loss=([-+0-9.eE]+|nan|inf)")


def parse_train_log(lines) -> dict:
    """``step_loss`` values from train_lora.py's progress bar (``Steps: ..., step_loss=0.12, lr=2e-05``)."""
    losses = [float(m.group(1)) for line in lines for m in _STEP_LOSS.finditer(line)]
    return {"step_loss": losses[-1], "n_loss_reports": len(losses)} if losses else {}


def train_outputs(output_dir: str) -> dict:
    steps = sorted(int(m.group(1)) for name in (os.listdir(output_dir) if os.path.isdir(output_dir) else [])
                   if (m := re.fullmatch(r"checkpoint-(\d+)\.safetensors", name)))
    if not steps:
        raise SandboxError(f"easyanimate: training wrote no checkpoint-<step>.safetensors in {output_dir} "
                           f"(see the job log)")
    return {"checkpoints": [f"checkpoint-{s}.safetensors" for s in steps], "last_step": steps[-1],
            "final_checkpoint": os.path.join(output_dir, f"checkpoint-{steps[-1]}.safetensors")}


def infer_outputs(video_dir: str, prompt_info_path: str, per_prompt: int) -> dict:
    """Videos infer_lora.py wrote (``<prompt>-<i>.mp4``) against the prompts of prompt_info_path."""
    with open(prompt_info_path, encoding="utf-8") as fh:
        prompts = [d["prompt_en"] for d in json.load(fh)]
    names = set(os.listdir(video_dir)) if os.path.isdir(video_dir) else set()
    missing = [p for p in prompts if any(f"{p}-{i}.mp4" not in names for i in range(per_prompt))]
    videos = sorted(n for n in names if n.endswith(".mp4"))
    if not videos:
        raise SandboxError(f"easyanimate: inference wrote no .mp4 video in {video_dir} (see the job log)")
    return {"videos": len(videos), "expected": len(prompts) * per_prompt, "prompts_incomplete": len(missing)}


# -- running ----------------------------------------------------------------------------------------
def run_streamed(argv: list[str], cwd: str, env: dict | None = None) -> tuple[int, list[str]]:
    """Run a process with its output copied to this job's log line by line; (exit code, its lines)."""
    lines: list[str] = []
    proc = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace")
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line.rstrip("\n"))
        del lines[:-2000]
    return proc.wait(), lines


def easyanimate_home(cfg: dict) -> str:
    """The patched EasyAnimate checkout: ``easyanimate_home``, else the one ``code fetch easyanimate`` makes."""
    home = cfg.get("easyanimate_home") or os.path.join(".thirdparty", "easyanimate")
    for marker in ("train_lora.py", "infer_lora.py"):
        if not os.path.isfile(os.path.join(home, marker)):
            raise SandboxError(f"easyanimate: the EasyAnimate checkout {home} has no {marker} (EasyAnimate at "
                               f"{EASYANIMATE_COMMIT[:12]} with DJ-Sandbox's patch): run `juicer-sandbox code fetch "
                               f"easyanimate --dest {home}`")
    return os.path.abspath(home)


def _devices(run) -> list[str]:
    """The GPUs the job holds (the runner's claim), else what CUDA_VISIBLE_DEVICES says."""
    held = list(getattr(run, "devices", None) or [])
    if held:
        return held
    raw = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    return [d.strip() for d in raw.split(",") if d.strip() and d.strip() != "-1"]


def train_command(cfg: dict, home: str, devices: list[str], job_id: str) -> list[str]:
    """``accelerate launch train_lora.py ...`` through the family's launcher: one process per held GPU."""
    from ..families.launch import command, job_port

    tc = {**TRAINING_DEFAULTS, **(cfg["train"].get("training_config") or {})}
    return command("accelerate", max(1, len(devices)), "train_lora.py", train_lora_args(cfg, validation_prompt(home)),
                   port=job_port(job_id), gpu=bool(devices), mixed_precision=tc["mixed_precision"])


def train_easyanimate(cfg: dict, run) -> str:
    resolve_paths(cfg)
    home = easyanimate_home(cfg)
    argv = train_command(cfg, home, _devices(run), run.job_id)
    code, lines = run_streamed(argv, cwd=home, env={"WANDB_MODE": os.environ.get("WANDB_MODE", "offline")})
    if code != 0:
        raise SandboxError(f"easyanimate: train_lora.py exited with {code} (see the job log)")
    run.metrics.update(train_outputs(cfg["export_path"]), **parse_train_log(lines))
    return cfg["export_path"]


def infer_easyanimate(cfg: dict, run) -> str:
    resolve_paths(cfg)
    home = easyanimate_home(cfg)
    procs = [subprocess.Popen(argv, cwd=home, env={**os.environ, **env})
             for env, argv in infer_lora_commands(cfg, _devices(run))]
    codes = [p.wait() for p in procs]
    if any(codes):
        raise SandboxError(f"easyanimate: infer_lora.py exited with {codes} (one per chunk; see the job log)")
    ic = {**INFER_DEFAULTS, **(cfg["train"].get("infer_config") or {})}
    run.metrics.update(infer_outputs(cfg["export_path"], ic["prompt_info_path"], ic["video_num_per_prompt"]))
    return cfg["export_path"]


EASYANIMATE_REPO = "https://github.com/aigc-apps/EasyAnimate.git"
EASYANIMATE_COMMIT = "b54412ceb0af6a06bf907e049920f18508c862f1"  # what the original's setup_easyanimate.sh resets to
_ANY = {}
_STR = {"type": ["string", "null"]}
_MODEL_PATH = {"type": "object", "properties": {"pretrained_model_name_or_path": {"type": "string"},
                                                "transformer_path": _STR, "lora_path": _STR}}
_ENVS = {"easyanimate_home": {"type": "string"}, "model_name": {"type": "string"}, "trainer_name": {"type": "string"},
         "infer_name": {"type": "string"}, "export_path": _STR, "type": {"type": "string"}}
_TRAIN = {"type": "object", "required": ["model_path", "dataset_path"], "properties": {
    "model_path": {**_MODEL_PATH, "required": ["pretrained_model_name_or_path"]},
    "dataset_path": {"anyOf": [{"type": "string"}, {"type": "object", "required": ["dataset_meta_name"],
                                                     "properties": {"dataset_name": _STR,
                                                                    "dataset_meta_name": {"type": "string"}}}]},
    "training_config": {"type": "object", "properties": {k: _ANY for k in TRAINING_DEFAULTS},
                        "additionalProperties": True},
    "saving_config": {"type": "object", "properties": {"output_dir": {"type": "string"}}},
    "tracker_config": {"type": "object", "properties": {"project_name": {"type": "string"},
                                                        "experiment_name": {"type": "string"}}}}}
_INFER = {"type": "object", "required": ["model_path", "infer_config"], "properties": {
    "model_path": {**_MODEL_PATH, "required": ["pretrained_model_name_or_path"]},
    "infer_config": {"type": "object", "required": ["prompt_info_path"],
                     "properties": {"prompt_info_path": {"type": "string"}, **{k: _ANY for k in INFER_DEFAULTS}}},
    "saving_config": {"type": "object", "properties": {"output_video_dir": {"type": "string"}}}}}
TRAINERS = {"easyanimate": train_easyanimate}
INFERENCERS = {"easyanimate": infer_easyanimate}
SCHEMAS = {
    "easyanimate": {"type": "object", "required": ["train"], "additionalProperties": False,
                    "properties": {**_ENVS, "train": {"anyOf": [_TRAIN, _INFER]}}},
}
PLAN_PATHS = {"easyanimate": resolve_paths}  # plan time: the original's home-relative paths made absolute
