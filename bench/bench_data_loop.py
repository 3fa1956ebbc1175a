#!/usr/bin/env python
"""Data loop: probe -> k-sigma -> process -> analyze, Snakemake workflow vs DJ run directly.

Both sides run the same four steps on the same N docs with the same recipe
(config/recipes/text_filters.yaml: seven text filters, np 1):

* baseline: the steps the original DJ-Sandbox performs for its demo pipeline,
  called directly in ONE fresh Python process (DJ is imported once, which
  favours the baseline): ``Analyzer(cfg).run()`` on the raw docs, k-sigma
  refinement of the recipe (``data_juicer.tools.hpo``'s
  ``modify_recipe_k_sigma``, as the original hook calls it; when it fails, as
  it does in DJ 1.6.1, ``juicer_sandbox.components.ksigma.refine_recipe_k_sigma``
  on the Analyzer's overall result with the original's rule: only the
  arguments written in the recipe, k = 3), ``DefaultExecutor(cfg).run()`` on
  the refined recipe, ``Analyzer(cfg).run()`` on the processed output. DJ's
  defaults are kept, as in the original (HF datasets cache on, analysis plots),
  except that the HF cache goes to a fresh directory per run so no run reuses
  another's cache. ``--lean-baseline`` adds a second baseline with the
  settings our jobs use (cache, tracer, monitor off; no plots) to separate
  the gain from settings from the gain from the workflow (stats reuse).
* ours: ``snakemake --cores 2`` on an equivalent sandbox YAML (4 hook jobs +
  the summary) written to a temp directory; then a no-op rerun, and a
  ``snakemake -n`` dry run on a fresh directory (planning time).

Wall times are measured with time.perf_counter around each subprocess. With
``--repeat R`` the sides alternate (baseline first in even rounds, ours first
in odd ones). Targets: ours/baseline <= 0.5, no-op rerun <= 3 s. No
assertions on timings.

    python bench/bench_data_loop.py                       # 20k docs of data/demo/raw.jsonl.gz
    python bench/bench_data_loop.py --docs 5000 --repeat 3 --lean-baseline
    python bench/bench_data_loop.py --synthetic           # seeded synthetic corpus instead
    python bench/bench_data_loop.py --data other.jsonl.gz --keep
"""
from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo" / "raw.jsonl.gz"
RECIPE = ROOT / "config" / "recipes" / "text_filters.yaml"
SNAKEFILE = ROOT / "Snakefile"
# What our jobs turn off (juicer_sandbox/dj/engine.py::_FIXED); used by --lean-baseline only.
LEAN = {"use_cache": False, "open_tracer": False, "open_monitor": False, "use_checkpoint": False,
        "op_fusion": False, "export_in_parallel": False}


# --------------------------------------------------------------------------- corpus

_WORDS = (
    "the of and to in is was that for it with as on be at by this had not are but from or have an they which one "
    "you were all her she there would their we him been has when who will no more if out so said what up its about "
    "into than them can only other new some could time these two may then do first any my now such like our over "
    "man me even most made after also did many before must through back years where much your way well down should "
    "because each just those people how too little state good very make world still own see men work long get here "
    "between both life being under never day same another know while last might us great old year off come since "
    "against go came right used take three system data file process value table server network package install "
    "configure module function return class object string number list option default example memory disk user "
    "service command output input error result library version update kernel source build test record field"
).split()


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(5, 22))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), rng.choice(["Debian", "Python", "Linux", "Apache", "2019", "42"]))
    s = " ".join(words)
    if rng.random() < 0.2:
        cut = rng.randrange(3, len(s))
        s = s[:cut].rstrip() + "," + s[cut:]
    return s[0].upper() + s[1:] + rng.choice([".", ".", ".", "?", "!"])


def _prose(rng: random.Random) -> str:
    paras = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        paras.append(" ".join(_sentence(rng) for _ in range(rng.randint(1, 8))))
    return "\n\n".join(paras)


