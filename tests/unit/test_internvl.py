"""InternVL COCO-caption components: the training script (golden file from the original's template), the
original's checks, the log parsers on the exact formats InternVL / transformers / pycocoevalcap print, the
predictions file InternVL writes, and a real torchrun launch of the generated script with world size 2."""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from juicer_sandbox.components import internvl, internvl_eval
from juicer_sandbox.components.caption_metrics import score_captions
from juicer_sandbox.errors import ComponentConfigError, SandboxError

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "internvl"

# What `bash evaluate.sh <ckpt> caption-coco --dynamic` prints (InternVL's evaluate_caption.py, then
# pycocoevalcap's COCOEvalCap.evaluate(), then evaluate_caption.py's `print(summary)`), abridged.
EVAL_LOG = """\
+ CHECKPOINT=/opt/InternVL/internvl_chat/../work_dirs/pool_0_InternVL2-1B
CHECKPOINT: /opt/InternVL/internvl_chat/../work_dirs/pool_0_InternVL2-1B
GPUS: 8
prompt: Provide a one-sentence caption for the provided image.
Average caption length: 10.21
Evaluating coco ...
loading annotations into memory...
Done (t=0.04s)
creating index...
index created!
Loading and preparing results...
DONE (t=0.01s)
creating index...
index created!
tokenization...
setting up scorers...
computing Bleu score...
{'testlen': 51034, 'reflen': 50720, 'guess': [51034, 46034, 41034, 36034], 'correct': [40107, 25431, 15077, 8820]}
ratio: 1.0061908517349906
Bleu_1: 0.786
Bleu_2: 0.658
Bleu_3: 0.532
Bleu_4: 0.421
computing METEOR score...
METEOR: 0.310
computing Rouge score...
ROUGE_L: 0.608
computing CIDEr score...
CIDEr: 1.392
computing SPICE score...
SPICE: 0.241
dict_items([('Bleu_1', 0.7858836940393322), ('Bleu_2', 0.6575), ('CIDEr', 1.3918)])
"""


def test_training_script_matches_the_golden_file():
    script = internvl.training_script(
        home="/opt/InternVL", world=8, per_device=4, output_dir="/w/work_dirs/pool_0_InternVL2-1B",
        model="/opt/InternVL/internvl_chat/pretrained/InternVL2-1B", style="Hermes-2",
        meta_path="/data/metas/pool_0.json", port=34229, python="python")
    assert script == (GOLDEN / "train_1B_8gpu.sh").read_text()


@pytest.mark.parametrize("value, style", [("1B", "Hermes-2"), ("2B", "internlm2-chat"), ("4B", "phi3-chat"),
                                          ("26B", "internlm2-chat"), ("40B", "Hermes-2"), ("phi3-chat", "phi3-chat")])
def test_conv_style_mapping_is_the_originals(value, style):
    assert internvl.conv_style(value) == style


def test_bad_scale_and_batch_are_refused():
    with pytest.raises(ComponentConfigError, match="conv_style_or_scale '3B' is not supported"):
        internvl.conv_style("3B")
    internvl.check_batch(8, 4)  # 32 divides 512
    with pytest.raises(ComponentConfigError, match="3 x 4 = 12 must divide the total batch size 512"):
        internvl.check_batch(3, 4)
    with pytest.raises(ComponentConfigError, match="must divide"):
        internvl.check_batch(8, 128)  # 1024 > 512


def test_run_names_as_the_original():
    assert internvl.run_name("/m/metas/alnum_ratio_1_meta.json", "/p/pretrained/InternVL2-1B") == \
        "alnum_ratio_1_meta_InternVL2-1B"


def test_training_log_records_with_and_without_grad_norm():
    text = ("{'loss': 2.055, 'learning_rate': 3.0000000000000004e-05, 'epoch': 0.02}\n"
            "noise {'loss': 9}\n"
            "{'loss': 1.5, 'grad_norm': 0.73, 'learning_rate': 4e-05, 'epoch': 0.04}\n"
            "{'train_runtime': 12.3, 'train_loss': 1.7, 'epoch': 1.0}\n"
            "{'loss': __import__('os').system('x')}\n")
    assert internvl.parse_training_log(text) == [
        {"loss": 2.055, "learning_rate": 3.0000000000000004e-05, "epoch": 0.02},
        {"loss": 1.5, "grad_norm": 0.73, "learning_rate": 4e-05, "epoch": 0.04}]


