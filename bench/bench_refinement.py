"""Which refinement should I use? Hand-set k-sigma against the sandbox's data-driven refinements, at one budget.

On the demo corpus and on a second corpus no recipe was tuned on (bench/build_other_corpus.py), the same tiny GPT-2
(2 layers, d 128, BPE-2048 trained on the raw sample, lr 1e-3, untied output) is trained at the same token budget
on each arm, with --seeds seeds, and evaluated on the corpus's clean validation split:

* ``raw``: every document of the sample;
* ``random``: a random subset the size of the ``ksigma_hand`` arm;
* ``ksigma_hand``: the demo's hand-set recipe (seven Data-Juicer filters incl. the stopword ratio,
  config/recipes/text_filters.yaml) refined by k-sigma (k = 3, tighten_only), as the demo does;
* ``ref_ppl``: CCNet-style reference perplexity (components/reference_perplexity.py): keep ref_loss <= the 0.9
  quantile of the held-out reference;
* ``classifier``: the stats + n-gram quality classifier (models/stat_quality.py), reference vs raw, keep the
  documents scoring at least what 90% of the held-out reference scores (its 0.1 quantile);
* ``ref_bounds``: the six ops a DJ-Sandbox demo user brings (no stopword filter), every bound (both sides) set from
  the reference's stat quantiles, one cut keeping 90% of the reference (threshold_search.reference_bounds);
* ``ref_bounds+ref_ppl``: the same six ops plus a ``ref_loss`` band, calibrated together on the held-out reference
  (scored out of sample); ``ref_bounds7+ref_ppl``: the same over the seven ops the hand-set recipe names;
* ``search_six``: threshold_search (components/threshold_search.py) over the six ops, objective the tiny LM's loss
  on the reference at budget/4, validated at the budget;
* ``six_ops+ref_ppl``: the six ops with the thresholds the recipe writes, then the ``ref_ppl`` bound.

No data-driven arm reads a hand-set threshold or the validation split: they learn from a clean reference set in the
corpus's domain (demo: clean documents of the demo packages the raw draw left out, ``tools/build_demo_corpus.py
--reference-out``, checked disjoint from raw and val by text; second corpus: its own held-out reference files).
Every arm draws its training documents with its seed (about 3x the budget in tokens; the trainer samples windows,
so this is the pool it sees): the spread over seeds is the combined std of training seed and pool draw. Gaps are
printed in the two arms' pooled combined std and paired by seed.

    python bench/bench_refinement.py --tokens 1000000             # the issue's target budget
    nice -n 10 python bench/bench_refinement.py --corpus demo --arms random,ksigma_hand,classifier --reuse-probe --work w
    nice -n 10 python bench/bench_refinement.py --tokens 100000 --corpus other --json out.json
"""
from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from juicer_sandbox.components import variance  # noqa: E402
from juicer_sandbox.components.ksigma import refine_from_stats  # noqa: E402
from juicer_sandbox.components.threshold_search import keep_mask, lm_objective, search_space  # noqa: E402
from juicer_sandbox.core.names import DJ_STATS  # noqa: E402

DATA_DRIVEN = ("ref_ppl", "classifier", "ref_bounds", "ref_bounds+ref_ppl", "ref_bounds7+ref_ppl", "search_six",
               "six_ops+ref_ppl")


def read_jsonl(path: str | Path) -> list[dict]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def corpus_files(name: str, work: Path) -> dict:
    """raw / val / reference paths of a corpus. The second corpus and its reference are built here; the demo's
    reference is the clean documents of the demo packages that the raw draw left out
    (tools/build_demo_corpus.py --reference-out), checked disjoint from data/demo's raw and val by text."""
    if name == "other":
        other = {"raw": work / "other.jsonl", "val": work / "other_val.jsonl", "reference": work / "other_ref.jsonl"}
        if not other["raw"].exists():
            subprocess.run([sys.executable, str(REPO / "bench/build_other_corpus.py"), "--out", str(other["raw"]),
                            "--val-out", str(other["val"]), "--reference-out", str(other["reference"])], check=True)
        return other
    files = {"raw": REPO / "data/demo/raw.jsonl.gz", "val": REPO / "data/demo/val.jsonl.gz",
             "reference": work / "demo_ref.jsonl"}
    if not files["reference"].exists():
        subprocess.run([sys.executable, str(REPO / "tools/build_demo_corpus.py"), "--out", str(work / "demo_build"),
                        "--reference-out", str(files["reference"]), "--reference-max-chars", "1000000"], check=True)
    check_disjoint(files)
    return files


