"""The report end to end: a tiny pool experiment (3 arms x 2 seeds of a very small LM, ranked against the random
arm), `snakemake report_assets`, then `snakemake --report` -> one offline HTML file holding the ranking table and
bar chart, the seed agreement, stat histograms, training curves, the refined recipe and the summary.
Plus fast checks of the report helpers on synthetic records.
"""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import urllib.parse
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, SNAKEMAKE, demo_slice

TINY_LM = {"type": "causal_lm", "arch": "gpt2", "n_layer": 1, "d_model": 32, "n_head": 2, "context": 32,
           "batch_size": 8, "max_tokens": 4096, "checkpoint_every": 100}
ARMS = ("raw", "refined", "random")
SEEDS = (0, 1)


def _val_slice(dest: Path, n: int) -> Path:
    import gzip
    import itertools

    out = dest / "val.jsonl"
    with gzip.open(REPO / "data/demo/val.jsonl.gz", "rt", encoding="utf-8") as src, open(out, "w") as fh:
        fh.writelines(itertools.islice(src, n))
    return out


def _sandbox(workdir: Path, data: Path, val: Path) -> str:
    recipe = yaml.safe_load((REPO / "config/recipes/text_filters.yaml").read_text())
    recipe.update(dataset_path=str(data), export_path="exports/processed.jsonl")
    (workdir / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    p = "anonymous"
    train_data = {"raw": None, "refined": f"{p}.process.res_1", "random": f"{p}.random_arm.res_1"}
    trains, evals, refs = [], [], {}
    for arm in ARMS:
        for seed in SEEDS:
            inputs = {"extra_configs.tokenizer_path": f"{p}.tok.res_1"}
            if train_data[arm]:
                inputs["extra_configs.dataset_path"] = train_data[arm]
            trains.append({"hook": "TrainModelHook", "meta_name": f"train_{arm}_s{seed}", "input": inputs,
                           "extra_configs": {**TINY_LM, "dataset_path": str(data), "seed": seed}})
            refs[f"extra_configs.evaluations.{len(evals)}"] = f"{p}.eval_{arm}_s{seed}.res_1"
            evals.append({"hook": "EvaluateModelHook", "meta_name": f"eval_{arm}_s{seed}",
                          "input": {"extra_configs.model_path": f"{p}.train_{arm}_s{seed}.res_1"},
                          "extra_configs": {"type": "lm_loss", "val_path": str(val), "arm": arm, "seed": seed}})
    pools = {"extra_configs.pools.refined": f"{p}.process.res_1", "extra_configs.pools.random": f"{p}.random_arm.res_1"}

    def ranking(name, metric):
        return {"hook": "GeneralProbeHook", "meta_name": name, "input": {**refs, **pools},
                "extra_configs": {"type": "arm_ranking", "metric": metric, "baseline": "random",
                                  "pools": {"raw": str(data)}, "export_path": f"exports/{name}"}}

    spec = {
        "work_dir": "out",
        "probe_job_configs": [{"hook": "ProbeViaAnalyzerHook", "meta_name": "probe", "dj_configs": "recipe.yaml"}],
        "refine_recipe_job_configs": [
            {"hook": "RefineRecipeViaKSigmaHook", "meta_name": "probe", "dj_configs": "recipe.yaml",
             "extra_configs": {"path_k_sigma_recipe": "exports/refined.yaml", "k": 3, "tighten_only": True}}],
        "execution_job_configs": [
            {"hook": "ProcessDataHook", "meta_name": "process", "dj_configs": "exports/refined.yaml"},
            {"hook": "DataPoolManipulationHook", "meta_name": "random_arm",
             "input": {"extra_configs.target_like": f"{p}.process.res_1"},
             "extra_configs": {"type": "data_pool_downsampling", "dataset_path": str(data), "shuffle_seed": 42}},
            {"hook": "TrainModelHook", "meta_name": "tok",
             "extra_configs": {"type": "bpe_tokenizer", "dataset_path": str(data), "vocab_size": 512}},
            *trains,
        ],
        "evaluation_job_configs": [
            *evals,
            ranking("rank_loss", "loss"),
            ranking("rank_bpb", "bits_per_byte"),
            {"hook": "GeneralProbeHook", "meta_name": "agreement",
             "input": {"extra_configs.ranking_a": f"{p}.rank_loss.res_1",
                       "extra_configs.ranking_b": f"{p}.rank_bpb.res_1"},
             "extra_configs": {"type": "ranking_agreement"}},
        ],
    }
    (workdir / "sandbox.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return "sandbox.yaml"


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    # targets and --report go before --config, which takes every following word as a config entry
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args,
           "--config", "sandbox=sandbox.yaml"]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
    if proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def _results(html: str) -> dict:
    m = re.search(r'<script id="results"[^>]*>\s*var results = (.*?);?\s*</script>', html, re.S)
    assert m, "no results table in the report"
    return json.loads(m.group(1).strip().rstrip(";"))


def _decoded(entry: dict) -> bytes:
    head, _, data = entry["data_uri"].partition(",")
    return base64.b64decode(data) if head.endswith(";base64") else urllib.parse.unquote_to_bytes(data)


@pytest.mark.e2e
def test_report_end_to_end(workdir):
    data = demo_slice(workdir / "data", 300)
    val = _val_slice(workdir / "data", 40)
    _sandbox(workdir, data, val)
    _snakemake(workdir, "all", "report_assets")
    summary_jobs = json.loads((workdir / "out/summary.json").read_text())["jobs"]
    # the probe and the k-sigma refine share a meta_name (k-sigma reads that probe's stats)
    jobs = {j["meta_name"]: j for j in summary_jobs if j["hook"] != "RefineRecipeViaKSigmaHook"}
    refine_id = next(j["job"] for j in summary_jobs if j["hook"] == "RefineRecipeViaKSigmaHook")

    # the experiment reports itself: mean ± std over 2 seeds per arm, delta vs random, seed tau
    ranking = json.loads((workdir / "exports/rank_loss/ranking.json").read_text())
    assert [a["n"] for a in ranking["arms"]] == [2, 2, 2]
    assert sorted(ranking["ranking"]) == ["raw", "refined"] and ranking["baseline"] == "random"
    assert ranking["kendall_tau"]["seeds"] == [0, 1] and ranking["kendall_tau"]["n_arms"] == 3
    assert -1.0 <= ranking["kendall_tau"]["tau"] <= 1.0
    losses = {a["arm"]: a["mean"] for a in ranking["arms"]}
    assert losses["raw"] == pytest.approx(sum(jobs[f"eval_raw_s{s}"]["metrics"]["loss"] for s in SEEDS) / 2)
    # returned: the pools best first (the baseline excluded), as paths a later job can read
    ranked = jobs["rank_loss"]["outputs"]["res_1"]
    assert len(ranked) == 2 and all(os.path.exists(p) for p in ranked)
    assert ranked[ranking["ranking"].index("raw")] == str(workdir / "data/raw.jsonl")
    tau = jobs["agreement"]["outputs"]["res_1"]
    assert tau in (-1.0, 1.0)  # two items compared

    proc = _snakemake(workdir, "--report", "report.html", "report_assets")
    report = workdir / "report.html"
    assert report.is_file() and report.stat().st_size > 1_000_000, proc.stderr[-3000:]
    html = report.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=[\"']?https?:", html) and not re.search(r"<link[^>]+href=[\"']?https?:",
                                                                                      html)
    results = _results(html)
    by_name = {Path(k).relative_to("out/report").as_posix(): v for k, v in results.items()}
    rank_id, probe_id = jobs["rank_loss"]["job"], jobs["probe"]["job"]
    for name in (f"rankings/{rank_id}/ranking.png", "training_curves.png"):
        assert by_name[name]["mime_type"] == "image/png"
        assert _decoded(by_name[name]).startswith(b"\x89PNG")
    assert by_name[f"stats/{probe_id}.svg"]["mime_type"] == "image/svg+xml"
    assert _decoded(by_name[f"stats/{probe_id}.svg"]).startswith(b"<svg ")
    table = _decoded(by_name[f"rankings/{rank_id}/ranking.html"]).decode()
    assert "random (baseline)" in table and "Kendall" in table and "mean ± std" in table
    assert _decoded(by_name[f"rankings/{rank_id}/ranking.csv"]).decode().startswith("rank,arm,mean,std,n,")
    agreement = _decoded(by_name[f"rankings/{jobs['agreement']['job']}/agreement.html"]).decode()
    assert "Kendall" in agreement
    assert yaml.safe_load(_decoded(by_name[f"recipes/{refine_id}.yaml"]))["process"]
    assert "What changed" in _decoded(by_name[f"recipes/{refine_id}.html"]).decode()
    summary = _decoded(by_name["summary.html"]).decode()
    assert "<table>" in summary and "Sandbox summary" in summary
    assert "1. Summary" in html and "2. Pool ranking" in html  # categories


# -- fast checks of the helpers ------------------------------------------------------------------------------------
def _record(tmp: Path, job: str, hook: str, extra: dict, outputs: dict | None = None) -> dict:
    art = tmp / job / "artifacts"
    art.mkdir(parents=True)
    (art / "resolved_config.json").write_text(json.dumps({"dj_configs": None, "extra_configs": extra}))
    return {"job": job, "hook": hook, "meta_name": job.split("_", 1)[-1], "artifacts": str(art),
            "outputs": outputs or {}, "metrics": {}}


def test_ranking_summary_lines_and_pages(tmp_path):
    from juicer_sandbox.components.experiment import compute_arm_ranking
    from juicer_sandbox.report import agreement_html, load_ranking, ranking_html, ranking_summary_lines

    evs = [{"arm": a, "seed": s, "loss": v} for a, s, v in
           [("x", 0, 1.0), ("x", 1, 1.2), ("random", 0, 2.0), ("random", 1, 2.4), ("y", 0, 1.5), ("y", 1, 1.1)]]
    rank = _record(tmp_path, "p/evaluation_rank", "GeneralProbeHook",
                   {"type": "arm_ranking", "evaluations": evs, "baseline": "random", "metric": "loss"})
    agree = _record(tmp_path, "p/evaluation_agree", "GeneralProbeHook",
                    {"type": "ranking_agreement", "ranking_a": ["x", "y"], "ranking_b": ["y", "x"]},
                    {"res_1": -1.0})
    other = _record(tmp_path, "p/evaluation_pools", "GeneralProbeHook", {"type": "data_pool_ranking"})
    lines = ranking_summary_lines([rank, agree, other])
    text = "\n".join(lines)
    assert lines[0] == "## Pool rankings" and "### p/evaluation_rank" in text
    assert "| 1 | x | 1.1000 ± 0.1414 | 2 | -1.1000 |" in text  # mean(random) = 2.2, std = 0.2828
    assert "| 3 | random (baseline) | 2.2000 ± 0.2828 | 2 |" in text
    assert "| p/evaluation_agree | -1.000 | 2 |" in text
    assert ranking_summary_lines([other]) == []
    # an exported ranking.json is used as is
    export = Path(rank["artifacts"]) / "export"
    export.mkdir()
    (export / "ranking.json").write_text(json.dumps({"arms": [], "marker": 1}))
    assert load_ranking(rank)["marker"] == 1
    page = ranking_html(compute_arm_ranking({"evaluations": evs, "baseline": "random"}), "p/evaluation_rank")
    assert "<table>" in page and "random (baseline)" in page and "Kendall" in page and "<script" not in page
    page = agreement_html({"tau": -1.0, "n_common": 2, "common": ["x", "y"], "ranking_a": ["x", "y"],
                           "ranking_b": ["y", "x"]}, "j")
    assert "<b>-1.000</b> over 2 common items" in page


def test_figures_are_pngs_and_the_stats_grid_svg(tmp_path):
    import xml.etree.ElementTree as ET

    from juicer_sandbox.components.experiment import compute_arm_ranking
    from juicer_sandbox.report import ranking_chart, stats_grid, training_curves

    stats = tmp_path / "d_stats.jsonl"
    stats.write_text("".join(json.dumps({"__dj__stats__": {"len": i, "ratio": i / 50, "lang": "en",
                                                           "scores": [i, i + 1]}}) + "\n" for i in range(50)))
    stats_grid(stats, tmp_path / "s.svg", "t <&>", {"ratio": [{"arg": "min_ratio", "old": 0.1, "new": 0.5}]})
    svg = ET.parse(tmp_path / "s.svg").getroot()  # well-formed XML (the title is escaped)
    texts = ["".join(t.itertext()) for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    # one panel per numeric stat (len, ratio, scores: every item of a list), what falls outside counted
    assert "t <&>" in texts and "len (n=50, 2 outside)" in texts and "scores (n=100, 2 outside)" in texts
    assert "refined min_ratio 0.5" in texts and "recipe min_ratio 0.1" in texts and "median 24.5" in texts
    assert len(svg.findall("{http://www.w3.org/2000/svg}path")) == 3  # three histograms
    ranking = compute_arm_ranking({"evaluations": [{"arm": "a", "loss": 6.2}, {"arm": "b", "loss": 6.4}],
                                   "baseline": "b"})
    ranking_chart(ranking, tmp_path / "r.png", "t")
    art = tmp_path / "train" / "artifacts" / "export"
    art.mkdir(parents=True)
    (art / "loss_curve.json").write_text(json.dumps([{"step": k, "tokens": 64 * k, "loss": 5 - k / 10}
                                                     for k in range(1, 30)]))
    training_curves([{"job": "j", "meta_name": "train", "artifacts": str(art.parent), "metrics": {"seed": 1}},
                     {"job": "k", "meta_name": "tok", "artifacts": str(tmp_path / "none"), "metrics": {}}],
                    tmp_path / "c.png")
    for name in ("r.png", "c.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
