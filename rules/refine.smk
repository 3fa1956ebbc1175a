# Refine hooks: write a new Data-Juicer recipe from probe results.


rule refine_via_ksigma:
    """RefineRecipeViaKSigmaHook: op thresholds at mean +/- k*std of the probed stats."""
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
        job=PLAN.job_regex("refine_via_ksigma"),
    # the data chain gates most other jobs: run it first when jobs compete for cores
    priority: 10
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/refine_via_ksigma.py"


rule refine_via_model_feedback:
    """RefineRecipeViaModelFeedbackHook: a recipe from per-sample model loss or from ranked pools."""
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
        job=PLAN.job_regex("refine_via_model_feedback"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/refine_via_model_feedback.py"
