# Software environments without conda: a virtual environment per env file, built as a rule
# output (see juicer_sandbox/envs.py). Selected by the workflow config:
#   envs: {mode: shared}   every rule runs in Snakemake's own environment (default)
#   envs: {mode: venv}     a hook rule runs in .venvs/<env>, built from envs/<env>.yaml
#   snakemake --cores 2 --config 'envs={mode: venv}'
# Editing envs/<env>.yaml rebuilds .venvs/<env>; its jobs rerun when the frozen package list
# (.venvs/<env>.lock.txt, an input of each of them) changed. With conda, use --sdm conda instead.
import os

from juicer_sandbox import envs as _envs
from juicer_sandbox.snakemake_glue import fail_on_user_error

ENVS = fail_on_user_error(_envs.settings, config)
# Env files: <envs.specs>/<env>.yaml, by default this workflow's envs/ (next to rules/).
ENV_SPECS_DIR = os.path.normpath(os.path.join(workflow.current_basedir, "..", "envs"))
# For the rules of a family:  input: env_lock=env_lock("data")  (the lock file in venv mode,
# nothing in shared mode);  params: python=env_python("data")  (for shell: rules).
env_lock, env_python = _envs.rule_helpers(config)


rule build_venv:
    """A virtual environment from the pip: part of envs/<env>.yaml, and its frozen package list."""
    input:
        spec=lambda wildcards: _envs.spec_path(wildcards.env, config, ENV_SPECS_DIR),
    output:
        venv=directory(os.path.join(ENVS["dir"], "{env}")),
        lock=os.path.join(ENVS["dir"], f"{{env}}{_envs.LOCK_SUFFIX}"),
    log:
        os.path.join(ENVS["dir"], "{env}.build.log"),
    wildcard_constraints:
        env=r"[A-Za-z0-9_-]+",
    # Built by the Snakemake process itself (as conda envs are), also under a cluster executor:
    # .venvs/ must then be on a file system the compute nodes share.
    localrule: True
    params:
        installer=ENVS["installer"],
    run:
        _envs.build_venv(input.spec, output.venv, output.lock, log[0], installer=params.installer)
