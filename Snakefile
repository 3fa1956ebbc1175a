# juicer-sandbox: a DJ-Sandbox config run as a Snakemake file graph.
# Wiring only: configuration, schema validation, rule files and the target.
#   snakemake --cores 2                                    # the default sandbox (config/config.yaml)
#   snakemake --cores 2 --config sandbox=path/to/sandbox.yaml
import os

from snakemake.utils import min_version, validate

from juicer_sandbox.snakemake_glue import check_config_keys, end_run, fail_on_user_error

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config", "config.yaml")


fail_on_user_error(check_config_keys, config, os.path.join(workflow.basedir, "config/schemas/config.schema.yaml"))
validate(config, schema="config/schemas/config.schema.yaml")


report: "report/workflow.rst"


include: "rules/envs.smk"
include: "rules/plan.smk"
include: "rules/hooks.smk"
include: "rules/report.smk"
include: "rules/thirdparty.smk"


# Every job's record is a target: one removed (a failed rerun, by hand, set aside as corrupt)
# is rebuilt, and everything downstream of it reruns, whatever else exists from earlier runs.
rule all:
    default_target: True
    input:
        rules.report_assets.output,
        job_records,


# A real run with jobs to run (not -n; not a job process) holds the work dir's lock.
onstart:
    fail_on_user_error(start_run, WORK_DIR)


# The run is over: nothing may keep the main process waiting (see snakemake_glue.end_run).
onsuccess:
    end_run()


onerror:
    end_run()
