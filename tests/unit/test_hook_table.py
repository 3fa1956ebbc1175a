"""Every hook in the table has its rule (rules/hooks.smk), its script and its function, and the
fingerprint that decides reruns covers the code the hook and its component use."""
import ast
import importlib
import shutil
from pathlib import Path

import pytest

from juicer_sandbox.config import fingerprint
from juicer_sandbox.config.plan import compile_plan
from juicer_sandbox.core.hooktable import HOOKS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("spec", HOOKS.values(), ids=lambda s: s.name)
def test_hook_has_script_and_function(spec):
    script = REPO / "scripts" / f"{spec.rule}.py"
    calls = [n.func.id for n in ast.walk(ast.parse(script.read_text())) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name)]
    assert calls == ["run_snakemake_job"], f"{script} must only call run_snakemake_job"
    module, func = spec.impl.split(":")
    assert func == spec.rule and callable(getattr(importlib.import_module(module), func))
    assert (REPO / "envs" / f"{spec.env}.yaml").is_file()


def test_every_script_is_a_hook_rule_or_a_named_rule():
    hook_rules = {s.rule for s in HOOKS.values()}
    others = {"report_assets"}  # rules/report.smk: the summary and the report
    assert {p.stem for p in (REPO / "scripts").glob("*.py")} == hook_rules | others


def test_hook_rules_come_from_the_table_only():
    text = "".join(p.read_text() for p in (REPO / "rules").glob("*.smk"))
    for spec in HOOKS.values():
        assert f"rule {spec.rule}:" not in text, f"{spec.rule} is written by hand instead of from the table"
    assert "for spec in HOOKS.values():" in (REPO / "rules" / "hooks.smk").read_text()


def _fingerprints(monkeypatch, root: Path) -> dict[str, str]:
    monkeypatch.setattr(fingerprint, "PACKAGE_DIR", root)
    plan = compile_plan(REPO / "config" / "sandboxes" / "demo.yaml")
    return {job.rule: job.code() for job in plan.jobs.values()}


def test_editing_a_trainer_reruns_training_only(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    original, edited = tmp_path / "a" / "juicer_sandbox", tmp_path / "b" / "juicer_sandbox"
    for copy in (original, edited):  # two copies: fingerprints are cached per package directory
        shutil.copytree(fingerprint.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with open(edited / "models" / "train.py", "a") as f:
        f.write("\n# an edit\n")
    before, after = _fingerprints(monkeypatch, original), _fingerprints(monkeypatch, edited)
    assert {"train_model", "probe_via_analyzer", "process_data"} <= set(before)
    changed = {rule for rule in before if before[rule] != after[rule]}
    assert "train_model" in changed
    assert not changed & {"probe_via_analyzer", "process_data", "refine_via_ksigma"}
    assert "juicer_sandbox.models.train" in fingerprint.code_modules(
        ("juicer_sandbox.hooks.train_model", "juicer_sandbox.components.model_factories"), edited)
