"""One override points any shipped sandbox at other data; exports stay under the work_dir."""
from __future__ import annotations

import gzip
import itertools
import json
import os
from pathlib import Path

import pytest

from juicer_sandbox.config.plan import compile_plan

REPO = Path(__file__).resolve().parents[2]
SANDBOXES = ["demo.yaml", "hpo_demo.yaml", "paper/single_op.yaml", "paper/multi_op.yaml",
             "paper/duplication_scaling.yaml"]


@pytest.fixture
def corpus(tmp_path):
    for name in ("raw", "val"):
        with gzip.open(REPO / f"data/demo/{name}.jsonl.gz", "rt") as src, open(tmp_path / f"{name}.jsonl", "w") as fh:
            fh.writelines(itertools.islice(src, 50))
    return tmp_path


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_one_override_points_the_sandbox_at_your_data(sandbox, corpus, monkeypatch):
    monkeypatch.chdir(REPO)
    override = {"matrix": {"raw": [str(corpus / "raw.jsonl")], "val": [str(corpus / "val.jsonl")]}}
    plan = compile_plan(f"config/sandboxes/{sandbox}", override)
    inputs = {f for j in plan.jobs.values() for f in j.file_inputs}
    assert str(corpus / "raw.jsonl") in inputs and str(corpus / "val.jsonl") in inputs
    assert not [f for f in inputs if "data/demo" in f]
    default = compile_plan(f"config/sandboxes/{sandbox}")
    assert {f for j in default.jobs.values() for f in j.file_inputs} >= {"data/demo/raw.jsonl.gz",
                                                                           "data/demo/val.jsonl.gz"}


@pytest.mark.parametrize("sandbox", ["demo.yaml", "hpo_demo.yaml"])
def test_exports_live_under_the_work_dir_so_copies_do_not_collide(sandbox, monkeypatch):
    monkeypatch.chdir(REPO)
    one = compile_plan(f"config/sandboxes/{sandbox}")
    two = compile_plan(f"config/sandboxes/{sandbox}", {"work_dir": "outputs/copy_two"})
    for plan in (one, two):
        root = os.path.abspath(plan.work_dir) + os.sep
        assert plan.aliases and all(p.startswith(root) for p in plan.aliases), (plan.work_dir, list(plan.aliases))
    assert not set(one.aliases) & set(two.aliases)
    params = json.dumps([j.params() for j in two.jobs.values()], default=str)
    assert "outputs/demo/" not in params and "outputs/hpo_demo/" not in params
