"""Every shipped sandbox config is valid; the GPU text-to-video ones at least parse and expand."""
from __future__ import annotations

from pathlib import Path

import pytest

from juicer_sandbox.config.plan import compile_plan
from juicer_sandbox.config.sandbox import load_sandbox
from juicer_sandbox.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
RUNNABLE = ["demo.yaml", "hpo_demo.yaml", "paper/single_op.yaml", "paper/multi_op.yaml",
            "paper/duplication_scaling.yaml", "image_caption_demo.yaml"]


@pytest.mark.parametrize("name", RUNNABLE)
def test_runnable_sandboxes_compile(name, monkeypatch):
    monkeypatch.chdir(REPO)
    plan = compile_plan(f"config/sandboxes/{name}")
    assert plan.jobs


@pytest.mark.parametrize("name", ["single_op", "multi_op", "duplicate"])
def test_text_to_video_sandboxes_expand_and_need_their_data(name, monkeypatch):
    monkeypatch.chdir(REPO)
    sandbox = load_sandbox(f"config/sandboxes/paper/t2v/{name}.yaml")
    jobs = [j for _, js in sandbox.pipelines for j in js]
    assert sum(j.hook == "TrainModelHook" for j in jobs) >= 3
    with pytest.raises(ConfigError, match="pool.jsonl"):  # the GPU cluster's data is not here
        compile_plan(sandbox)


@pytest.mark.skipif(not (REPO.parent / "shared" / "reference" / "dj_original" / "demos").is_dir(),
                    reason="the media demo reads Data-Juicer's demo datasets from ../shared (not in a user's clone)")
def test_media_demo_compiles(monkeypatch):
    monkeypatch.chdir(REPO)
    plan = compile_plan("config/sandboxes/media_demo.yaml")
    assert {j.split("/")[0] for j in plan.jobs} >= {"images", "videos"}
