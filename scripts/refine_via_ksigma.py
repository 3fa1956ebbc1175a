"""Snakemake script of the hook rule of the same name (rules/hooks.smk): the job's hook and
its logic are named in juicer_sandbox/core/hooktable.py; all logic lives in the package."""
import os, sys; sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # noqa: E401,E702 the workflow's own package, in any env (--sdm conda drops PYTHONPATH)
from juicer_sandbox.hooks.runner import run_snakemake_job

run_snakemake_job(snakemake)  # noqa: F821 (injected by Snakemake)
