# Compile the DJ-Sandbox config into the job plan (validation happens here, before any job
# runs) and provide the input/param functions every hook rule shares.
from juicer_sandbox.config.paths import work_relative
from juicer_sandbox.config.plan import compile_plan, dumps_params
from juicer_sandbox.snakemake_glue import fail_on_user_error, restore_deleted_exports, rule_resources, start_run

PLAN = fail_on_user_error(
    compile_plan,
    config["sandbox"],
    config.get("sandbox_overrides"),
    config.get("hpo_parallel", 2),
    config.get("iter_cap", 10),
)
WORK_DIR = PLAN.work_dir
if workflow.is_main_process:
    fail_on_user_error(restore_deleted_exports, WORK_DIR)


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
    """The resources a hook's rule requests; the values come per job (see snakemake_glue): a job of a
    model family asks for its GPUs (gpu=N: `--resources gpu=N` locally, `--gpus=N` under the SLURM
    plugin), its wall time (runtime, minutes) and memory from its config and family."""
    res = {"mem_mb": job_resource("mem_mb")} if spec.mem or spec.gpu else {}
    if spec.gpu:
        res["gpu"] = job_resource("gpus")
        res["runtime"] = job_resource("runtime")
    return res


def job_env_file(wildcards):
    """--sdm conda: the env file of the job's family (a model family's, else its hook's)."""
    return f"../envs/{PLAN.jobs[wildcards.job].env}.yaml"


def job_env_lock(wildcards):
    """envs: {mode: venv}: the lock file of the job's family env (nothing in shared mode)."""
    return env_lock(PLAN.jobs[wildcards.job].env)


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
