# HPO: the jobs the compiler adds around each sweep trial (juicer_sandbox/config/trials.py).
# Trial jobs themselves are ordinary hook jobs under {work_dir}/hpo/trial_NNNN/.


rule hpo_ask:
    """A trial's parameters from the Optuna study in {work_dir}/hpo/study."""
    input:
        unpack(job_inputs),
        env_lock=env_lock("data"),
    output:
        context=hook_output("context"),
        artifacts=directory(hook_output("artifacts")),
    params:
        spec=job_params,
    log:
        hook_output("log"),
    wildcard_constraints:
        job=PLAN.job_regex("hpo_ask"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/hpo_ask.py"


rule hpo_tell:
    """The trial's objective back to the study."""
    input:
        unpack(job_inputs),
        env_lock=env_lock("data"),
    output:
        context=hook_output("context"),
        artifacts=directory(hook_output("artifacts")),
    params:
        spec=job_params,
    log:
        hook_output("log"),
    wildcard_constraints:
        job=PLAN.job_regex("hpo_tell"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/hpo_tell.py"


rule hpo_export:
    """trials.csv, best.json, plots, and the best recipe against the baseline run."""
    input:
        unpack(job_inputs),
        env_lock=env_lock("data"),
    output:
        context=hook_output("context"),
        artifacts=directory(hook_output("artifacts")),
    params:
        spec=job_params,
    log:
        hook_output("log"),
    wildcard_constraints:
        job=PLAN.job_regex("hpo_export"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/hpo_export.py"
