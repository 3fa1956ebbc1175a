# Execution hooks: process data with Data-Juicer, build/combine data pools, convert formats.


rule process_data:
    """ProcessDataHook: run a Data-Juicer recipe (stats already in the input are reused)."""
    input:
        unpack(job_inputs),
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
        job=PLAN.job_regex("process_data"),
    threads: job_threads
    resources:
        mem_mb=job_resource("mem_mb"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/process_data.py"


rule manipulate_pools:
    """DataPoolManipulationHook: construct, combine, duplicate, downsample, merge, join pools."""
    input:
        unpack(job_inputs),
    output:
        context=hook_output("context"),
        artifacts=directory(hook_output("artifacts")),
    params:
        spec=job_params,
    log:
        hook_output("log"),
    wildcard_constraints:
        job=PLAN.job_regex("manipulate_pools"),
    resources:
        mem_mb=job_resource("mem_mb"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/manipulate_pools.py"


rule general_data_executor:
    """GeneralDataExecutorHook: format conversion (DJ jsonl <-> parquet / HF datasets)."""
    input:
        unpack(job_inputs),
    output:
        context=hook_output("context"),
        artifacts=directory(hook_output("artifacts")),
    params:
        spec=job_params,
    log:
        hook_output("log"),
    wildcard_constraints:
        job=PLAN.job_regex("general_data_executor"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/general_data_executor.py"
