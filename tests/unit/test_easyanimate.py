"""easyanimate train/infer: the launched command lines equal what the original's scripts launch
(tests/golden/t2v/original_commands.json, recorded from its train_lora.sh / infer_lora.sh by
tests/golden/t2v/make_golden.py), paths mean what they meant there, and outputs are parsed."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from juicer_sandbox.components import easyanimate as ea
from juicer_sandbox.errors import SandboxError

GOLDEN = json.loads((Path(__file__).resolve().parents[1] / "golden/t2v/original_commands.json").read_text())
TRAIN_KEYS = ["model_path.pretrained_model_name_or_path", "model_path.transformer_path", "dataset_path.dataset_name",
              "dataset_path.dataset_meta_name", "training_config.sample_size", "training_config.mixed_precision",
              "training_config.batch_size_per_gpu", "training_config.gradient_accumulation_steps",
              "training_config.num_train_epochs", "training_config.dataloader_num_workers", "training_config.seed",
              "saving_config.output_dir", "tracker_config.project_name", "tracker_config.experiment_name"]
INFER_KEYS = ["model_path.pretrained_model_name_or_path", "model_path.transformer_path", "model_path.lora_path",
              "infer_config.image_size", "infer_config.prompt_info_path", "infer_config.gpu_num",
              "infer_config.batch_size", "infer_config.mixed_precision", "infer_config.video_num_per_prompt",
              "infer_config.seed", "saving_config.output_video_dir"]
PATH_OPTIONS = ("--train_data_meta", "--output_dir", "--lora_path", "--prompt_info_path", "--save_path")


def _config(keys, values) -> dict:
    """The original's model_train.yaml / model_infer.yaml values (the golden file's script arguments)."""
    train: dict = {}
    for key, value in zip(keys, values):
        ea._set(train, key, int(value) if value.isdigit() else value)
    return {"type": "easyanimate", "train": train}


def _expected(argv: list[str], root: Path) -> list[str]:
    """The original's argv with its home-relative paths as the absolute paths they named."""
    home = root / ea.ORIGINAL_HOME
    out = []
    for arg in argv:
        opt, _, value = arg.partition("=")
        if opt in PATH_OPTIONS and value and not os.path.isabs(value):
            arg = f"{opt}={os.path.normpath(home / value)}"
        out.append(arg)
    return out


def test_train_arguments_are_the_original_scripts(tmp_path):
    golden = GOLDEN["train_lora.sh"]
    cfg = _config(TRAIN_KEYS, golden["args"])
    ea.resolve_paths(cfg, cwd=str(tmp_path))
    assert cfg["export_path"] == str(tmp_path / "outputs/demo-bench/models")  # ../../../ from the EasyAnimate home
    launched, = golden["launched"]
    assert launched["program"] == "accelerate" and launched["argv"][:3] == ["launch", "--mixed_precision=bf16",
                                                                          "train_lora.py"]
    prompt = next(a for a in launched["argv"] if a.startswith("--validation_prompts=")).split("=", 1)[1]
    home = tmp_path / "EasyAnimate"
    home.mkdir()
    (home / "train_lora.sh").write_text(f'OUTPUT_DIR=${{12}}\nVALIDATION_PROMPTS="{prompt}"\n')
    assert ea.validation_prompt(str(home)) == prompt  # read from the checkout's script, as bash reads it
    assert ea.train_lora_args(cfg, prompt) == _expected(launched["argv"][3:], tmp_path)
    # the whole command: the family's accelerate launcher (one process per GPU the job holds, the original's
    # mixed precision), then train_lora.py with the original's arguments
    argv = ea.train_command(cfg, str(home), ["0", "1"], "t2v/execution_train")
    assert argv[1:3] == ["-m", "accelerate.commands.launch"] and "--num_processes=2" in argv
    assert argv[argv.index("train_lora.py") - 2:argv.index("train_lora.py")] == ["--mixed_precision=bf16",
                                                                                "--multi_gpu"]
    assert argv[argv.index("train_lora.py") + 1:] == _expected(launched["argv"][3:], tmp_path)
    assert "--num_processes=1" in ea.train_command(cfg, str(home), ["3"], "j")


