"""Per-rule environments without conda: a uv venv per env file, built as a rule output.

A tiny workflow includes the real rules/envs.smk and has rules in two environments that differ
only in the version of `six` (1.16.0 vs 1.17.0): two shell rules call their env's interpreter,
and a `script:` rule re-executes itself in its env with juicer_sandbox.envs.maybe_reexec (how the
hook rules do it). Then: a no-op rerun does nothing, and editing one env file rebuilds that venv
and reruns only its consumer. The six wheels come from PyPI (the only network this needs).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from juicer_sandbox import envs

from .conftest import REPO, SNAKEMAKE

ENV_FILE = """\
channels: [conda-forge]
dependencies:
  - python =3.11
  - cudatoolkit =12.1
  - pip:
      - six=={version}
"""

SNAKEFILE = """\
include: "{repo}/rules/envs.smk"


rule all:
    input:
        "out/old.txt",
        "out/new.txt",
        "out/script_new.json",


rule six_old:
    input:
        env_lock("six_old"),
    output:
        "out/old.txt",
    params:
        python=env_python("six_old"),
    shell:
        "{{params.python}} -c 'import six, sys; print(six.__version__, sys.prefix)' > {{output}}"


rule six_new:
    input:
        env_lock("six_new"),
    output:
        "out/new.txt",
    params:
        python=env_python("six_new"),
    shell:
        "{{params.python}} -c 'import six, sys; print(six.__version__, sys.prefix)' > {{output}}"


rule script_new:
    input:
        env_lock=env_lock("six_new"),
    output:
        "out/script_new.json",
    script:
        "probe_script.py"
"""

# A script: rule as the hook scripts are: Snakemake runs it with its own interpreter.
PROBE_SCRIPT = """\
import sys

from juicer_sandbox.envs import maybe_reexec

if not maybe_reexec(snakemake, "probe_mod:main", sys.prefix):
    import probe_mod

    probe_mod.main(snakemake, sys.prefix)
"""

PROBE_MOD = """\
import importlib.util
import json
import sys

import six


def main(job, parent_prefix):
    record = {
        "six": six.__version__,
        "prefix": sys.prefix,
        "parent_prefix": parent_prefix,
        "snakemake_importable": importlib.util.find_spec("snakemake") is not None,
        "env_lock": job.input.env_lock,
        "rule": job.rule,
    }
    with open(job.output[0], "w") as fh:
        json.dump(record, fh)
