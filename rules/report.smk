# The run's results in one place: summary.json for machines, summary.md for people, and the files
# `snakemake --report report.html` puts into one offline HTML file (pool rankings, stat distributions,
# training curves, refined recipes, the summary). One cheap local job (one process, on a cluster the
# submitting node): it reads the job records once and writes both.
import json
import os

from juicer_sandbox.report import report_items
from juicer_sandbox.stale import stale_jobs


localrules:
    report_assets,


STALE_JOBS = stale_jobs(WORK_DIR, PLAN.jobs)
# What exists is known from the plan, so every report file is listed (and wrapped in report()) before
# anything runs.
REPORT_ITEMS = report_items(PLAN)


rule report_assets:
    """summary.json, summary.md (juicer_sandbox/summary.py) and the report files under <work_dir>/report/
    (juicer_sandbox/report.py)."""
    input:
        contexts=[PLAN.context_path(job_id) for job_id in PLAN.summary_jobs()],
    output:
        *[
            report(
                f"{WORK_DIR}/report/{item['path']}",
                caption=f"../report/{item['caption']}.rst",
                category=item["category"],
                subcategory=item["subcategory"],
                labels=item["labels"],
            )
            for item in REPORT_ITEMS
        ],
        json=f"{WORK_DIR}/summary.json",
        markdown=f"{WORK_DIR}/summary.md",
    log:
        f"{WORK_DIR}/logs/report_assets.log",
    conda:
        "../envs/data.yaml"
    params:
        sandbox=PLAN.sandbox.path,
        jobs=PLAN.summary_jobs(),  # a job added to the config changes this, so the summary (and the job) run
        stale=STALE_JOBS,  # job dirs no longer in the plan: listed, never read (see juicer_sandbox/stale.py)
        report_items=json.dumps(REPORT_ITEMS, sort_keys=True),
        report_dir=lambda wildcards, output: os.path.dirname(output[0]),  # output[0] is report/summary.html
    script:
        "../scripts/report_assets.py"
