"""`juicer-sandbox` / `python -m juicer_sandbox`: check a sandbox config and show its plan.

Running happens through Snakemake (`snakemake --cores N --config sandbox=...`); this
command is for checking a config without Snakemake and for scripts (Makefile, CI).
"""
from __future__ import annotations

import argparse
import json
import sys

from .errors import SandboxError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="juicer-sandbox", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_val = sub.add_parser("validate", help="compile and validate a sandbox config; print the job plan")
    p_val.add_argument("sandbox")
    p_val.add_argument("--json", action="store_true", help="print the plan as JSON")
    p_where = sub.add_parser("where", help="print where a sandbox writes its results")
    p_where.add_argument("sandbox")
    p_cat = sub.add_parser("catalog", help="build the cached Data-Juicer op catalogue")
    del p_cat
    args = parser.parse_args(argv)
    try:
        if args.command == "catalog":
            from .dj.catalog import load_catalog

            print(f"{len(load_catalog()['ops'])} Data-Juicer ops catalogued")
            return 0
        from .config.plan import compile_plan, plan_summary

        plan = compile_plan(args.sandbox)
        if args.command == "where":
            print(f"results: {plan.work_dir}/\nsummary: {plan.work_dir}/summary.md "
                  f"(machine-readable: {plan.work_dir}/summary.json)\n"
                  f"report:  {plan.work_dir}/report/ (one HTML file: .venv/bin/snakemake --report report.html "
                  f"--config sandbox={args.sandbox})")
            return 0
        if args.json:
            print(json.dumps(plan_summary(plan), indent=2))
        else:
            for job in plan.jobs.values():
                deps = f"  <- {', '.join(job.deps)}" if job.deps else ""
                print(f"{job.id:50s} {job.spec.name}{deps}")
        return 0
    except SandboxError as exc:
        print(f"juicer-sandbox: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
