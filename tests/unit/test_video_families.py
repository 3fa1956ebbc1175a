"""The text-to-video families (families/video.py): env, GPU need, weights and code checked at a job's
start in one line; EasyAnimate's code fetched at its pinned commit with DJ-Sandbox's pinned patch."""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from juicer_sandbox.errors import SandboxError
from juicer_sandbox.families import Code, Family, checks, family_of, gpus_for, resources_for
from juicer_sandbox.families.code import fetch_family

REPO = Path(__file__).resolve().parents[2]
# the original's model_train.yaml / model_infer.yaml (paths as written there)
TRAIN = {"type": "easyanimate", "train": {
    "model_path": {"pretrained_model_name_or_path": "PixArt-alpha/PixArt-XL-2-512x512",
                   "transformer_path": "/PATH/TO/EASYANIMATE_MODEL"},
    "dataset_path": {"dataset_name": "", "dataset_meta_name": "../../../outputs/demo-bench/x_ea_fmt.json"},
    "saving_config": {"output_dir": "../../../outputs/demo-bench/models"}}}


def test_types_belong_to_their_families_with_env_files():
    for factory, type_name, name in [("model_train", "easyanimate", "easyanimate"),
                                     ("model_infer", "easyanimate", "easyanimate"),
                                     ("data_evaluator", "vbench_video_evaluator", "vbench"),
                                     ("data_evaluator", "video_inception_evaluator", "video_inception")]:
        fam = family_of(factory, type_name)
        assert fam.name == name and (REPO / "envs" / f"{fam.env}.yaml").is_file()
    ea, vb, vi = (family_of("model_train", "easyanimate"), family_of("data_evaluator", "vbench_video_evaluator"),
                  family_of("data_evaluator", "video_inception_evaluator"))
    assert ea.launcher == "accelerate" and ea.code.commit == "b54412ceb0af6a06bf907e049920f18508c862f1"
    assert gpus_for(ea, TRAIN) == 1 and gpus_for(ea, {"train": {"infer_config": {"gpu_num": 4}}}) == 4
    assert resources_for(ea, TRAIN) == {"gpus": 1, "runtime": 720, "mem_mb": 64000}
    assert gpus_for(vb, {"num_gpus": 8}) == 8 and gpus_for(vb, {}) == 1
    assert gpus_for(vi, {"metric": "fvd2048_16f"}) == 0  # optional: CPU unless the job asks for a GPU


def test_original_train_config_cannot_start_here_and_says_why_in_one_line(tmp_path):
    fam = family_of("model_train", "easyanimate")
    extra = {**TRAIN, "easyanimate_home": str(tmp_path / "EasyAnimate")}
    with pytest.raises(SandboxError) as err:
        checks.require(fam, "easyanimate", extra, devices=[])
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("easyanimate (easyanimate family) cannot start: ")
    assert f"juicer-sandbox code fetch easyanimate --dest {tmp_path / 'EasyAnimate'}" in msg
    assert "extra_configs.train.model_path.transformer_path = '/PATH/TO/EASYANIMATE_MODEL' is not a local path" in msg
    assert "gpu: needs 1 GPU(s)" in msg
    vi = family_of("data_evaluator", "video_inception_evaluator")
    missing = checks.problems(vi, {"detector_path": str(tmp_path / "i3d.pt")}, devices=[], check_env=False)
    assert [m.kind for m in missing] == ["weights"] and "i3d_torchscript.pt" in missing[0].fix


def _git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_code_fetch_applies_the_pinned_patch_once(tmp_path):
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    _git("init", "-q", cwd=upstream)
    (upstream / "train.py").write_text("print('v1')\n")
    _git("add", ".", cwd=upstream)
    _git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "v1", cwd=upstream)
    commit = _git("rev-parse", "HEAD", cwd=upstream)
    patch = (b"diff --git a/train_lora.py b/train_lora.py\nnew file mode 100644\n--- /dev/null\n"
             b"+++ b/train_lora.py\n@@ -0,0 +1 @@\n+print('lora')\n")
    (tmp_path / "p.diff").write_bytes(patch)
    code = Code(str(upstream), commit, home_key="easyanimate_home", marker="train_lora.py",
                patch=((tmp_path / "p.diff").as_uri(), hashlib.sha256(patch).hexdigest()))
    fam = Family("demo", env="easyanimate", types=(), code=code)
    dest = tmp_path / "checkout"
    first = fetch_family(fam, str(dest))
    assert first["head"] == commit and first["patch"]["state"] == "applied"
    assert (dest / "train_lora.py").read_text() == "print('lora')\n"
    again = fetch_family(fam, str(dest))  # a patched checkout is not "local changes" to refuse
    assert again["patch"]["state"] == "applied" and (dest / "train_lora.py").is_file()
    assert (tmp_path / "checkout.fetched.json").is_file()
    bad = Family("demo", env="easyanimate", types=(),
                 code=Code(str(upstream), commit, patch=((tmp_path / "p.diff").as_uri(), "0" * 64)))
    with pytest.raises(SandboxError, match="not the pinned 0000"):
        fetch_family(bad, str(tmp_path / "other"))


@pytest.mark.skipif(not (os.environ.get("EASYANIMATE_REPO") and os.environ.get("DJ_ORIGINAL_REPO")),
                    reason="set $EASYANIMATE_REPO and $DJ_ORIGINAL_REPO to local clones to check the pinned pair")
def test_the_pinned_patch_applies_to_the_pinned_easyanimate_commit(tmp_path):
    """EasyAnimate at the family's commit + DJ-Sandbox's patch (the bytes whose sha256 the family pins, taken
    from a data-juicer clone instead of the network) gives train_lora.py and infer_lora.py."""
    fam = family_of("model_train", "easyanimate")
    patch = subprocess.run(["git", "-C", os.environ["DJ_ORIGINAL_REPO"], "show",
                            "HEAD:thirdparty/models/patch/easyanimate.diff"], capture_output=True, check=True).stdout
    (tmp_path / "easyanimate.diff").write_bytes(patch)
    local = Family("easyanimate", env="easyanimate", types=(), code=Code(
        os.environ["EASYANIMATE_REPO"], fam.code.commit, marker=fam.code.marker,
        patch=((tmp_path / "easyanimate.diff").as_uri(), fam.code.patch[1])))
    out = fetch_family(local, str(tmp_path / "EasyAnimate"))
    assert out["head"] == fam.code.commit and out["patch"]["state"] == "applied"
    assert (tmp_path / "EasyAnimate/train_lora.py").is_file() and (tmp_path / "EasyAnimate/infer_lora.py").is_file()
