"""The text-to-video sandboxes plan unchanged with the SLURM profile, and their GPU jobs ask for GPUs.

* the original's three EasyAnimate configs, from a stand-in for its repository root (as in
  test_original_configs.py): its train/infer/VBench jobs get gpu=1 (the original's gpu_num/num_gpus),
  the EasyAnimate family's 12 h and 64 GB; the data jobs no GPU. The edges the original left to list
  order are file edges here: training reads the converted data (a path relative to the original's
  EasyAnimate home), inference the LoRA checkpoint, VBench the generated videos.
* this project's config/sandboxes/paper/t2v/*: their probe's Data-Juicer video filters need OpenCV in the
  data env, so without it they stop at the op check (the test says so and skips).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .test_original_configs import ORIGINAL, REPO, T2V, cli, plan_only_assets, root  # noqa: F401 (fixture)
from .test_original_configs import _plan_blocks as _resources

NEEDS_ORIGINAL = pytest.mark.skipif(not (ORIGINAL / "configs").is_dir(), reason=f"the original's configs are not at "
                                                                                 f"{ORIGINAL} (set $DJ_ORIGINAL)")
PROFILE = ["--profile", str(REPO / "profiles/slurm"), "-n", "--", "--workflow-profile", "none"]


@NEEDS_ORIGINAL
@pytest.mark.parametrize("name, first", [("1_single_op_pipeline.yaml", "probe_analysis_ori_data"),
                                         ("2_multi_op_pipeline.yaml", "execution_process_data"),
                                         ("3_duplicate_pipeline.yaml", "execution_convert_to_ea_fmt")])
def test_original_t2v_configs_plan_with_gpus(root, name, first):  # noqa: F811
    plan_only_assets()
    if name.startswith("3_"):  # it reads the multi-op config's output, as in the original: it plans once that exists
        proc = cli("validate", T2V + name)
        assert "demo-dataset-with-multi-op-stats.json' does not exist and no earlier job produces it" in proc.stderr
        (root / "outputs/demo-bench").mkdir(parents=True)
        (root / "outputs/demo-bench/demo-dataset-with-multi-op-stats.json").write_text("[]\n")
    proc = cli("run", "--config", T2V + name, *PROFILE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = _resources(proc.stdout)
    assert f"anonymous/{first}" in jobs
    gpu = {"anonymous/execution_train_model": ("train_model", 720), "anonymous/execution_infer_model": ("infer_model", 720),
           "anonymous/evaluation_vbench_eval": ("evaluate_data", 240)}
    for job, (rule, res) in jobs.items():
        assert "slurm_partition=debug" in res, (job, res)
        if job in gpu:
            assert rule == gpu[job][0] and res.endswith(", gpu=1") and f"runtime={gpu[job][1]}" in res, (job, res)
        else:
            assert "gpu=" not in res, (job, res)
    assert set(gpu) <= set(jobs)
    proc = cli("validate", "--json", T2V + name)
    deps = {j["job"]: j["deps"] for j in json.loads(proc.stdout)}
    assert "anonymous/execution_convert_to_ea_fmt" in deps["anonymous/execution_train_model"]
    assert "anonymous/execution_train_model" in deps["anonymous/execution_infer_model"]
    assert "anonymous/execution_infer_model" in deps["anonymous/evaluation_vbench_eval"]


@NEEDS_ORIGINAL
def test_original_t2v_doctor_names_what_the_gpu_jobs_still_need(root):  # noqa: F811
    plan_only_assets()
    proc = cli("doctor", T2V + "1_single_op_pipeline.yaml")
    assert proc.returncode == 1
    out = proc.stdout
    assert "juicer-sandbox code fetch easyanimate" in out
    assert "extra_configs.train.model_path.transformer_path = '/PATH/TO/EASYANIMATE_MODEL' is not a local path" in out


def test_project_t2v_configs_plan_with_gpus(tmp_path, monkeypatch):
    pytest.importorskip("cv2", reason="the t2v probe's Data-Juicer video filters need OpenCV (opencv-contrib-python) "
                                      "in the data env; without it they stop at the op check")
    monkeypatch.chdir(tmp_path)
    for sub in ("config", "data"):
        os.symlink(REPO / sub, tmp_path / sub)
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"text": "a cat", "videos": ["cat.mp4"]}\n')
    for name in ("single_op", "multi_op", "duplicate"):
        proc = cli("run", "--config", f"config/sandboxes/paper/t2v/{name}.yaml", "--matrix.pool", f"[{pool}]",
                   *PROFILE)
        assert proc.returncode == 0, proc.stderr[-3000:]
        jobs = _resources(proc.stdout)
        trains = [res for rule, res in jobs.values() if rule == "train_model"]
        assert trains and all(res.endswith("gpu=8") for res in trains), trains[:2]


def test_text_to_video_jobs_without_their_stack_stop_at_start_in_one_line(tmp_path, monkeypatch):
    """Run for real (Snakemake, the job runner): where the EasyAnimate env, code and weights are absent,
    the training job fails before any work with one line naming each and the command that provides it;
    the VBench job after it never starts."""
    import yaml

    from .conftest import run_snakemake

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JUICER_SANDBOX_GPUS", "7")  # a node with one (listed) GPU: the job claims it
    data = tmp_path / "pool_ea_fmt.json"
    data.write_text('[{"videos": ["cat.mp4"], "text": "a cat", "file_path": "cat.mp4"}]\n')
    sandbox = {"work_dir": "out", "execution_job_configs": [
        {"hook": "TrainModelHook", "meta_name": "train", "extra_configs": {
            "type": "easyanimate", "easyanimate_home": str(tmp_path / "EasyAnimate"),
            "train": {"model_path": {"pretrained_model_name_or_path": str(tmp_path / "PixArt"),
                                     "transformer_path": str(tmp_path / "ea.safetensors")},
                      "dataset_path": {"dataset_name": "", "dataset_meta_name": str(data)},
                      "saving_config": {"output_dir": str(tmp_path / "lora")}}}}],
        "evaluation_job_configs": [{"hook": "EvaluateDataHook", "meta_name": "vbench",
                                    "input": {"extra_configs.videos_path": "anonymous.train.res_1"},
                                    "extra_configs": {"type": "vbench_video_evaluator",
                                                      "dimension_list": ["subject_consistency"]}}]}
    (tmp_path / "t2v.yaml").write_text(yaml.safe_dump(sandbox))
    proc = run_snakemake(tmp_path, "t2v.yaml", check=False)
    assert proc.returncode != 0
    line = next(x for x in proc.stderr.splitlines() if "cannot start" in x)
    assert "easyanimate (easyanimate family) cannot start: env: " in line
    assert f"code: easyanimate code checkout extra_configs.easyanimate_home = '{tmp_path / 'EasyAnimate'}'" in line
    assert f"juicer-sandbox code fetch easyanimate --dest {tmp_path / 'EasyAnimate'}" in line
    assert f"weights: extra_configs.train.model_path.pretrained_model_name_or_path = '{tmp_path / 'PixArt'}'" in line
    assert "gpu:" not in line  # it holds its GPU
    assert not (tmp_path / "out/anonymous/evaluation_vbench/context.json").exists()
