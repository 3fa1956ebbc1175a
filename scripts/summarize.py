"""Snakemake script for the summary: all logic lives in juicer_sandbox.summary."""
import os, sys; sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # noqa: E401,E702 the workflow's own package, in any env (--sdm conda drops PYTHONPATH)
from juicer_sandbox.summary import write_summary

write_summary(
    list(snakemake.input.contexts),  # noqa: F821 (injected by Snakemake)
    snakemake.params.sandbox,  # noqa: F821
    snakemake.output.json,  # noqa: F821
    snakemake.output.markdown,  # noqa: F821
    list(snakemake.params.stale),  # noqa: F821
)
