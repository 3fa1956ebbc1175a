# Iterations: the gate after each iteration decides whether the next one runs
# (juicer_sandbox/config/iterations.py). Iteration jobs are ordinary hook jobs under iter_N/.


rule iter_gate:
    """iter_targets checked on one iteration's records."""
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
        job=PLAN.job_regex("iter_gate"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/iter_gate.py"
