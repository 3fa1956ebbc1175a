"""Snakemake script for IterGateHook: all logic lives in juicer_sandbox.hooks."""
from juicer_sandbox.hooks.runner import run_snakemake_job

run_snakemake_job(snakemake, "IterGateHook")  # noqa: F821 (injected by Snakemake)
