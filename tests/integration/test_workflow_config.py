"""Workflow-config keys: every key is documented in config/README.md; an unknown one stops the run with the list."""
from __future__ import annotations

import os
import re
import subprocess

import yaml

from .conftest import REPO, SNAKEMAKE


def test_typo_in_a_config_key_is_rejected_with_the_valid_keys(tmp_path):
    proc = subprocess.run([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n",
                           "--config", "sanbox=config/sandboxes/demo.yaml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ))
    assert proc.returncode == 1
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("juicer-sandbox: error:")]
    assert line and "unknown workflow-config key(s) 'sanbox'" in line[0]
    assert "valid keys: envs, hpo_parallel, iter_cap, mem_mb, resources, sandbox, sandbox_overrides" in line[0]
    assert "Traceback" not in proc.stderr


def test_every_config_key_is_in_the_schema_and_the_readme():
    schema = yaml.safe_load((REPO / "config/schemas/config.schema.yaml").read_text())
    assert schema["additionalProperties"] is False
    keys = set(schema["properties"])
    assert set(yaml.safe_load((REPO / "config/config.yaml").read_text())) <= keys
    documented = set(re.findall(r"^\| `(\w+)` \|", (REPO / "config/README.md").read_text(), re.M))
    assert documented == keys
