"""Snakemake script for the summary and the report assets: all logic lives in juicer_sandbox.summary and
juicer_sandbox.report."""
import os, sys; sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # noqa: E401,E702 the workflow's own package, in any env (--sdm conda drops PYTHONPATH)
import json
import logging

from juicer_sandbox.core.process_exit import exit_now
from juicer_sandbox.report import write_report_assets
from juicer_sandbox.summary import write_summary

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO,  # noqa: F821
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
logging.getLogger("matplotlib").setLevel(logging.WARNING)
contexts = list(snakemake.input.contexts)  # noqa: F821 (injected by Snakemake)
write_summary(contexts, snakemake.params.sandbox, snakemake.output.json, snakemake.output.markdown,  # noqa: F821
              list(snakemake.params.stale))  # noqa: F821
write_report_assets(contexts, snakemake.output.markdown, json.loads(snakemake.params.report_items),  # noqa: F821
                    snakemake.params.report_dir)  # noqa: F821
exit_now()  # everything is written: skip the interpreter's teardown
