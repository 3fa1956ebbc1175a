# The run's results in one place: summary.json for machines, summary.md for people.
# Both are cheap: on a cluster they run on the submitting node instead of as cluster jobs.


from juicer_sandbox.stale import stale_jobs


localrules:
    summarize,
    report_assets,


STALE_JOBS = stale_jobs(WORK_DIR, PLAN.jobs)


rule summarize:
    input:
        contexts=[PLAN.context_path(job_id) for job_id in PLAN.summary_jobs()],
    output:
        json=f"{WORK_DIR}/summary.json",
        markdown=f"{WORK_DIR}/summary.md",
    log:
        f"{WORK_DIR}/logs/summarize.log",
    conda:
        "../envs/data.yaml"
    params:
        sandbox=PLAN.sandbox.path,
        jobs=PLAN.summary_jobs(),  # a job added to the config changes this, so the summary (and the job) run
        stale=STALE_JOBS,  # job dirs no longer in the plan: listed, never read (see juicer_sandbox/stale.py)
    script:
        "../scripts/summarize.py"


# Figures and tables for `snakemake --report report.html`: one offline HTML file with the pool
# rankings, stat distributions, training curves, refined recipes and the summary. What exists is
# known from the plan, so every output is listed (and wrapped in report()) before anything runs.
import json
import os

from juicer_sandbox.report import report_items

REPORT_ITEMS = report_items(PLAN)


rule report_assets:
    """Report files under <work_dir>/report/ (see juicer_sandbox/report.py)."""
    input:
        contexts=[PLAN.context_path(job_id) for job_id in PLAN.summary_jobs()],
        summary=rules.summarize.output.markdown,
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
    log:
        f"{WORK_DIR}/logs/report_assets.log",
    conda:
        "../envs/data.yaml"
    params:
        report_items=json.dumps(REPORT_ITEMS, sort_keys=True),
        report_dir=lambda wildcards, output: os.path.dirname(output[0]),  # output[0] is report/summary.html
    script:
        "../scripts/report_assets.py"