def _junk(rng: random.Random) -> str:
    kind = rng.choice(["base64", "html", "repetition", "short", "symbols", "code"])
    if kind == "base64":
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        blob = "".join(rng.choice(alphabet) for _ in range(rng.randint(200, 2000)))
        return "data:image/png;base64," + blob + "=="
    if kind == "html":
        tags = ["div", "span", "td", "li", "a", "p"]
        parts = []
        for _ in range(rng.randint(5, 40)):
            t = rng.choice(tags)
            parts.append(f'<{t} class="c{rng.randint(0, 99)}" id="x{rng.randint(0, 9999)}">'
                         f'{" ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 4)))}</{t}>')
        return "".join(parts)
    if kind == "repetition":
        unit = _sentence(rng) if rng.random() < 0.6 else rng.choice("=-*#.") * rng.randint(1, 3)
        return (unit + " ") * rng.randint(10, 80)
    if kind == "short":
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4))).capitalize()
    if kind == "symbols":
        return "".join(rng.choice("|/\\_-=+*#@$%^&(){}[]<>~` ") for _ in range(rng.randint(30, 400)))
    lines = [f"def f{i}(x, y={i}):\n    return {{'k{i}': x[{i}] * y}}  # {rng.choice(_WORDS)}"
             for i in range(rng.randint(2, 15))]
    return "\n".join(lines)


def synthetic_rows(n: int, seed: int = 0):
    """Seeded English-ish prose (about 70%) mixed with junk docs."""
    rng = random.Random(seed)
    for i in range(n):
        junk = rng.random() < 0.3
        yield {"text": _junk(rng) if junk else _prose(rng), "meta": {"id": i, "synthetic": True, "junk": junk}}


def _read_rows(path: Path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def prepare_corpus(args, out: Path) -> str:
    """Write N docs to out (jsonl.gz); returns a description of where they came from."""
    if args.synthetic or args.data is None:
        rows = synthetic_rows(args.docs, args.seed)
        what = f"synthetic (seed {args.seed})"
    else:
        src = Path(args.data)
        available = sum(1 for _ in _read_rows(src))
        if available == 0:
            raise SystemExit(f"{src}: no rows")
        rows = itertools.islice(itertools.cycle(_read_rows(src)), args.docs)
        what = f"first {min(args.docs, available)} docs of {src} ({available} docs)"
        if args.docs > available:
            what += f", cycled to reach {args.docs} (duplicates)"
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=1) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return f"{n} docs, {what}"


# --------------------------------------------------------------------------- baseline (child process)


def _filter_args(recipe: dict) -> dict:
    """{op_name: {arg: value}} of the recipe's threshold arguments (for comparing refinements)."""
    out = {}
    for op in recipe.get("process") or []:
        (name, args), = op.items()
        out[name] = {k: v for k, v in (args or {}).items() if "min" in k or "max" in k}
    return out


