"""The HTML report as a person sees it: every page in headless Chromium, no console error, no blank view.

`snakemake --report` writes one offline HTML file whose pages are drawn by JavaScript; a page whose results do not
fit Snakemake's label grid throws a TypeError in the browser and shows nothing (the "Data statistics" bug: job and
probe labels varying together became a toggle matching no file). Python cannot see that; a browser can. The tests
walk every menu page and view every result (tests/integration/cdp.py, Chrome DevTools Protocol), collecting
uncaught exceptions, console.error calls and browser log errors, and save a screenshot of each page and view under
$TEST_ARTIFACTS (default test-artifacts/). Chromium: Debian's `chromium` (`make browser`, part of `make test`);
without it these tests skip with that reason.

* e2e: a two-probe sandbox (the bug's shape) on a slice of the demo corpus.
* slow: the shipped demo, the HPO demo and a paper quick run, each with --directory elsewhere.
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from .cdp import Browser, artifact_dir, find_chromium, walk_report
from .conftest import REPO, SNAKEMAKE, demo_slice

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make browser installs it)")


def _snakemake(workdir: Path, sandbox: str, *args: str, overrides: dict | None = None, timeout: int = 1800):
    config = [f"sandbox={sandbox}"] + ([f"sandbox_overrides={json.dumps(overrides)}"] if overrides else [])
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args,
           "--config", *config]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONUNBUFFERED="1", JUICER_SANDBOX_PROGRESS_EVERY="0"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


def _check(report: Path, name: str) -> dict:
    with Browser(CHROMIUM) as browser:
        walked = walk_report(browser, report, artifact_dir(f"report_{name}"))
    pages = {p["page"] for p in walked["pages"]}
    assert {"Workflow", "Statistics", "About"} <= pages
    assert walked["errors"] == [], walked["errors"]
    assert walked["blank"] == [], walked["blank"]
    for p in walked["pages"]:  # every results category lists something to view (or subcategories)
        if p["page"][:1].isdigit():
            assert p["rows"] or p["links"], p
    return walked


@needs_chromium
@pytest.mark.e2e
def test_two_probes_report_has_no_blank_page(workdir):
    data = demo_slice(workdir / "data", 300)
    recipe = yaml.safe_load((REPO / "config/recipes/text_filters.yaml").read_text())
    recipe.update(dataset_path=str(data), export_path="out/exports/processed.jsonl")
    (workdir / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    spec = {
        "work_dir": "out",
        "probe_job_configs": [{"hook": "ProbeViaAnalyzerHook", "meta_name": "probe", "dj_configs": "recipe.yaml"}],
        "refine_recipe_job_configs": [{"hook": "RefineRecipeViaKSigmaHook", "meta_name": "probe",
                                       "dj_configs": "recipe.yaml",
                                       "extra_configs": {"path_k_sigma_recipe": "out/exports/refined.yaml", "k": 3}}],
        "execution_job_configs": [{"hook": "ProcessDataHook", "meta_name": "process",
                                   "dj_configs": "out/exports/refined.yaml"}],
        "evaluation_job_configs": [{"hook": "ProbeViaAnalyzerHook", "meta_name": "probe_processed",
                                    "dj_configs": "out/exports/refined.yaml",
                                    "input": {"dj_configs.dataset_path": "anonymous.process.res_1"},
                                    "extra_configs": {}}],
    }
    (workdir / "sandbox.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    _snakemake(workdir, "sandbox.yaml")
    _snakemake(workdir, "sandbox.yaml", "--report", "report.html")
    walked = _check(workdir / "report.html", "two_probes")
    stats = [v for v in walked["views"] if v["page"] == "3. Data statistics"]
    assert len(stats) == 2  # both probes viewable


SHIPPED = {
    "demo": ("config/sandboxes/demo.yaml", None),
    "hpo_demo": ("config/sandboxes/hpo_demo.yaml", None),
    "paper_single_op_quick": ("config/sandboxes/paper/single_op.yaml",
                              {"matrix": {"docs": [3000], "budget": [16384],
                                          "stat": ["text_len", "alnum_ratio", "word_rep_ratio"]}}),
}


@needs_chromium
@pytest.mark.slow
@pytest.mark.parametrize("name", list(SHIPPED))
def test_shipped_sandbox_report_renders(tmp_path, name):
    sandbox, overrides = SHIPPED[name]
    _snakemake(tmp_path, str(REPO / sandbox), overrides=overrides)
    _snakemake(tmp_path, str(REPO / sandbox), "--report", "report.html", overrides=overrides)
    _check(tmp_path / "report.html", name)


def _grid_problems(items: list[dict]) -> list[str]:
    """Snakemake's report needs the labels of each (category, subcategory) to form a full grid."""
    problems = []
    key = lambda it: (it["category"], it["subcategory"] or "")  # noqa: E731
    for (cat, sub), group in itertools.groupby(sorted(items, key=key), key=key):
        group = list(group)
        names = {tuple(sorted(it["labels"])) for it in group}
        if len(names) != 1:
            problems.append(f"{cat}/{sub}: different label names {names}")
            continue
        names = next(iter(names))
        seen = {tuple(it["labels"][n] for n in names) for it in group}
        full = set(itertools.product(*[sorted({it["labels"][n] for it in group}) for n in names]))
        if seen != full or len(seen) != len(group):
            problems.append(f"{cat}/{sub}: labels {names} do not form a full grid ({len(seen)} of {len(full)})")
    return problems


@pytest.mark.parametrize("sandbox", ["demo.yaml", "hpo_demo.yaml", "paper/single_op.yaml", "paper/multi_op.yaml",
                                     "paper/duplication_scaling.yaml"])
def test_report_labels_form_a_full_grid(sandbox):
    from juicer_sandbox.config.plan import compile_plan
    from juicer_sandbox.report import report_items

    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        items = report_items(compile_plan(f"config/sandboxes/{sandbox}"))
    finally:
        os.chdir(cwd)
    assert _grid_problems(items) == []
    assert [it["category"] for it in items if it["category"].startswith("3.")]