def test_scores_are_read_from_the_evaluation_output_as_the_original():
    scores = internvl_eval.parse_scores(EVAL_LOG, "eval_log.txt")
    expected = {"Bleu_1": 0.786, "Bleu_2": 0.658, "Bleu_3": 0.532, "Bleu_4": 0.421, "METEOR": 0.31,
                "ROUGE_L": 0.608, "CIDEr": 1.392}
    assert {k: v for k, v in scores.items() if k != "avg_score"} == expected  # SPICE is not one of them
    assert scores["avg_score"] == pytest.approx(sum(expected.values()) / 7)
    # without METEOR (no Java where it ran): the mean of the six found, as the original
    partial = internvl_eval.parse_scores(EVAL_LOG.replace("METEOR: 0.310\n", ""), "x")
    assert "METEOR" not in partial and partial["avg_score"] == pytest.approx((sum(expected.values()) - 0.31) / 6)
    with pytest.raises(SandboxError, match="log.txt: no caption scores"):
        internvl_eval.parse_scores("Traceback ...\nCUDA out of memory\n", "log.txt")


def test_evaluation_command_uses_a_path_relative_to_internvl_chat():
    cmd = internvl_eval.evaluation_command("/opt/InternVL/work_dirs/pool 0", "/opt/InternVL/internvl_chat", 8, 63700)
    assert cmd == ("cd /opt/InternVL/internvl_chat && GPUS=8 MASTER_PORT=63700 bash evaluate.sh "
                   "'../work_dirs/pool 0' caption-coco --dynamic")


def test_internvl_predictions_file_is_read_and_rescored(tmp_path):
    preds = tmp_path / "coco_241206101500.json"  # evaluate_caption.py: [{'image_id': int, 'caption': str}]
    preds.write_text(json.dumps([{"image_id": 391895, "caption": "A man riding a bike down a dirt road."},
                                 {"image_id": 522418, "caption": "A woman cutting a cake with a knife."}]))
    got = internvl_eval.read_predictions(preds)
    assert got == {391895: "A man riding a bike down a dirt road.", 522418: "A woman cutting a cake with a knife."}
    refs = {391895: ["A man riding a bike down a dirt road.", "A person rides a bicycle on a trail."],
            522418: ["A woman cutting a cake with a knife.", "Someone slices a large cake."]}
    scores, _ = score_captions(refs, got, metrics=["Bleu_1", "ROUGE_L"])
    assert scores["Bleu_1"] == pytest.approx(1.0) and scores["ROUGE_L"] == pytest.approx(1.0)
    preds.write_text(json.dumps([{"image_id": "391895", "caption": "x"}]))
    with pytest.raises(SandboxError, match="item 0 is not"):
        internvl_eval.read_predictions(preds)


@dataclass
class FakeRun:
    """The runtime a component receives (hooks.runner.Run's fields that these components use)."""

    artifacts: Path
    devices: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    job_id: str = "p/execution_train"


STAND_IN = '''\
"""Stand-in for InternVL's internvl/train/internvl_chat_finetune.py (this test only): joins the process group
torchrun set up (gloo, CPU), prints the trainer's log records and writes one file per rank."""
import argparse, os, torch.distributed as dist
p = argparse.ArgumentParser()
p.add_argument("--output_dir"); p.add_argument("--meta_path"); p.add_argument("--per_device_train_batch_size")
p.add_argument("--gradient_accumulation_steps")
args, _ = p.parse_known_args()
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
open(os.path.join(args.output_dir, f"rank{rank}.txt"), "w").write(
    f"{world} {args.per_device_train_batch_size} {args.gradient_accumulation_steps} {args.meta_path}")
if rank == 0:
    print("{'loss': 2.5, 'learning_rate': 4e-05, 'epoch': 0.5}")
    print("{'loss': 1.25, 'learning_rate': 2e-05, 'epoch': 1.0}")
dist.destroy_process_group()
'''


