# Execution hooks: process data with Data-Juicer, build/combine data pools, convert formats.


rule process_data:
    """ProcessDataHook: run a Data-Juicer recipe (stats already in the input are reused)."""
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
        job=PLAN.job_regex("process_data"),
    # the data chain gates most other jobs: run it first when jobs compete for cores
    priority: 10
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
        env_lock=env_lock("data"),
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
        env_lock=env_lock("data"),
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


rule train_model:
    """TrainModelHook: a tiny causal LM with a fixed token budget, or a shared BPE tokenizer.
    Checkpoints live outside the job's outputs, so a killed job resumes when rerun."""
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
        job=PLAN.job_regex("train_model"),
    threads: job_threads
    resources:
        mem_mb=job_resource("mem_mb"),
        gpu=job_resource("gpus"),
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/train_model.py"


rule infer_model:
    """InferModelHook: generation over a dataset, from a local model or an OpenAI-compatible API."""
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
        job=PLAN.job_regex("infer_model"),
    threads: job_threads
    resources:
        mem_mb=job_resource("mem_mb"),
        gpu=job_resource("gpus"),
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/infer_model.py"