"""


def _setup(tmp: Path) -> Path:
    (tmp / "envs").mkdir()
    (tmp / "envs/six_old.yaml").write_text(ENV_FILE.format(version="1.16.0"))
    (tmp / "envs/six_new.yaml").write_text(ENV_FILE.format(version="1.17.0"))
    (tmp / "Snakefile").write_text(SNAKEFILE.format(repo=REPO))
    (tmp / "probe_script.py").write_text(PROBE_SCRIPT)
    (tmp / "probe_mod.py").write_text(PROBE_MOD)
    return tmp


def _snakemake(tmp: Path, *args: str, mode: str = "venv", check: bool = True) -> subprocess.CompletedProcess:
    cmd = [SNAKEMAKE, "-s", str(tmp / "Snakefile"), "--directory", str(tmp), "--cores", "2",
           "--config", f"envs={{mode: {mode}, specs: {tmp / 'envs'}}}", *args]
    # probe_mod is imported by the child interpreter too; PYTHONPATH is passed on to it
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(tmp))
    proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, env=env, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def _planned(proc) -> list[str]:
    text = proc.stdout + proc.stderr
    return sorted(m.group(1) for m in re.finditer(r"^(?:local)?rule (\w+):$", text, re.M))


@pytest.mark.e2e
def test_two_rules_run_in_two_environments(tmp_path):
    tmp = _setup(tmp_path)
    _snakemake(tmp)

    old = (tmp / "out/old.txt").read_text().split()
    new = (tmp / "out/new.txt").read_text().split()
    assert old[0] == "1.16.0" and Path(old[1]) == tmp / ".venvs/six_old"
    assert new[0] == "1.17.0" and Path(new[1]) == tmp / ".venvs/six_new"
    assert "six==1.16.0" in (tmp / ".venvs/six_old.lock.txt").read_text().splitlines()
    assert "six==1.17.0" in (tmp / ".venvs/six_new.lock.txt").read_text().splitlines()
    log = (tmp / ".venvs/six_old.build.log").read_text()
    assert "'cudatoolkit =12.1': skipped, conda-only" in log

    # the script: rule started in Snakemake's interpreter and ran in its own venv, which holds
    # only what the env file lists (no Snakemake, which the shared environment has)
    script = json.loads((tmp / "out/script_new.json").read_text())
    assert script["six"] == "1.17.0"
    assert Path(script["prefix"]) == tmp / ".venvs/six_new"
    assert script["parent_prefix"] == sys.prefix  # Snakemake's (and this test's) environment
    assert script["snakemake_importable"] is False
    assert script["rule"] == "script_new"

    # nothing changed: nothing to do
    assert "Nothing to be done" in _snakemake(tmp, "-n").stdout

    # editing one env file rebuilds that venv and reruns only its consumer
    new_mtime = (tmp / "out/new.txt").stat().st_mtime_ns
    (tmp / "envs/six_old.yaml").write_text(ENV_FILE.format(version="1.15.0"))
    dry = _snakemake(tmp, "-n")
    assert _planned(dry) == ["all", "build_venv", "six_old"]
    assert f"Updated input files: {tmp / 'envs/six_old.yaml'}" in dry.stdout + dry.stderr
    _snakemake(tmp)
    assert (tmp / "out/old.txt").read_text().split()[0] == "1.15.0"
    assert "six==1.15.0" in (tmp / ".venvs/six_old.lock.txt").read_text().splitlines()
    assert (tmp / "out/new.txt").stat().st_mtime_ns == new_mtime

    # shared mode (the default): no environments are built, rules run in Snakemake's environment
    shared = _snakemake(tmp, "-n", "--forceall", mode="shared")
    assert _planned(shared) == ["all", "script_new", "six_new", "six_old"]


@pytest.mark.e2e
def test_unknown_mode_is_a_user_error(tmp_path):
    tmp = _setup(tmp_path)
    proc = _snakemake(tmp, "-n", mode="conda", check=False)
    assert proc.returncode == 1
    assert "config envs.mode: 'conda' is not one of shared, venv" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_env_files_of_the_project_parse():
    """Every rule family's env file has a python pin and a pinned pip section."""
    files = sorted((REPO / "envs").glob("*.yaml"))
    assert {f.stem for f in files} >= {"data", "train", "easyanimate", "internvl", "vbench"}
    for f in files:
        conda, pip = envs.read_env_file(f)
        assert any(envs.conda_name(c)[0] == "python" for c in conda), f
        assert pip, f
        for req in pip:
            assert "==" in req or " @ " in req, f"{f.name}: {req} is not pinned"


def test_pip_sources_become_uv_options():
    """uv does not read pip's configuration: its sources are handed over as options."""
    text = ("global.constraint='/etc/hosts'\n"
            "global.extra-index-url='file:///a/simple file:///b/simple'\n"
            "global.find-links='/opt/wheels'\n"
            ":env:.find-links='/opt/wheels'\n"
            ":env:.default-timeout='180'\n")
    sources = envs.parse_pip_config(text)
    assert sources == {"constraint": ["/etc/hosts"], "extra-index-url": ["file:///a/simple", "file:///b/simple"],
                       "find-links": ["/opt/wheels"]}
    args, _ = envs.uv_source_args(sources)
    assert args == ["--extra-index-url", "file:///a/simple", "--extra-index-url", "file:///b/simple",
                    "--find-links", "/opt/wheels", "--constraint", "/etc/hosts",
                    "--index-strategy", "unsafe-best-match"]
    assert envs.uv_source_args({}) == ([], {})


def test_settings_and_paths():
    assert envs.settings({}) == envs.DEFAULTS
    assert envs.lock_input("data", {}) == []
    assert envs.python_for("data", {}) == sys.executable
    cfg = {"envs": {"mode": "venv", "dir": "/x/venvs"}}
    assert envs.lock_input("data", cfg) == ["/x/venvs/data.lock.txt"]
    assert envs.python_for("data", cfg) == "/x/venvs/data/bin/python"
    with pytest.raises(envs.EnvError, match="unknown key"):
        envs.settings({"envs": {"mdoe": "venv"}})
    have = "%d.%d" % sys.version_info[:2]
    assert envs.python_mismatch([f"python ={have}"]) is None
    assert envs.python_mismatch(["python =2.7"]) is not None
