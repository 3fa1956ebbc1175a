# Probe hooks: look at data (Data-Juicer statistics) or rank data pools.


rule probe_via_analyzer:
    """ProbeViaAnalyzerHook: per-sample stats + overall distribution of a dataset."""
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
        job=PLAN.job_regex("probe_via_analyzer"),
    # the data chain gates most other jobs: run it first when jobs compete for cores
    priority: 10
    threads: job_threads
    resources:
        mem_mb=job_resource("mem_mb"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/probe_via_analyzer.py"


rule general_probe:
    """GeneralProbeHook: rank data pools by their metrics."""
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
        job=PLAN.job_regex("general_probe"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/general_probe.py"


rule probe_via_model_infer:
    """ProbeViaModelInferHook: per-sample model loss written as a stat."""
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
        job=PLAN.job_regex("probe_via_model_infer"),
    threads: job_threads
    resources:
        mem_mb=job_resource("mem_mb"),
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/probe_via_model_infer.py"