def baseline_child(spec_path: str) -> int:
    """The direct DJ run; writes result.json next to the spec. Runs in a fresh interpreter."""
    t_start = time.perf_counter()
    spec = json.loads(Path(spec_path).read_text())
    out = Path(spec["out"])
    lean = spec["lean"]
    import yaml

    from data_juicer.config import get_init_configs
    from data_juicer.core import Analyzer, DefaultExecutor
    from jsonargparse import dict_to_namespace

    times = {"import": time.perf_counter() - t_start}
    recipe = yaml.safe_load(Path(spec["recipe"]).read_text())
    if lean:
        recipe.update(LEAN)
    else:
        recipe["ds_cache_dir"] = str(out / "hf_cache")  # DJ's default cache on, but cold for every run

    def analyze(rcp: dict, export: Path):
        rcp = dict(rcp, export_path=str(export))
        analyzer = Analyzer(get_init_configs(rcp))
        ds = analyzer.run(skip_export=lean)  # lean: no analysis plots (the stats file is still written)
        return analyzer, len(ds)

    # 1. probe the raw data (ProbeViaAnalyzerHook)
    t = time.perf_counter()
    analyzer, n_probe = analyze(recipe, out / "probe" / "raw.jsonl")
    df = analyzer.overall_result
    times["probe"] = time.perf_counter() - t

    # 2. k-sigma (RefineRecipeViaKSigmaHook: modify_recipe_k_sigma(self.dj_cfg, df, path))
    t = time.perf_counter()
    ksigma_path = out / "k_sigma_recipe.yaml"
    refine_method, refine_error = "data_juicer.tools.hpo.modify_recipe_k_sigma", None
    try:
        from data_juicer.tools.hpo.execute_hpo_3sigma import modify_recipe_k_sigma

        modify_recipe_k_sigma(dict_to_namespace(dict(recipe)), df, str(ksigma_path))
        refined = yaml.safe_load(ksigma_path.read_text())
    except Exception as exc:  # DJ 1.6.1: get_access_log raises (see the bench README)
        refine_error = f"{type(exc).__name__}: {exc}"
        from juicer_sandbox.components.ksigma import refine_recipe_k_sigma
        from juicer_sandbox.dj.recipe import write_recipe

        refine_method = ("juicer_sandbox.components.ksigma.refine_recipe_k_sigma"
                         "(only_existing_args=True) on Analyzer.overall_result")
        refined, _ = refine_recipe_k_sigma(recipe, df, k=spec["k"], only_existing_args=True)
        write_recipe(refined, ksigma_path)
    times["refine"] = time.perf_counter() - t

    # 3. process with the refined recipe (ProcessDataHook: DefaultExecutor(cfg).run())
    t = time.perf_counter()
    proc_recipe = dict(refined, export_path=str(out / "processed" / "processed.jsonl"))
    if lean:
        proc_recipe.update(LEAN)
    executor = DefaultExecutor(get_init_configs(proc_recipe))
    n_processed = len(executor.run())
    times["process"] = time.perf_counter() - t

    # 4. analyze the processed data (ProbeViaAnalyzerHook on the export)
    t = time.perf_counter()
    _, n_eval = analyze(dict(recipe, dataset_path=str(out / "processed" / "processed.jsonl")),
                        out / "probe_processed" / "processed.jsonl")
    times["analyze"] = time.perf_counter() - t

    result = {"times": times, "n_probe": n_probe, "n_processed": n_processed, "n_eval": n_eval,
              "refine_method": refine_method, "refine_error": refine_error, "thresholds": _filter_args(refined)}
    (out / "result.json").write_text(json.dumps(result, indent=1, default=str))
    return 0


# --------------------------------------------------------------------------- parent


def _tail(path: Path, n: int = 25) -> str:
    try:
        lines = path.read_text(errors="replace").replace("\r", "\n").splitlines()
    except OSError:
        return f"(no {path})"
    return "\n".join(lines[-n:])


def _load() -> str:
    return "load avg %.2f %.2f %.2f" % os.getloadavg()


def run_baseline(tmp: Path, tag: str, recipe: Path, k: float, lean: bool) -> dict:
    out = tmp / tag
    out.mkdir(parents=True)
    spec = out / "spec.json"
    spec.write_text(json.dumps({"out": str(out), "recipe": str(recipe), "k": k, "lean": lean}))
    log = out / "run.log"
    t = time.perf_counter()
    with open(log, "w") as fh:
        rc = subprocess.call([sys.executable, str(Path(__file__).resolve()), "--_baseline", str(spec)],
                             stdout=fh, stderr=subprocess.STDOUT, cwd=out)
    wall = time.perf_counter() - t
    if rc != 0 or not (out / "result.json").is_file():
        print(f"  {tag} FAILED (rc {rc}); log {log}:\n{_tail(log)}")
        return {"wall": wall, "failed": True}
    res = json.loads((out / "result.json").read_text())
    res["wall"] = wall
    return res


def _sandbox_yaml(d: Path, recipe: Path, k: float, all_bounds: bool) -> Path:
    import yaml

    ks = d / "exports" / "k_sigma_recipe.yaml"
    sandbox = {
        "project_name": "bench-data-loop",
        "experiment_name": d.name,
        "work_dir": str(d / "out"),
        "probe_job_configs": [
            {"hook": "ProbeViaAnalyzerHook", "meta_name": "analysis_ori_data", "dj_configs": str(recipe)}],
        "refine_recipe_job_configs": [
            {"hook": "RefineRecipeViaKSigmaHook", "meta_name": "analysis_ori_data", "dj_configs": str(recipe),
             "extra_configs": {"path_k_sigma_recipe": str(ks), "k": k, "only_existing_args": not all_bounds}}],
        "execution_job_configs": [
            {"hook": "ProcessDataHook", "meta_name": "process", "dj_configs": str(ks)}],
        "evaluation_job_configs": [
            {"hook": "ProbeViaAnalyzerHook", "meta_name": "analysis_processed_data", "dj_configs": str(recipe),
             "input": {"dj_configs.dataset_path": "anonymous.process.res_1"},
             "local": {"dj_configs.export_path": str(d / "exports" / "processed_probe.jsonl")}}],
    }
    path = d / "sandbox.yaml"
    path.write_text(yaml.safe_dump(sandbox, sort_keys=False))
    return path