def check_disjoint(files: dict) -> None:
    """The reference shares no document text with the raw pool or the validation split (else it would leak)."""
    ref = {r["text"] for r in read_jsonl(files["reference"])}
    for part in ("raw", "val"):
        shared = ref & {r["text"] for r in read_jsonl(files[part])}
        if shared:
            raise SystemExit(f"{files['reference']}: {len(shared)} documents also in {files[part]}")
    print(f"reference {files['reference']}: {len(ref)} docs, none in raw or val", flush=True)


def probe(rows: list[dict], recipe: dict, work: Path, tag: str, reuse: bool = False) -> list[dict]:
    """Data-Juicer's stats of every op of the recipe (dj/engine.compute_stats); with ``reuse``, the stats an
    earlier run with the same --docs wrote in the same --work."""
    from juicer_sandbox.dj.engine import compute_stats

    out = work / f"{tag}_stats.jsonl"
    if reuse and out.exists():
        got = read_jsonl(out)
        if [r["text"] for r in got] == [r["text"] for r in rows]:
            return got
    src = work / f"{tag}_in.jsonl"
    src.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in rows))
    compute_stats({**recipe, "dataset_path": str(src)}, work / f"dj_{tag}", out, np=1)
    return read_jsonl(out)


def seven_op_recipe() -> dict:
    recipe = yaml.safe_load((REPO / "config/recipes/text_filters.yaml").read_text())
    for op in recipe["process"]:
        if "stopwords_filter" in op:
            op["stopwords_filter"]["stopwords_dir"] = str(REPO / "resources/words")
    return recipe


def six_op(recipe: dict) -> dict:
    return {**recipe, "process": [op for op in recipe["process"] if "stopwords_filter" not in op]}


