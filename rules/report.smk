# The run's results in one place: summary.json for machines, summary.md for people.


rule summarize:
    input:
        contexts=[PLAN.context_path(job_id) for job_id in PLAN.jobs],
    output:
        json=f"{WORK_DIR}/summary.json",
        markdown=f"{WORK_DIR}/summary.md",
    params:
        sandbox=PLAN.sandbox.path,
    log:
        f"{WORK_DIR}/logs/summarize.log",
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/summarize.py"
