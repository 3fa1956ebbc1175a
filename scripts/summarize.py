"""Snakemake script for the summary: all logic lives in juicer_sandbox.summary."""
from juicer_sandbox.summary import write_summary

write_summary(
    list(snakemake.input.contexts),  # noqa: F821 (injected by Snakemake)
    snakemake.params.sandbox,  # noqa: F821
    snakemake.output.json,  # noqa: F821
    snakemake.output.markdown,  # noqa: F821
)
