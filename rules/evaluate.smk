# Evaluation hooks: score datasets (quality classifier, before/after stats, mse, accuracy).


rule evaluate_data:
    """EvaluateDataHook: evaluate a dataset with the component named by extra_configs.type."""
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
    benchmark:
        hook_output("benchmark")
    wildcard_constraints:
        job=PLAN.job_regex("evaluate_data"),
    threads: job_threads
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/evaluate_data.py"


rule evaluate_model:
    """EvaluateModelHook: validation loss, perplexity and bits per byte of a trained model."""
    input:
        unpack(job_inputs),
        env_lock=env_lock("train"),
    output:
        context=hook_output("context"),
        artifacts=directory(hook_output("artifacts")),
    params:
        spec=job_params,
    log:
        hook_output("log"),
    benchmark:
        hook_output("benchmark")
    wildcard_constraints:
        job=PLAN.job_regex("evaluate_model"),
    threads: job_threads
    resources:
        mem_mb=job_resource("mem_mb"),
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/evaluate_model.py"
