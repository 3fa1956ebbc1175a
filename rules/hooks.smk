# One rule per hook, all from one body: the hook table (juicer_sandbox/core/hooktable.py) names
# each rule and says how it runs: its env family (envs/<env>.yaml), GPU, threads, memory,
# priority, local or not. A job whose component belongs to a model family (juicer_sandbox/families)
# runs in that family's env instead and asks for the family's GPUs, runtime and memory. Every hook job writes a benchmark ({work_dir}/benchmarks/<job>.tsv).
# A hook's rule runs scripts/<rule>.py, which runs the function juicer_sandbox.hooks.<module>:<rule>
# (the module is named in the table).
from juicer_sandbox.core.hooktable import HOOKS

for spec in HOOKS.values():

    rule:
        name:
            spec.rule
        input:
            unpack(job_inputs),
            # envs: {mode: venv}: the lock of the job's family env (nothing in shared mode)
            env_lock=lambda wildcards: env_lock(PLAN.jobs[wildcards.job].env),
        output:
            context=hook_output("context"),
            artifacts=directory(hook_output("artifacts")),
        log:
            hook_output("log"),
        benchmark:
            hook_output("benchmark")
        wildcard_constraints:
            job=PLAN.job_regex(spec.rule),
        priority: spec.priority
        localrule: spec.local
        conda:
            # --sdm conda: the env file of the job's family (a model family's, else its hook's)
            lambda wildcards: f"../envs/{PLAN.jobs[wildcards.job].env}.yaml"
        threads: job_threads if spec.threads else 1
        resources:
            **hook_resources(spec),
        params:
            spec=job_params,
        script:
            f"../scripts/{spec.rule}.py"