def _snakemake(d: Path, sandbox: Path, cores: int, *extra: str) -> tuple[float, int, str]:
    cmd = [sys.executable, "-m", "snakemake", *extra, "-s", str(SNAKEFILE), "--directory", str(d),
           "--cores", str(cores), "--config", f"sandbox={sandbox}"]
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return time.perf_counter() - t, p.returncode, p.stdout


def run_ours(tmp: Path, tag: str, recipe: Path, k: float, all_bounds: bool, cores: int) -> dict:
    import yaml

    d = tmp / tag
    d.mkdir(parents=True)
    # a recipe per run: the probe publishes its stats next to the recipe's export_path, and the
    # workflow (rightly) refuses to overwrite a file another run wrote there
    rcp = yaml.safe_load(recipe.read_text())
    rcp["export_path"] = str(d / "exports" / "processed.jsonl")
    recipe = d / "text_filters.yaml"
    recipe.write_text(yaml.safe_dump(rcp, sort_keys=False))
    sandbox = _sandbox_yaml(d, recipe, k, all_bounds)
    res: dict = {}
    res["plan"], rc, text = _snakemake(d, sandbox, cores, "-n")  # dry run on a fresh directory: planning
    if rc != 0:
        print(f"  {tag} dry run FAILED (rc {rc}):\n{text[-3000:]}")
    res["wall"], rc, text = _snakemake(d, sandbox, cores)
    (d / "snakemake.log").write_text(text)
    if rc != 0:
        logs = sorted((d / "out" / "logs").rglob("*.log")) if (d / "out" / "logs").is_dir() else []
        print(f"  {tag} FAILED (rc {rc}); snakemake output {d / 'snakemake.log'}:\n{text[-3000:]}")
        for lg in logs:
            print(f"  --- {lg}:\n{_tail(lg, 15)}")
        res["failed"] = True
        return res
    res["noop"], rc, text = _snakemake(d, sandbox, cores)
    res["noop_ok"] = rc == 0 and "Nothing to be done" in text
    if not res["noop_ok"]:
        (d / "snakemake_rerun.log").write_text(text)
        res["noop_reasons"] = rerun_reasons(text) if rc == 0 else [f"failed (rc {rc}): {_last_error(text)}"]
    summary = json.loads((d / "out" / "summary.json").read_text())
    jobs = {j["meta_name"] + "/" + j["hook"]: j for j in summary["jobs"]}
    probe = jobs["analysis_ori_data/ProbeViaAnalyzerHook"]
    refine = jobs["analysis_ori_data/RefineRecipeViaKSigmaHook"]
    proc = jobs["process/ProcessDataHook"]
    ev = jobs["analysis_processed_data/ProbeViaAnalyzerHook"]
    refined = yaml.safe_load(Path(d / refine["outputs"]["res_1"]).read_text()
                             if not os.path.isabs(refine["outputs"]["res_1"])
                             else Path(refine["outputs"]["res_1"]).read_text())
    res.update({
        "n_probe": probe["metrics"]["num_samples"], "n_processed": proc["metrics"]["samples_out"],
        "n_eval": ev["metrics"]["num_samples"], "thresholds": _filter_args(refined),
        "jobs": {"probe": probe["wall_s"], "refine": refine["wall_s"], "process": proc["wall_s"],
                 "analyze": ev["wall_s"]},
    })
    return res


def _last_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errs = [ln for ln in lines if "Error" in ln or "error" in ln]
    return (errs or lines or [""])[-1][:300]


def rerun_reasons(text: str) -> list[str]:
    """The distinct 'reason:' lines of a Snakemake run (why jobs ran)."""
    seen = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("reason:") and line not in seen:
            seen.append(line)
    return seen


def _fmt(x, spec=".1f") -> str:
    return "-" if x is None else format(x, spec)