def arms_of(rows, ref_rows, recipe, work: Path, args, tok: str, cost: dict) -> dict[str, np.ndarray]:
    """Each arm's keep mask over the raw sample; cost[arm] = seconds its refinement took (beyond the probe)."""
    from juicer_sandbox.components.reference_perplexity import reference_threshold, score_with_reference
    from juicer_sandbox.components.threshold_search import reference_bounds, threshold_search
    from juicer_sandbox.models.stat_quality import train_with_auc

    masks = {"raw": np.ones(len(rows), dtype=bool)}
    t = time.perf_counter()
    refined, _ = refine_from_stats(recipe, [r[DJ_STATS] for r in rows], k=3, tighten=True)
    masks["ksigma_hand"] = mask_of(refined, rows)
    cost["ksigma_hand"] = time.perf_counter() - t

    t = time.perf_counter()
    (work / "raw_stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (work / "ref.jsonl").write_text("".join(json.dumps({"text": r["text"], DJ_STATS: r[DJ_STATS]}) + "\n"
                                            for r in ref_rows))
    info = score_with_reference(str(work / "raw_stats.jsonl"), str(work / "ref.jsonl"), work / "ref_scored.jsonl",
                                work, tokenizer_path=tok)
    scored = read_jsonl(work / "ref_scored.jsonl")
    thr = reference_threshold(work, "ref_loss", 0.9)
    masks["ref_ppl"] = np.array([r[DJ_STATS]["ref_loss"] <= thr for r in scored])
    cost["ref_ppl"] = time.perf_counter() - t
    cost["ref_ppl_info"] = {"threshold": thr, "heldout": info["heldout"]}

    t = time.perf_counter()
    stats = sorted({s for s in rows[0][DJ_STATS] if isinstance(rows[0][DJ_STATS][s], (int, float))})
    model, auc = train_with_auc([(r["text"], r[DJ_STATS]) for r in ref_rows], [(r["text"], r[DJ_STATS]) for r in rows],
                                stats, seed=0, reference_keep=0.9)
    scores = model.score([r["text"] for r in rows], [r[DJ_STATS] for r in rows])
    masks["classifier"] = scores >= auc["reference_threshold"]
    cost["classifier"] = time.perf_counter() - t
    cost["classifier_info"] = auc

    t = time.perf_counter()  # the six ops' bounds from the reference's stats (keep 0.9 of it)
    bounded, binfo = reference_bounds(six_op(recipe), {"dataset_path": str(work / "raw_stats.jsonl"),
                                                       "reference_path": str(work / "ref.jsonl")})
    masks["ref_bounds"] = mask_of(bounded, rows)
    cost["ref_bounds"] = time.perf_counter() - t
    cost["ref_bounds_info"] = binfo
    t = time.perf_counter()  # the same with a ref_loss bound, on the held-out reference (scored out of sample)
    with_ppl = {**six_op(recipe), "process": six_op(recipe)["process"] + [
        {"specified_numeric_field_filter": {"field_key": f"{DJ_STATS}.ref_loss"}}]}
    bounded, binfo = reference_bounds(with_ppl, {"dataset_path": str(work / "ref_scored.jsonl"),
                                                 "reference_path": str(work / "reference_heldout.jsonl")})
    masks["ref_bounds+ref_ppl"] = mask_of(bounded, scored)
    cost["ref_bounds+ref_ppl"] = time.perf_counter() - t + cost["ref_ppl"]
    cost["ref_bounds+ref_ppl_info"] = binfo
    t = time.perf_counter()  # the seven ops the hand-set recipe names (incl. stopwords), bounds from the reference
    seven = {**recipe, "process": recipe["process"] + with_ppl["process"][-1:]}
    bounded, binfo = reference_bounds(seven, {"dataset_path": str(work / "ref_scored.jsonl"),
                                              "reference_path": str(work / "reference_heldout.jsonl")})
    masks["ref_bounds7+ref_ppl"] = mask_of(bounded, scored)
    cost["ref_bounds7+ref_ppl"] = time.perf_counter() - t + cost["ref_ppl"]
    cost["ref_bounds7+ref_ppl_info"] = binfo

    if not args.arms or "search_six" in args.arms.split(","):
        t = time.perf_counter()
        extra = {"dataset_path": str(work / "raw_stats.jsonl"), "reference_path": str(work / "ref.jsonl"),
                 "tokenizer_path": tok, "trials": args.trials, "search_tokens": max(4096, args.tokens // 4),
                 "validate_tokens": args.tokens, "seed": 0, "threads": args.threads, "eval_tokens": args.eval_tokens}
        searched, sinfo = threshold_search(six_op(recipe), extra)
        masks["search_six"] = mask_of(searched, rows)
        cost["search_six"] = time.perf_counter() - t
        cost["search_six_info"] = {"validation": sinfo["validation"],
                                   "trials": [(t_["kept"], t_["loss"]) for t_ in sinfo["trials"]]}
    masks["six_ops+ref_ppl"] = six_ops_mask(recipe, rows) & masks["ref_ppl"]
    return masks


def mask_of(recipe: dict, rows: list[dict]) -> np.ndarray:
    """The rows inside every bound the recipe writes (on the stored stats, as Data-Juicer's filters decide)."""
    space = search_space(recipe, rows, all_bounds=True)
    got = [(list(recipe["process"][d["op_index"]].values())[0] or {}).get(d["arg"]) for d in space]
    return keep_mask(space, [g if g is not None else (np.inf if d["upper"] else -np.inf) for d, g in zip(space, got)])


def six_ops_mask(recipe: dict, rows: list[dict]) -> np.ndarray:
    """The six DJ-demo ops with the thresholds the recipe writes (Data-Juicer's defaults), on the stored stats."""
    from juicer_sandbox.components.threshold_search import recipe_bounds

    space = search_space(six_op(recipe), rows)
    return keep_mask(space, recipe_bounds(six_op(recipe), space))


def run_corpus(name: str, args, base: Path) -> dict:
    work = base / name
    work.mkdir(parents=True, exist_ok=True)
    files = corpus_files(name, base)
    raw = read_jsonl(files["raw"])
    rng = np.random.default_rng(0)
    raw = [raw[i] for i in sorted(rng.permutation(len(raw))[: args.docs])]
    ref = read_jsonl(files["reference"])
    recipe = seven_op_recipe()
    t = time.perf_counter()
    rows = probe(raw, recipe, work, "raw", args.reuse_probe)
    ref_rows = probe(ref, recipe, work, "ref", args.reuse_probe)
    probe_s = time.perf_counter() - t
    from juicer_sandbox.models.tokenizer import train_tokenizer

    tok = train_tokenizer((r["text"] for r in raw), 2048, work / "tokenizer.json")
    cost: dict = {"probe": probe_s}
    masks = arms_of(rows, ref_rows, recipe, work, args, tok, cost)
    n_random = int(masks["ksigma_hand"].sum())
    ctx = {"work": str(work / "train"), "text_key": "text", "model": {}, "tokenizer_path": tok,
           "eval_path": str(files["val"]), "threads": args.threads, "eval_tokens": args.eval_tokens}
    results: dict[str, dict] = {}
    kinds = [r.get("meta", {}).get("kind") for r in raw]
    for arm in ["raw", "random", "ksigma_hand", *DATA_DRIVEN]:
        if (args.arms and arm not in args.arms.split(",")) or (arm != "random" and arm not in masks):
            continue
        losses = {}
        for seed in range(args.seeds):
            if arm == "random":  # its own draw per seed
                mask = np.zeros(len(rows), dtype=bool)
                mask[np.random.default_rng(1000 + seed).permutation(len(rows))[:n_random]] = True
            else:
                mask = masks[arm]
            t = time.perf_counter()
            losses[seed] = lm_objective(rows, mask, args.tokens, ctx, seed, f"{arm}_s{seed}")
            cost.setdefault("train_arm_s", []).append(round(time.perf_counter() - t, 1))
            print(f"  [{name}] {arm} seed {seed}: loss {losses[seed]:.4f} ({time.perf_counter() - t:.0f} s)",
                  flush=True)
        mask = masks.get(arm, masks["ksigma_hand"])
        kept_kinds: dict = {}
        for k, m in zip(kinds, mask):
            kept_kinds.setdefault(str(k), [0, 0])
            kept_kinds[str(k)][0] += int(m)
            kept_kinds[str(k)][1] += 1
        results[arm] = {"losses": losses, "docs": int(mask.sum()),
                        "kept_by_kind": {k: round(a / b, 3) for k, (a, b) in kept_kinds.items()}}
    return {"corpus": name, "docs": len(rows), "tokens": args.tokens, "seeds": args.seeds, "arms": results,
            "cost_s": cost}


def report(res: dict) -> list[str]:
    arms = res["arms"]
    lines = [f"## {res['corpus']} corpus: {res['docs']} docs, {res['tokens']} tokens, {res['seeds']} seeds "
             "(combined std: training seed + pool draw)", "",
             "| arm | docs kept | val loss mean ± combined std | per seed |", "|---|---|---|---|"]
    for arm, r in sorted(arms.items(), key=lambda kv: statistics.fmean(kv[1]["losses"].values())):
        v = list(r["losses"].values())
        sd = statistics.stdev(v) if len(v) > 1 else float("nan")
        lines.append(f"| {arm} | {r['docs']} | {statistics.fmean(v):.4f} ± {sd:.4f} | "
                     + " ".join(f"{x:.4f}" for x in v) + " |")
    lines += ["", "gap = loss(vs) - loss(data-driven arm): positive when the data-driven arm is better", "",
              "| data-driven arm | vs | gap (nats) | in combined std | paired (std of diffs) |", "|---|---|---|---|---|"]
    for arm in DATA_DRIVEN:
        for other in ("ksigma_hand", "random", "raw"):
            if arm not in arms or other not in arms:
                continue
            g = variance.gap(arms[other]["losses"], arms[arm]["losses"])
            p = g["paired"]
            lines.append(f"| {arm} | {other} | {g['delta']:+.4f} | {_f(g['in_std'])} | {_f(p and p['in_std'])} |")
    lines.append("")
    lines.append("kept fraction by document kind (from the corpus's meta labels; no method reads them): " + "; ".join(
        f"{arm}: " + ", ".join(f"{k} {v:.0%}" for k, v in sorted(r["kept_by_kind"].items())) for arm, r in arms.items()
        if arm != "random"))
    lines.append("cost (s, beyond training the arms): " + json.dumps(res["cost_s"], default=float))
    return lines


def _f(x) -> str:
    return "n/a" if x is None else f"{x:+.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", choices=["demo", "other", "both"], default="both")
    ap.add_argument("--tokens", type=int, default=1_000_000, help="training budget of every arm (the issue: 1M)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--docs", type=int, default=10_000, help="raw documents sampled from the corpus")
    ap.add_argument("--trials", type=int, default=8, help="threshold_search trials")
    ap.add_argument("--eval-tokens", type=int, default=100_000, help="validation tokens per evaluation")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", help="keep the work files here (default a temp dir)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--reuse-probe", action="store_true",
                    help="reuse the Data-Juicer stats an earlier run wrote in --work (same documents only)")
    ap.add_argument("--arms", help="comma-separated arms to train (default all); the refinements are computed anyway")
    args = ap.parse_args()
    base = Path(args.work or tempfile.mkdtemp(prefix="bench-refinement-"))
    t0 = time.perf_counter()
    out = []
    for name in (["demo", "other"] if args.corpus == "both" else [args.corpus]):
        res = run_corpus(name, args, base)
        out.append(res)
        print("\n".join(report(res)), flush=True)
    print(f"wall {time.perf_counter() - t0:.0f} s; work files in {base}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
