"""Snakemake script for the report assets: all logic lives in juicer_sandbox.report."""
import os, sys; sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # noqa: E401,E702 the workflow's own package, in any env (--sdm conda drops PYTHONPATH)
import json
import logging

from juicer_sandbox.report import write_report_assets

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO,  # noqa: F821
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
logging.getLogger("matplotlib").setLevel(logging.WARNING)
write_report_assets(
    list(snakemake.input.contexts),  # noqa: F821 (injected by Snakemake)
    snakemake.input.summary,  # noqa: F821
    json.loads(snakemake.params.report_items),  # noqa: F821
    snakemake.params.report_dir,  # noqa: F821
)
