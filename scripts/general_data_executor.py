"""Snakemake script for GeneralDataExecutorHook: all logic lives in juicer_sandbox.hooks."""
from juicer_sandbox.hooks.runner import run_snakemake_job

run_snakemake_job(snakemake, "GeneralDataExecutorHook")  # noqa: F821 (injected by Snakemake)
