"""Model families: registry, the start-of-job check (one line, with the fix), code fetch at a pinned commit,
launcher command lines (golden files)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from juicer_sandbox.errors import SandboxError
from juicer_sandbox.families import Code, Family, families, family_of, gpus_for, resources_for
from juicer_sandbox.families import checks, launch
from juicer_sandbox.families.code import fetch

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "launch"
REPO = Path(__file__).resolve().parents[2]


def test_every_family_has_its_env_file_and_unique_types():
    fams = families()
    assert {"huggingface", "vllm", "modelscope", "internvl", "trinity"} <= set(fams)
    for fam in fams.values():
        assert (REPO / "envs" / f"{fam.env}.yaml").is_file(), fam.name
    assert family_of("model_train", "internvl_coco_caption").name == "internvl"
    assert family_of("model_evaluator", "internvl_coco_caption").name == "internvl"
    assert family_of("model_infer", "vllm").name == "vllm"
    assert family_of("model_train", "causal_lm") is None  # the project's own: the hook's env
    assert family_of(None, "vllm") is None


def test_gpus_and_resources_come_from_the_job_config():
    ivl, vllm, hf = families()["internvl"], families()["vllm"], families()["huggingface"]
    assert gpus_for(ivl, {"num_gpus": 8}) == 8
    assert gpus_for(ivl, {}) == 1  # required: at least one
    assert gpus_for(vllm, {"model_params": {"tensor_parallel_size": 4}}) == 4
    assert gpus_for(hf, {"model": "x"}) == 0  # optional: only when the job asks (resources: {gpus: N})
    assert resources_for(ivl, {"num_gpus": 2}) == {"gpus": 2, "runtime": 720, "mem_mb": 64000}
    assert resources_for(None, {}) == {}


def test_bad_family_definitions_are_refused():
    with pytest.raises(ValueError, match="gpu"):
        Family("x", env="train", types=(), gpu="sometimes")
    with pytest.raises(ValueError, match="40 hex"):
        Family("x", env="train", types=(), code=Code("u", "abc"))


def test_require_names_everything_missing_in_one_line(tmp_path):
    fam = Family("demo", env="train", types=(("model_train", "demo"),), imports=("json", "no_such_module_xyz"),
                 code=Code("https://example.invalid/demo.git", "a" * 40, home_key="demo_home", marker="run.sh"),
                 weights=("model_path",), gpu="required", gpus_key="num_gpus")
    extra = {"demo_home": str(tmp_path / "home"), "model_path": str(tmp_path / "weights"), "num_gpus": 2}
    with pytest.raises(SandboxError) as err:
        checks.require(fam, "demo", extra, devices=["0"])
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("demo (demo family) cannot start: env: no_such_module_xyz not installed in the 'train' env")
    assert "envs/train.yaml" in msg and "--sdm conda" in msg
    assert (f"code: demo code checkout extra_configs.demo_home = '{tmp_path}/home' does not exist (provide it: "
            f"juicer-sandbox code fetch demo --dest {tmp_path}/home (https://example.invalid/demo.git at aaaaaaaaaaaa))"
            ) in msg
    assert f"weights: extra_configs.model_path = '{tmp_path}/weights' is not a local path" in msg
    assert "gpu: needs 2 GPU(s), this node shows 1 (0)" in msg and "profiles/slurm" in msg
    # everything present: no error
    (tmp_path / "home").mkdir()
    (tmp_path / "home/run.sh").write_text("")
    (tmp_path / "weights").mkdir()
    fam_ok = Family("demo", env="train", types=(), imports=("json",), code=fam.code, weights=("model_path",),
                    gpu="required", gpus_key="num_gpus")
    checks.require(fam_ok, "demo", extra, devices=["0", "1"])


def test_weights_may_be_a_hub_id_already_in_a_cache(tmp_path, monkeypatch):
    fam = Family("c", env="train", types=(), weights=("model",), weight_caches=("$MY_CACHE/models--{id_dashes}",))
    assert checks.weight_problems(fam, {"model": "org/name"})  # not cached
    monkeypatch.setenv("MY_CACHE", str(tmp_path))
    (tmp_path / "models--org--name").mkdir()
    assert checks.weight_problems(fam, {"model": "org/name"}) == []
    # a key whose value arrives from an earlier job is not checked when planning
    assert checks.weight_problems(fam, {"model": "nowhere"}, skip=frozenset({"model"})) == []


def _git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin", "HOME": str(cwd)})


def test_code_fetch_checks_out_the_pinned_commit_and_records_it(tmp_path):
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    _git("init", "-q", "-b", "main", cwd=upstream)
    (upstream / "run.sh").write_text("v1\n")
    _git("add", ".", cwd=upstream)
    _git("commit", "-q", "-m", "one", cwd=upstream)
    pinned = subprocess.run(["git", "rev-parse", "HEAD"], cwd=upstream, capture_output=True, text=True).stdout.strip()
    (upstream / "run.sh").write_text("v2\n")
    _git("commit", "-q", "-am", "two", cwd=upstream)
    dest, record = tmp_path / "third" / "demo", tmp_path / "third" / "demo.fetched.json"
    out = fetch(str(upstream), pinned, dest, record)
    assert (dest / "run.sh").read_text() == "v1\n"  # the pinned commit, not the newest
    assert json.loads(record.read_text())["head"] == pinned == out["commit"]
    fam = Family("demo", env="train", types=(), code=Code(str(upstream), pinned, home_key="home"))
    assert checks.code_state(fam, {"home": str(dest)}) == f"{dest} @ {pinned[:12]}"
    fetch(str(upstream), pinned, dest, record)  # again: reuses the checkout
    (dest / "run.sh").write_text("edited\n")
    with pytest.raises(SandboxError, match="local changes"):
        fetch(str(upstream), pinned, dest, record)


@pytest.mark.parametrize("name, launcher, nproc, gpu", [
    ("torchrun_8", "torchrun", 8, True),
    ("accelerate_4", "accelerate", 4, True),
    ("accelerate_cpu", "accelerate", 1, False),
    ("deepspeed_2", "deepspeed", 2, True),
    ("deepspeed_cpu", "deepspeed", 1, False),
])
def test_launch_command_lines_match_golden_files(name, launcher, nproc, gpu):
    cmd = launch.command(launcher, nproc, "train.py", ["--config", "c.json"], port=29517, python="PY", gpu=gpu,
                         mixed_precision="bf16" if launcher == "accelerate" and gpu else None,
                         devices=["2", "3"] if launcher == "deepspeed" and gpu else None)
    assert " ".join(cmd) + "\n" == (GOLDEN / f"{name}.txt").read_text()


def test_deepspeed_on_gpus_needs_the_held_devices():
    with pytest.raises(SandboxError, match="name the 2 GPU"):
        launch.command("deepspeed", 2, "t.py", [], devices=["0"])


def test_world_size_is_the_devices_the_job_holds(monkeypatch):
    assert launch.world_size(["2", "3"]) == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6")
    assert launch.world_size() == 3
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert launch.world_size() == 1
    assert launch.launch_env("deepspeed", gpu=False) == {"DS_ACCELERATOR": "cpu"}
    assert launch.job_port("a/b") == launch.job_port("a/b") != launch.job_port("a/c")
