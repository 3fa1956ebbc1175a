"""`juicer-sandbox` / `python -m juicer_sandbox`: run, check and prepare DJ-Sandbox configs.

  juicer-sandbox run --config cfg.yaml [--max_iter_num 6 --work_dir x ...] [--cores N] [-n]
      runs the sandbox through Snakemake (like the original's tools/sandbox_starter.py)
  juicer-sandbox validate cfg.yaml     compile and check a config; print the job plan
  juicer-sandbox where cfg.yaml        where a sandbox writes its results
  juicer-sandbox assets fetch [cfg.yaml|recipe.yaml ...]   get the files Data-Juicer ops need
  juicer-sandbox assets train-quality --reference clean.jsonl   the quality classifier's model
  juicer-sandbox doctor cfg.yaml       what each model-family job needs (env, code, weights, GPUs), what is missing
  juicer-sandbox code fetch <family> [--dest DIR]   third-party code at the family's pinned commit
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from .errors import SandboxError

WORKFLOW_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="juicer-sandbox", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    sub = parser.add_subparsers(dest="command", required=True)
    p_val = sub.add_parser("validate", help="compile and validate a sandbox config; print the job plan")
    p_val.add_argument("sandbox")
    p_val.add_argument("--json", action="store_true", help="print the plan as JSON")
    p_where = sub.add_parser("where", help="print where a sandbox writes its results")
    p_where.add_argument("sandbox")
    p_clean = sub.add_parser("clean-stale", help="remove job directories of jobs no longer in the sandbox's plan")
    p_clean.add_argument("sandbox")
    p_clean.add_argument("--dry-run", action="store_true", help="only list them")
    sub.add_parser("catalog", help="build the cached Data-Juicer op catalogue")
    p_run = sub.add_parser("run", allow_abbrev=False, help="run a sandbox through Snakemake; other --key value pairs override "
                                       "the config's top-level keys (dotted keys reach deeper)")
    p_run.add_argument("--config", required=True, help="the DJ-Sandbox config (as for the original)")
    p_run.add_argument("--cores", "-c", default="all", help="passed to snakemake (default: all)")
    p_run.add_argument("--profile", help="passed to snakemake (e.g. profiles/slurm)")
    p_run.add_argument("-n", "--dry-run", action="store_true", help="show the plan, run nothing")
    p_assets = sub.add_parser("assets", help="files Data-Juicer ops and components need")
    a_sub = p_assets.add_subparsers(dest="assets_command", required=True)
    p_fetch = a_sub.add_parser("fetch", help="download missing assets, or say which file to put where")
    p_fetch.add_argument("configs", nargs="*", help="sandbox configs or recipes (default: the common assets)")
    p_fetch.add_argument("--timeout", type=float, default=30.0)
    p_tq = a_sub.add_parser("train-quality", help="train the model dj_text_quality_classifier loads")
    p_tq.add_argument("--reference", required=True, help="clean text (.jsonl), label 1")
    p_tq.add_argument("--negative", required=True, help="raw text (.jsonl), label 0")
    p_tq.add_argument("--text-key", default="text")
    p_tq.add_argument("--out", help="model file (default: where dj_text_quality_classifier looks)")
    p_tq.add_argument("--seed", type=int, default=42)
    p_doc = sub.add_parser("doctor", help="what each model-family job needs (env, code, weights, GPUs) and what "
                                          "is missing, before submitting")
    p_doc.add_argument("sandbox")
    p_doc.add_argument("--env-mode", choices=("shared", "venv", "conda"), default="shared",
                       help="where jobs run: this interpreter (shared), or envs built where they run")
    p_code = sub.add_parser("code", help="third-party code of the model families")
    c_sub = p_code.add_subparsers(dest="code_command", required=True)
    p_cf = c_sub.add_parser("fetch", help="clone a family's code at its pinned commit and record it")
    p_cf.add_argument("family")
    p_cf.add_argument("--dest", help="checkout directory (default .thirdparty/<family>)")
    return parser


def cmd_code(args) -> int:
    from .families import families
    from .families.code import fetch_family

    fams = families()
    if args.family not in fams:
        raise SandboxError(f"unknown family {args.family!r}; families: {', '.join(sorted(fams))}")
    record = fetch_family(fams[args.family], args.dest)
    print(f"{record['dest']} @ {record['head']} ({record['repo']})")
    return 0


def parse_overrides(tokens: list[str]) -> dict:
    """The original's command-line overrides: `--key value`, `--key=value`, `--a.b value` (nested);
    values are read as YAML scalars (6, true, null, a/path)."""
    import yaml

    out: dict = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("--") or tok == "--":
            raise SandboxError(f"unexpected argument {tok!r}: overrides are --key value")
        key, eq, value = tok[2:].partition("=")
        if not eq:
            if i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
                value, i = tokens[i + 1], i + 1
            else:
                value = "true"
        i += 1
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = value
        target = out
        parts = key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = parsed
    return out


def snakemake_command(args, overrides: dict) -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "snakemake")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "snakemake"]
    cmd += ["--snakefile", os.path.join(WORKFLOW_DIR, "Snakefile"), "--directory", os.getcwd(),
            "--cores", str(args.cores), "--config", f"sandbox={args.config}"]
    if overrides:
        cmd.append("sandbox_overrides=" + json.dumps(overrides))
    if args.profile:
        # a path relative to the workflow (profiles/slurm) works from any directory; and the workflow
        # profile (profiles/default, found next to the Snakefile) must not be loaded on top of it
        profile = args.profile
        if not os.path.isdir(profile) and os.path.isdir(os.path.join(WORKFLOW_DIR, profile)):
            profile = os.path.join(WORKFLOW_DIR, profile)
        cmd += ["--profile", profile, "--workflow-profile", "none"]
    if args.dry_run:
        cmd.append("-n")
    return cmd


def cmd_run(args, extra: list[str]) -> int:
    """Run Snakemake with the workflow's Snakefile in the current directory (where the config's
    relative paths resolve, as with the original). Arguments after `--` go to snakemake as is."""
    snake_args = []
    if "--" in extra:
        cut = extra.index("--")
        extra, snake_args = extra[:cut], extra[cut + 1:]
    if not os.path.isfile(args.config):
        raise SandboxError(f"sandbox config file not found: {args.config}")
    if not os.path.isfile(os.path.join(WORKFLOW_DIR, "Snakefile")):
        raise SandboxError(f"no Snakefile next to the package ({WORKFLOW_DIR}): install the checkout with "
                           f"`pip install -e <checkout>` (as `make` does) so the workflow is found")
    cmd = snakemake_command(args, parse_overrides(extra)) + snake_args
    env = dict(os.environ)
    stamp = None
    if not (args.dry_run or snake_args or args.profile):  # a plain run may skip Snakemake (juicer_sandbox/noop.py)
        from . import noop

        stamp = noop.stamp_path(cmd, os.getcwd())
        if noop.nothing_to_do(stamp, WORKFLOW_DIR):
            print("juicer-sandbox: nothing to do: the config, recipes, data, code and outputs are as the last "
                  "complete run left them (Snakemake not started; `-- --forceall` or any snakemake argument "
                  "starts it)", file=sys.stderr)
            return 0
        noop.begin(stamp, WORKFLOW_DIR)
        env[noop.STAMP_ENV] = stamp
    print("juicer-sandbox: " + " ".join(cmd), file=sys.stderr)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (WORKFLOW_DIR, env.get("PYTHONPATH")) if p)
    returncode, in_process = run_snakemake(cmd, env)
    if stamp:
        noop.finish(stamp, returncode)
    if in_process:  # Snakemake's modules loaded here: end without the interpreter's teardown
        from .core.process_exit import exit_now

        exit_now(returncode)
    return returncode


def run_snakemake(cmd: list[str], env: dict) -> tuple[int, bool]:
    """(exit code, whether it ran in this process). Snakemake runs in this process when this interpreter
    has it (as the `snakemake` next to it would: one interpreter start and teardown fewer), else as cmd."""
    try:
        from snakemake.cli import main as snakemake_main
    except ImportError:
        return subprocess.run(cmd, env=env).returncode, False
    args = cmd[3:] if cmd[1:3] == ["-m", "snakemake"] else cmd[1:]
    os.environ.update(env)  # what its job processes inherit (env only adds to os.environ)
    try:
        snakemake_main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return (code if isinstance(code, int) else 0 if code is None else 1), True


def sandbox_configs(paths: list[str]) -> tuple[list[dict], list[dict]]:
    """The Data-Juicer recipes (every job's dj_configs) and component configs (extra_configs) of
    sandbox configs; a recipe file counts as one recipe."""
    from .config.sandbox import load_sandbox, load_yaml, resolve_path

    def loaded(value, base):
        if isinstance(value, str):
            value = resolve_path(value, base)
            ok = os.path.isfile(value) and value.endswith((".yaml", ".yml", ".json"))
            value = load_yaml(value) if ok else None
        return value if isinstance(value, dict) else None

    recipes, extras = [], []
    for path in paths:
        data = load_yaml(path)
        if isinstance(data, dict) and "process" in data:
            recipes.append(data)
            continue
        for _, jobs in load_sandbox(path).pipelines:
            for job in jobs:
                base = os.path.dirname(job.file)
                recipes += [d for d in [loaded(job.dj_configs, base)] if d and "dj_configs" not in job.input]
                extras += [e for e in [loaded(job.extra_configs, base)] if e and "extra_configs" not in job.input]
    return recipes, extras


def quality_model_line(extras: list[dict]) -> str | None:
    """The model file dj_text_quality_classifier loads, when a job needs it (no reference_path)."""
    from .components.original_models import quality_model_path

    need = [e for e in extras if e.get("type") == "dj_text_quality_classifier" and not e.get("reference_path")]
    if not need:
        return None
    path = quality_model_path(need[0])
    if os.path.isfile(path):
        return f"present: GPT-3 quality classifier: {path}"
    return (f"missing: GPT-3 quality classifier: put the file at {path} (not downloadable: train it with "
            f"`juicer-sandbox assets train-quality --reference CLEAN.jsonl --negative RAW.jsonl`)")


def cmd_assets(args) -> int:
    if args.assets_command == "fetch":
        from .dj.assets import fetch_assets

        recipes, extras = sandbox_configs(args.configs) if args.configs else (None, [])
        missing = fetch_assets(recipes, timeout=args.timeout)
        line = quality_model_line(extras)
        if line:
            print(line)
            missing += line.startswith("missing")
        return 1 if missing else 0
    from .components.original_models import quality_model_path
    from .io import iter_jsonl
    from .models.quality import train_quality_classifier

    pos = [str(r[args.text_key]) for r in iter_jsonl(args.reference)]
    neg = [str(r[args.text_key]) for r in iter_jsonl(args.negative)]
    out = args.out or quality_model_path()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    train_quality_classifier(pos, neg, seed=args.seed).save(out)
    print(f"quality classifier: {out} ({len(pos)} clean, {len(neg)} raw texts)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args, extra = _parser().parse_known_args(argv)
    try:
        if extra and args.command != "run":
            raise SandboxError(f"unrecognised arguments: {' '.join(extra)}")
        if args.command == "run":
            return cmd_run(args, extra)
        if args.command == "assets":
            return cmd_assets(args)
        if args.command == "code":
            return cmd_code(args)
        if args.command == "doctor":
            from .doctor import doctor

            return doctor(args.sandbox, args.env_mode)
        if args.command == "catalog":
            from .dj.catalog import load_catalog

            print(f"{len(load_catalog()['ops'])} Data-Juicer ops catalogued")
            return 0
        from .config.plan import compile_plan, plan_summary

        plan = compile_plan(args.sandbox)
        if args.command == "clean-stale":
            from .stale import clean_stale

            removed = clean_stale(plan.work_dir, plan.jobs, dry_run=args.dry_run)
            verb = "stale (not removed)" if args.dry_run else "removed"
            for job_id in removed:
                print(f"{verb}: {plan.work_dir}/{job_id}")
            print(f"{len(removed)} stale job director{'y' if len(removed) == 1 else 'ies'} {verb.split()[0]}")
            return 0
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