def test_extra_training_keys_become_train_lora_options(tmp_path):
    cfg = {"train": {"model_path": {"pretrained_model_name_or_path": "/models/EasyAnimateV5-7b-zh",
                                    "transformer_path": None},
                     "dataset_path": str(tmp_path / "pool_ea_fmt.json"),  # a converted pool, by reference
                     "training_config": {"learning_rate": 2.0e-05, "num_train_epochs": 1, "rank": 128,
                                         "network_alpha": 64, "train_batch_size": 8, "max_train_steps": 2000,
                                         "seed": 42},
                     "saving_config": {"output_dir": "../../../outputs/t2v/train"}}}
    ea.resolve_paths(cfg, cwd=str(tmp_path))
    ea.resolve_paths(cfg, cwd=str(tmp_path))  # idempotent
    args = ea.train_lora_args(cfg, None)
    assert f"--train_data_meta={tmp_path / 'pool_ea_fmt.json'}" in args and "--train_data_dir=" in args
    assert args[-5:] == ["--learning_rate=2e-05", "--rank=128", "--network_alpha=64", "--train_batch_size=8",
                         "--max_train_steps=2000"]
    assert not any(a.startswith("--validation_prompts") for a in args)
    cfg["train"]["training_config"]["ranks"] = 4
    with pytest.raises(SandboxError, match="ranks are not options of the pinned train_lora.py"):
        ea.train_lora_args(cfg, None)


@pytest.mark.parametrize("golden_key, devices", [("infer_lora.sh", ["0"]), ("infer_lora.sh 2 GPUs", ["3", "5"])])
def test_infer_commands_are_the_original_scripts_one_chunk_per_held_device(tmp_path, golden_key, devices):
    cfg = _config(INFER_KEYS, GOLDEN["infer_lora.sh"]["args"])
    ea.resolve_paths(cfg, cwd=str(tmp_path))
    commands = ea.infer_lora_commands(cfg, devices, python="python")
    launched = GOLDEN[golden_key]["launched"]
    assert [argv[1:] for _, argv in commands] == [_expected(r["argv"], tmp_path) for r in launched]
    # the original set CUDA_VISIBLE_DEVICES=0..n-1 whatever the job held; here each chunk gets a device it holds
    assert [r["CUDA_VISIBLE_DEVICES"] for r in launched] == [str(i) for i in range(len(devices))]
    assert [env["CUDA_VISIBLE_DEVICES"] for env, _ in commands] == devices


def test_infer_keys_infer_lora_does_not_read_are_refused(tmp_path):
    cfg = {"export_path": str(tmp_path), "train": {"model_path": {"pretrained_model_name_or_path": "/m"},
                                                   "infer_config": {"prompt_info_path": "p.json", "video_length": 49}}}
    with pytest.raises(SandboxError, match="video_length are not read by the pinned infer_lora.py"):
        ea.infer_lora_commands(cfg, ["0"])


def test_lora_directory_means_its_latest_checkpoint(tmp_path):
    for step in (2, 10, 9):
        (tmp_path / f"checkpoint-{step}.safetensors").write_bytes(b"x")
    (tmp_path / "checkpoint-10").mkdir()  # accelerate state directories are not LoRA files
    assert ea.latest_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-10.safetensors")
    assert ea.train_outputs(str(tmp_path))["checkpoints"] == [f"checkpoint-{s}.safetensors" for s in (2, 9, 10)]
    assert ea.latest_checkpoint(str(tmp_path / "x.safetensors")) == str(tmp_path / "x.safetensors")
    with pytest.raises(SandboxError, match="without checkpoint"):
        ea.latest_checkpoint(str(tmp_path / "checkpoint-10"))


