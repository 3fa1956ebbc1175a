# Compile the DJ-Sandbox config into the job plan (validation happens here, before any job
# runs) and provide the input/param functions every hook rule shares.
import os

from juicer_sandbox import noop
from juicer_sandbox.config.paths import work_relative
from juicer_sandbox.config.plan import compile_workflow_plan, dumps_params
from juicer_sandbox.snakemake_glue import fail_on_user_error, restore_deleted_exports, rule_resources, start_run

PLAN = fail_on_user_error(compile_workflow_plan, config)
WORK_DIR = PLAN.work_dir
# Started by `juicer-sandbox run`: the data files' state as the plan saw them, for its no-op stamp.
NOOP_INPUTS = noop.input_states(PLAN, config) if workflow.is_main_process and os.environ.get(noop.STAMP_ENV) else None


def job_records(wildcards):
    """rule all's job records. Evaluated when the DAG is built, when Snakemake knows whether this
    is a dry run: a real run (not -n, not a job process) first restores deleted exports (even
    when no job has to run), and records its plan for the no-op stamp."""
    if workflow.is_main_process and not workflow.dryrun:
        fail_on_user_error(restore_deleted_exports, WORK_DIR)
        if NOOP_INPUTS is not None:
            noop.record_plan(PLAN, config, NOOP_INPUTS)
    return [PLAN.context_path(job_id) for job_id in PLAN.jobs]


def job_inputs(wildcards):
    job = PLAN.jobs[wildcards.job]
    return {
        "upstream": [PLAN.context_path(dep) for dep in job.deps],
        "files": [work_relative(path) for path in job.file_inputs],  # the work dir may move
    }


def job_params(wildcards):
    return dumps_params(PLAN.jobs[wildcards.job])


def job_resource(name):
    return lambda wildcards: rule_resources(config, PLAN.jobs[wildcards.job])[name]


def hook_resources(spec):
    """The resources a hook's rule requests; the values come per job (see snakemake_glue). A job of a
    model family asks for its GPUs (gpu=N: `--resources gpu=N` locally, `--gpus=N` under the SLURM
    plugin), its wall time (runtime, minutes) and memory from its config and family."""
    res = {"mem_mb": job_resource("mem_mb")} if spec.mem or spec.gpu else {}
    if spec.gpu:
        res["gpu"] = job_resource("gpus")
        res["runtime"] = job_resource("runtime")
    return res


def job_threads(wildcards):
    return rule_resources(config, PLAN.jobs[wildcards.job])["threads"]


def hook_output(kind):
    """Where every hook job writes: its context record, its artifacts, its log and benchmark."""
    return {
        "context": f"{WORK_DIR}/{{job}}/context.json",
        "artifacts": f"{WORK_DIR}/{{job}}/artifacts",
        "log": f"{WORK_DIR}/logs/{{job}}.log",
        "benchmark": f"{WORK_DIR}/benchmarks/{{job}}.tsv",
    }[kind]
