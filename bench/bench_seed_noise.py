"""Seed noise of the paper's reference model: how far apart pools are vs how much seeds move them.

Trains the single-op experiment's reference model (train_lm + evaluate_lm, no Snakemake) on a few
pools of a kept single-op run (`bench_paper.py single_op --keep`) for every seed and every trainer
variant, and prints per variant:

  pool sd     spread of the arms' mean losses (the signal)
  seed sd     per-run deviation from the arm mean after removing each seed's common shift (the noise)
  ratio       pool sd / seed sd; the baseline's ratio is measured in the same run
  tau         mean Kendall tau-b between the seeds' rankings of the arms
  spikes      runs whose training loss jumped > 0.5 nats above its best so far (an outlier batch)

    python bench/bench_seed_noise.py /tmp/paper-single_op-XXXX [--seeds 0,1] \
        [--variant lr1='{"lr": 1e-3}'] [--arms text_len_1,random,...]

The baseline is the paper configs' trainer section with the trainer defaults (lr 2e-3, tied
embeddings); each variant overrides keys of it. Two runs at a time (one thread each).
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
import tempfile
from multiprocessing import Pool
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from juicer_sandbox.components.kendall import kendall_tau  # noqa: E402

BASE = {"type": "causal_lm", "arch": "gpt2", "n_layer": 2, "d_model": 128, "n_head": 4, "context": 128,
        "batch_size": 32, "max_tokens": 250000, "lr": 2e-3, "tie_embeddings": True}
ARMS = ["text_len_1", "num_words_1", "word_rep_ratio_1", "avg_line_length_0", "random",
        "stopwords_ratio_2", "avg_line_length_1", "special_char_ratio_2"]
SPIKE = 0.5


def pool_path(out: Path, arm: str) -> Path:
    if arm == "random":
        hits = sorted(out.glob("pools/*pools_random_s*/artifacts/export/*.jsonl"))
    else:
        stat, part = arm.rsplit("_", 1)
        hits = sorted(out.glob(f"pools/*pools_{stat}/artifacts/export/{stat}/*_{stat}_{part}.jsonl"))
    if not hits:
        raise SystemExit(f"no pool for arm {arm!r} under {out}/pools")
    return hits[0]


def count_spikes(losses: list[float]) -> int:
    return sum(1 for i in range(1, len(losses)) if losses[i] - min(losses[:i]) > SPIKE)


def one_run(job: tuple) -> dict:
    from juicer_sandbox.models.evaluate import evaluate_lm
    from juicer_sandbox.models.train import train_lm

    name, cfg, arm, seed, pool, tok = job
    with tempfile.TemporaryDirectory(prefix="seednoise-") as tmp:
        train_lm({**cfg, "seed": seed}, pool, tmp, tok, threads=1, seed=seed, progress=False,
                 checkpoint_dir=f"{tmp}/ckpt")
        losses = [h["loss"] for h in json.loads(Path(tmp, "loss_curve.json").read_text())]
        ev = evaluate_lm(f"{tmp}/model", REPO / "data/demo/val.jsonl.gz", threads=1)
    return {"variant": name, "arm": arm, "seed": seed, "loss": ev["loss"], "spikes": count_spikes(losses)}


def summarise(rows: list[dict]) -> dict:
    seeds = sorted({r["seed"] for r in rows})
    loss = {(r["arm"], r["seed"]): r["loss"] for r in rows}
    arms = sorted({r["arm"] for r in rows})
    mean = {a: statistics.mean(loss[a, s] for s in seeds) for a in arms}
    shift = {s: statistics.mean(loss[a, s] - mean[a] for a in arms) for s in seeds}
    dof = (len(arms) - 1) * (len(seeds) - 1)
    seed_sd = math.sqrt(sum((loss[a, s] - mean[a] - shift[s]) ** 2 for a in arms for s in seeds) / dof)
    pool_sd = statistics.stdev(mean.values())
    taus = [kendall_tau([loss[a, s] for a in arms], [loss[a, t] for a in arms])
            for s, t in itertools.combinations(seeds, 2)]
    return {"mean": statistics.mean(mean.values()), "pool_sd": pool_sd, "seed_sd": seed_sd,
            "ratio": pool_sd / seed_sd, "tau": statistics.mean(taus), "spikes": sum(r["spikes"] for r in rows),
            "runs": len(rows), "order": sorted(arms, key=mean.get)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a kept single-op run (bench_paper.py single_op --keep)")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                    help="trainer keys over the baseline, e.g. lr1='{\"lr\": 1e-3}' (repeatable)")
    args = ap.parse_args()
    out = next(args.run.glob("outputs/paper/*"), None)
    if out is None:
        raise SystemExit(f"{args.run}: no outputs/paper/<name> (run bench_paper.py single_op --keep first)")
    tok = out / "data/execution_tokenizer/artifacts/export"
    seeds = [int(s) for s in args.seeds.split(",")]
    arms = args.arms.split(",")
    if len(seeds) < 2 or len(arms) < 3:
        raise SystemExit("need at least 2 seeds and 3 arms")
    variants = {"baseline": dict(BASE)}
    for spec in args.variant:
        name, _, js = spec.partition("=")
        variants[name] = {**BASE, **json.loads(js)}
    jobs = [(n, cfg, a, s, str(pool_path(out, a)), str(tok)) for n, cfg in variants.items() for a in arms for s in seeds]
    print(f"{len(variants)} variants x {len(arms)} arms x {len(seeds)} seeds = {len(jobs)} runs; pools of {out}")
    with Pool(2) as pool:
        rows = pool.map(one_run, jobs)
    summary = {name: summarise([r for r in rows if r["variant"] == name]) for name in variants}
    base = summary["baseline"]
    print(f"\n| variant | trainer keys | mean loss | pool sd | seed sd | ratio | ratio / baseline | tau | spikes / runs |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, cfg in variants.items():
        s = summary[name]
        keys = {k: v for k, v in cfg.items() if BASE.get(k) != v} or "—"
        print(f"| {name} | {keys} | {s['mean']:.3f} | {s['pool_sd']:.3f} | {s['seed_sd']:.3f} | {s['ratio']:.2f} "
              f"| {s['ratio'] / base['ratio']:.2f} | {s['tau']:.2f} | {s['spikes']} / {s['runs']} |")
    for name, s in summary.items():
        print(f"{name}: arms best first: {', '.join(s['order'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
