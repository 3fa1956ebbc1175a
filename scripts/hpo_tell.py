"""Snakemake script for HpoTellHook: all logic lives in juicer_sandbox.hooks."""
from juicer_sandbox.hooks.runner import run_snakemake_job

run_snakemake_job(snakemake, "HpoTellHook")  # noqa: F821 (injected by Snakemake)