def test_training_runs_the_script_through_torchrun_with_the_jobs_world_size(tmp_path):
    home = tmp_path / "InternVL"
    (home / "internvl_chat/internvl/train").mkdir(parents=True)
    (home / "internvl_chat" / internvl.TRAIN_SCRIPT).write_text(STAND_IN)
    meta = tmp_path / "pool_0.json"
    meta.write_text("{}")
    run = FakeRun(tmp_path / "artifacts", devices=["0", "1"])  # two held devices: world size 2 (gloo on CPU)
    cfg = {"internvl_home": str(home), "model_name_or_path": "/p/InternVL2-1B", "conv_style_or_scale": "1B",
           "meta_paths": [str(meta), str(tmp_path / "missing.json")], "num_gpus": 8, "batch_size_per_device": 4}
    outputs = internvl.train(cfg, run)
    out = Path(outputs[0])
    assert outputs == [str(run.artifacts / "work_dirs" / "pool_0_InternVL2-1B")]
    for rank in (0, 1):  # 512 / 4 / 2 = 64 accumulation steps
        assert (out / f"rank{rank}.txt").read_text() == f"2 4 64 {meta}"
    assert run.metrics["world_size"] == 2
    assert run.metrics["runs"] == {"pool_0_InternVL2-1B": {"steps": 2, "final_loss": 1.25}}
    assert "missing.json" in run.metrics["warnings"][0]
    assert f"--nproc_per_node=2" in (run.artifacts / "scripts/pool_0_InternVL2-1B.sh").read_text()
    assert sys.executable in (run.artifacts / "scripts/pool_0_InternVL2-1B.sh").read_text()
    # a failing run fails the job, despite `| tee`
    (home / "internvl_chat" / internvl.TRAIN_SCRIPT).write_text("raise SystemExit(3)\n")
    with pytest.raises(SandboxError, match="training pool_0_InternVL2-1B failed"):
        internvl.train(cfg, FakeRun(tmp_path / "artifacts2", devices=["0"]))
    assert os.path.isdir(tmp_path / "artifacts2" / "scripts")


def test_evaluation_runs_evaluate_sh_per_checkpoint_and_reads_its_scores(tmp_path):
    chat = tmp_path / "InternVL" / "internvl_chat"
    chat.mkdir(parents=True)
    # stand-in for InternVL's evaluate.sh (this test only): checks its arguments as evaluate.sh reads them,
    # prints what pycocoevalcap prints and writes the predictions file evaluate_caption.py writes
    (tmp_path / "eval_log.txt").write_text(EVAL_LOG)
    (chat / "evaluate.sh").write_text(
        'test -d "$(pwd)/$1" || { echo "no checkpoint $(pwd)/$1"; exit 2; }\n'
        '[ "$2" = caption-coco ] && [ "$3" = --dynamic ] && [ "$GPUS" = 2 ] || exit 3\n'
        f'cat {tmp_path}/eval_log.txt\n'
        'mkdir -p results && echo \'[{"image_id": 1, "caption": "a cat"}]\' > results/coco_241206101500.json\n')
    ckpts = [tmp_path / "work_dirs" / "pool_0_InternVL2-1B", tmp_path / "work_dirs" / "pool_1_InternVL2-1B"]
    for c in ckpts:
        c.mkdir(parents=True)
    run = FakeRun(tmp_path / "artifacts", devices=["0", "1"], job_id="p/evaluation_eval")
    cfg = {"internvl_home": str(tmp_path / "InternVL"), "num_gpus": 8,
           "ckpt_paths": [str(ckpts[0]), str(tmp_path / "missing"), str(ckpts[1])]}
    results = internvl_eval.evaluate(cfg, run)
    assert len(results) == 2 and results[0]["CIDEr"] == 1.392 and results[1]["avg_score"] == results[0]["avg_score"]
    out = run.artifacts / "eval" / "0_pool_0_InternVL2-1B"
    assert (out / "eval_log.txt").read_text() == EVAL_LOG
    assert internvl_eval.read_predictions(out / "coco_241206101500.json") == {1: "a cat"}
    assert "missing" in run.metrics["warnings"][0]
    (chat / "evaluate.sh").write_text("echo CUDA out of memory; exit 1\n")
    with pytest.raises(SandboxError, match="evaluating .* failed \\(exit 1\\)"):
        internvl_eval.evaluate(cfg, FakeRun(tmp_path / "a2", devices=["0", "1"]))