def test_train_log_parsing():
    lines = ["Steps:   0%|          | 0/4 [00:00<?, ?it/s]",
             "Steps:  25%|##5       | 1/4 [00:03<00:09,  3.1s/it, lr=2e-05, step_loss=0.231]",
             "Steps:  50%|#####     | 2/4 [00:06<00:06,  3.0s/it, lr=2e-05, step_loss=0.1875]"]
    assert ea.parse_train_log(lines) == {"step_loss": 0.1875, "n_loss_reports": 2}
    assert ea.parse_train_log(["no progress"]) == {}


STAND_IN_INFER = """import argparse, os
p = argparse.ArgumentParser()
for a in ("prompt_info_path", "config_path", "pretrained_model_name_or_path", "transformer_path", "lora_path",
          "image_size", "chunks_num", "chunk_id", "batch_size", "video_num_per_prompt", "mixed_precision",
          "save_path", "seed"):
    p.add_argument("--" + a)
a = p.parse_args()
import json
prompts = [d["prompt_en"] for d in json.load(open(a.prompt_info_path))]
n, i = int(a.chunks_num), int(a.chunk_id)
size = (len(prompts) - 1) // n + 1
os.makedirs(a.save_path, exist_ok=True)
for prompt in prompts[i * size:(i + 1) * size]:
    for k in range(int(a.video_num_per_prompt)):
        open(os.path.join(a.save_path, f"{prompt}-{k}.mp4"), "w").write(os.environ["CUDA_VISIBLE_DEVICES"])
"""


class _Run:
    job_id = "t2v/execution_gen"

    def __init__(self, devices=()):
        self.metrics = {}
        self.devices = list(devices)


def test_infer_runs_one_process_per_device_and_counts_the_videos(tmp_path, monkeypatch):
    """The orchestration for real, with a stand-in for EasyAnimate's infer_lora.py (no GPU, no weights)."""
    home = tmp_path / "EasyAnimate"
    home.mkdir()
    (home / "infer_lora.py").write_text(STAND_IN_INFER)
    (home / "train_lora.py").write_text("")
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps([{"prompt_en": f"a cat number {i}"} for i in range(5)]))
    cfg = {"easyanimate_home": str(home), "export_path": str(tmp_path / "videos"),
           "train": {"model_path": {"pretrained_model_name_or_path": "/m", "transformer_path": None,
                                    "lora_path": str(tmp_path / "lora.safetensors")},
                     "infer_config": {"prompt_info_path": str(prompts), "video_num_per_prompt": 2}}}
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3,4,5,6")  # the node's; the job holds 4 and 6
    run = _Run(["4", "6"])
    assert ea.infer_easyanimate(cfg, run) == str(tmp_path / "videos")
    assert run.metrics == {"videos": 10, "expected": 10, "prompts_incomplete": 0}
    assert (tmp_path / "videos/a cat number 0-1.mp4").read_text() == "4"
    assert (tmp_path / "videos/a cat number 4-0.mp4").read_text() == "6"


def test_missing_checkout_is_one_line(tmp_path):
    with pytest.raises(SandboxError) as err:
        ea.easyanimate_home({"easyanimate_home": str(tmp_path / "nowhere")})
    assert "\n" not in str(err.value) and "juicer-sandbox code fetch easyanimate --dest" in str(err.value)


@pytest.mark.skipif(not os.environ.get("DJ_ORIGINAL_REPO"), reason="set $DJ_ORIGINAL_REPO to a data-juicer "
                    "checkout to rebuild the golden command lines from its scripts")
def test_golden_file_is_what_the_original_scripts_launch():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "golden/t2v/make_golden.py"
    spec = importlib.util.spec_from_file_location("make_golden", path)
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    repo = Path(os.environ["DJ_ORIGINAL_REPO"])
    assert make.run_original(repo, "train_lora.sh", make.TRAIN_ARGS) == GOLDEN["train_lora.sh"]["launched"]
    assert make.run_original(repo, "infer_lora.sh", make.INFER_ARGS) == GOLDEN["infer_lora.sh"]["launched"]
    assert make.vbench_golden(repo) == GOLDEN["vbench"]  # the VBench evaluator's command expressions, evaluated
