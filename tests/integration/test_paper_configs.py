"""The paper reruns in miniature: quick mode of single-op end to end, all three planned."""
from __future__ import annotations

import json
import os

import pytest

from .conftest import REPO, run_snakemake

pytestmark = pytest.mark.e2e

QUICK = "{matrix: {docs: [1500], budget: [8192], d_model: [32], stat: [text_len, alnum_ratio]}}"


def _link_repo(workdir):
    for sub in ("config", "data"):
        os.symlink(REPO / sub, workdir / sub)


@pytest.mark.parametrize("name", ["single_op", "multi_op", "duplication_scaling"])
def test_paper_configs_plan(workdir, name):
    _link_repo(workdir)
    proc = run_snakemake(workdir, f"config/sandboxes/paper/{name}.yaml", "-n", "--quiet", "all",
                         config={"sandbox_overrides": QUICK})
    assert "Job stats" in proc.stdout + proc.stderr or "total" in proc.stdout + proc.stderr


def test_single_op_quick_mode_ranks_pools_against_random(workdir):
    _link_repo(workdir)
    run_snakemake(workdir, "config/sandboxes/paper/single_op.yaml", config={"sandbox_overrides": QUICK})
    out = workdir / "outputs/paper/single_op"
    ranking = json.loads(next(out.glob("single_op/*_rank/artifacts/export/ranking.json")).read_text())
    arms = {row["arm"] for row in ranking["arms"]}
    assert arms == {f"{s}_{p}" for s in ("text_len", "alnum_ratio") for p in range(3)} | {"random"}
    assert all(row["n"] == 1 for row in ranking["arms"])
    # the returned pools: the best third of each op, best first, as files of the pools pipeline
    assert len(ranking["ranked_pools"]) == 2 and all(os.path.exists(p) for p in ranking["ranked_pools"])
    md = (out / "summary.md").read_text()
    assert "Pool rankings" in md and "random (baseline)" in md