def _compare_thresholds(a: dict, b: dict) -> list[str]:
    diffs = []
    for op in sorted(set(a) | set(b)):
        for arg in sorted(set(a.get(op, {})) | set(b.get(op, {}))):
            va, vb = a.get(op, {}).get(arg), b.get(op, {}).get(arg)
            if va is None or vb is None:
                diffs.append(f"{op}.{arg}: baseline {va} vs ours {vb}")
                continue
            # the original writes unclipped floats (e.g. min_len -975.7); ours clips and casts (0)
            if abs(float(va) - float(vb)) > 1e-6 * max(1.0, abs(float(va))):
                diffs.append(f"{op}.{arg}: baseline {float(va):.6g} vs ours {float(vb):.6g}")
    return diffs


def _args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=20000, help="docs in the corpus (default 20000)")
    ap.add_argument("--repeat", type=int, default=1, help="rounds, sides alternating (default 1)")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    ap.add_argument("--data", default=str(DEMO) if DEMO.is_file() else None,
                    help="jsonl(.gz) corpus to take the first N docs from (default: the demo corpus; "
                         "synthetic when it is missing)")
    ap.add_argument("--synthetic", action="store_true", help="use the seeded synthetic corpus")
    ap.add_argument("--seed", type=int, default=0, help="synthetic corpus seed")
    ap.add_argument("--k", type=float, default=3.0, help="k-sigma k (the original hard-codes 3)")
    ap.add_argument("--cores", type=int, default=2, help="snakemake --cores (default 2)")
    ap.add_argument("--all-bounds", action="store_true",
                    help="ours sets both bounds of every filter (our default) instead of only the arguments "
                         "written in the recipe (the original's rule); sample counts then differ")
    ap.add_argument("--lean-baseline", action="store_true",
                    help="also time the baseline with our jobs' DJ settings (no cache/monitor/tracer, no plots)")
    ap.add_argument("--_baseline", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    return args


def _write_recipe(tmp: Path, corpus: Path) -> tuple[Path, dict]:
    import yaml

    recipe = yaml.safe_load(RECIPE.read_text())
    recipe["dataset_path"] = str(corpus)
    recipe["export_path"] = str(tmp / "recipe_exports" / "processed.jsonl")
    # the repo's word list, by absolute path: Data-Juicer alone would resolve it against the
    # temp dir (and then try to download the list)
    for op in recipe.get("process") or []:
        for args_ in op.values():
            if isinstance(args_, dict) and args_.get("stopwords_dir"):
                args_["stopwords_dir"] = str(ROOT / args_["stopwords_dir"])
    recipe_path = tmp / "text_filters.yaml"
    recipe_path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return recipe_path, recipe


def _print_run(name: str, res: dict) -> None:
    if name == "ours":
        print(f"  {res['wall']:.1f} s; jobs " + ", ".join(f"{k} {v:.1f}" for k, v in res["jobs"].items())
              + f" (outside jobs: {res['wall'] - sum(res['jobs'].values()):.1f})"
              + f"; no-op rerun {res['noop']:.2f} s"
              + ("" if res["noop_ok"] else " (NOT 'Nothing to be done')")
              + f"; snakemake -n {res['plan']:.2f} s", flush=True)
        for reason in res.get("noop_reasons", []):
            print(f"    rerun {reason[:300]}")
    else:
        print(f"  {res['wall']:.1f} s; " + ", ".join(f"{k} {v:.1f}" for k, v in res["times"].items()),
              flush=True)


def _rounds(args, tmp: Path, recipe_path: Path) -> dict[str, list[dict]]:
    """Every side once per round, the order alternating between rounds."""
    sides = [("baseline", lambda tag: run_baseline(tmp, tag, recipe_path, args.k, False)),
             ("ours", lambda tag: run_ours(tmp, tag, recipe_path, args.k, args.all_bounds, args.cores))]
    if args.lean_baseline:
        sides.insert(1, ("baseline-lean", lambda tag: run_baseline(tmp, tag, recipe_path, args.k, True)))
    results: dict[str, list[dict]] = {name: [] for name, _ in sides}
    for r in range(args.repeat):
        order = sides if r % 2 == 0 else sides[::-1]
        for name, fn in order:
            tag = f"{name}_{r}"
            print(f"[round {r + 1}/{args.repeat}] {name} ... ({_load()})", flush=True)
            res = fn(tag)
            results[name].append(res)
            if not res.get("failed"):
                _print_run(name, res)
    return results


def _med(rows, key):
    vals = [x[key] for x in rows if x.get(key) is not None]
    return statistics.median(vals) if vals else None


def _table(results: dict[str, list[dict]], base: list[dict], ours: list[dict]) -> None:
    med = _med
    print("\n| side | wall s (median) | all runs s | probe | refine | process | analyze | samples "
          "raw -> processed -> analyzed |")
    print("|---|---:|---|---:|---:|---:|---:|---|")
    for name, rows in results.items():
        ok = [x for x in rows if not x.get("failed")]
        if not ok:
            print(f"| {name} | FAILED | | | | | | |")
            continue
        stages = ok[0].get("times") or ok[0].get("jobs")
        counts = f"{ok[0]['n_probe']} -> {ok[0]['n_processed']} -> {ok[0]['n_eval']}"
        print(f"| {name} | {med(ok, 'wall'):.1f} | {' '.join(format(x['wall'], '.1f') for x in ok)} | "
              f"{_fmt(stages.get('probe'))} | {_fmt(stages.get('refine'), '.2f')} | "
              f"{_fmt(stages.get('process'))} | {_fmt(stages.get('analyze'))} | {counts} |")
    print("(baseline stages are in-process; its wall also includes interpreter start and DJ import "
          f"({_fmt(base[0]['times']['import']) if base else '-'} s). Ours: per-job wall_s from summary.json; "
          "its wall also includes Snakemake start-up, scheduling, each job's process start and the summary"
          + (f": median {statistics.median(x['wall'] - sum(x['jobs'].values()) for x in ours):.1f} s outside the jobs)" if ours else ")"))


def _comparison(args, results: dict[str, list[dict]], base: list[dict], ours: list[dict]) -> None:
    med = _med
    ratio = med(ours, "wall") / med(base, "wall")
    print(f"\nours / baseline wall: {ratio:.2f}  (target <= 0.5)")
    if args.lean_baseline:
        lean = [x for x in results["baseline-lean"] if not x.get("failed")]
        if lean:
            print(f"ours / baseline-lean wall: {med(ours, 'wall') / med(lean, 'wall'):.2f}")
    print(f"no-op rerun: {med(ours, 'noop'):.2f} s  (target <= 3 s)"
          + ("" if all(x["noop_ok"] for x in ours) else "  WARNING: a rerun did work"))
    print(f"snakemake -n (plan, fresh dir): {med(ours, 'plan'):.2f} s")
    b, o = base[0], ours[0]
    print(f"samples: baseline {b['n_probe']} -> {b['n_processed']} -> {b['n_eval']}; "
          f"ours {o['n_probe']} -> {o['n_processed']} -> {o['n_eval']}; "
          f"processed differ by {o['n_processed'] - b['n_processed']:+d}")
    diffs = _compare_thresholds(b["thresholds"], o["thresholds"])
    print("refined thresholds: " + ("identical" if not diffs else "; ".join(diffs)))


def main(argv=None) -> int:
    args = _args(argv)
    if args._baseline:
        return baseline_child(args._baseline)
    if args.data is not None and not Path(args.data).is_file():
        raise SystemExit(f"--data {args.data}: no such file")
    if args.data is None and not args.synthetic:
        print(f"note: {DEMO} is missing; using the seeded synthetic corpus")

    tmp = Path(tempfile.mkdtemp(prefix="bench_data_loop."))
    try:
        corpus = tmp / "data" / "docs.jsonl.gz"
        what = prepare_corpus(args, corpus)
        recipe_path, recipe = _write_recipe(tmp, corpus)
        print(f"corpus: {what}")
        print(f"recipe: {RECIPE.relative_to(ROOT)} (np {recipe.get('np')}), k = {args.k:g}; temp dir {tmp}")
        print(f"machine: {os.cpu_count()} CPUs, {_load()}")
        results = _rounds(args, tmp, recipe_path)
        print(f"after: {_load()}")

        base = [x for x in results["baseline"] if not x.get("failed")]
        ours = [x for x in results["ours"] if not x.get("failed")]
        if base and base[0]["refine_error"]:
            print(f"\nbaseline k-sigma: {base[0]['refine_method']}\n  (DJ's modify_recipe_k_sigma failed: "
                  f"{base[0]['refine_error'][:200]})")
        elif base:
            print(f"\nbaseline k-sigma: {base[0]['refine_method']}")
        _table(results, base, ours)
        if base and ours:
            _comparison(args, results, base, ours)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
