"""The LM families' arguments as the original builds them (golden file), their log parsers, and `doctor` on a
job whose code, weights and env file are all present."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from juicer_sandbox.components.original_models import modelscope_losses, sampling_with_defaults, vllm_args
from juicer_sandbox.families import families

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "lm"


@pytest.mark.parametrize("case", json.loads((GOLDEN / "vllm_args.json").read_text())["cases"])
def test_vllm_arguments_match_the_golden_file(tmp_path, case):
    model = tmp_path / "model"
    model.mkdir()
    if case["generation_config"] is not None:
        (model / "generation_config.json").write_text(json.dumps(case["generation_config"]))
    cfg = json.loads(json.dumps(case["cfg"]).replace("MODEL", str(model)))
    llm, sampling = vllm_args(cfg, case["devices"])
    assert llm == json.loads(json.dumps(case["llm"]).replace("MODEL", str(model)))
    assert sampling == case["sampling"]


def test_transformers_sampling_defaults_as_the_original(tmp_path):
    assert sampling_with_defaults({"max_new_tokens": 3}, str(tmp_path), "max_new_tokens") == {"max_new_tokens": 3}
    assert sampling_with_defaults(None, str(tmp_path), "max_new_tokens") == {"max_new_tokens": 512}
    (tmp_path / "generation_config.json").write_text('{"max_length": 20, "max_tokens": 128}')
    assert sampling_with_defaults({"do_sample": False}, str(tmp_path), "max_new_tokens") == \
        {"do_sample": False, "max_new_tokens": 128}


def test_modelscope_losses_with_the_original_watchers_pattern():
    log = ("2023-07-02 17:26:50,324 - modelscope - INFO - epoch [1][100/4953]\tlr: 4.825e-05, memory: 8742, "
           "loss: 5.6125\n2023-07-02 17:27:10,001 - modelscope - INFO - Saving checkpoint at 200 iter\n"
           "2023-07-02 17:27:31,777 - modelscope - INFO - epoch [1][200/4953]\tlr: 4.650e-05, memory: 8742, "
           "loss: 4.9873\n")
    assert modelscope_losses(log) == [5.6125, 4.9873]


def test_doctor_finds_nothing_missing_when_code_weights_and_env_file_are_there(tmp_path, monkeypatch):
    from juicer_sandbox.doctor import doctor

    fam = families()["internvl"]
    home = tmp_path / "InternVL"
    (home / fam.code.marker).parent.mkdir(parents=True)
    (home / fam.code.marker).write_text("")
    (home / ".git").mkdir()
    (home / ".git/HEAD").write_text(fam.code.commit + "\n")  # a detached checkout at the pinned commit
    (home / "pretrained/InternVL2-1B").mkdir(parents=True)
    (tmp_path / "meta.json").write_text("{}")
    train = {"type": "internvl_coco_caption", "env_name": "internvl", "env_manager": "conda",
             "internvl_home": str(home), "num_gpus": 2, "model_name_or_path": str(home / "pretrained/InternVL2-1B"),
             "conv_style_or_scale": "1B", "meta_paths": [str(tmp_path / "meta.json")]}
    sandbox = {"work_dir": str(tmp_path / "out"), "execution_job_configs": [
        {"hook": "TrainModelHook", "meta_name": "train", "extra_configs": train}]}
    (tmp_path / "sb.yaml").write_text(yaml.safe_dump(sandbox))
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert doctor("sb.yaml", env_mode="venv", out=out) == 0, out.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[0] == "anonymous/execution_train: internvl_coco_caption (internvl family)"
    assert lines[1] == "  env:     envs/internvl.yaml (venv mode: built from it where the job runs)"
    assert lines[2].startswith(f"  code:    {home} @ {fam.code.commit[:12]}; pinned ")
    assert lines[4] == "  gpu:     2 (required; launcher torchrun), runtime 720 min, mem 64000 MB"
    assert lines[-1].startswith("1 of 1 job(s) use a model family (internvl); 0 missing piece(s)")
    assert not any("MISSING" in line for line in lines)
