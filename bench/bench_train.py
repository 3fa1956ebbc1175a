#!/usr/bin/env python
"""Training throughput: ``train_lm`` vs a minimal plain-PyTorch loop, same model, data and machine.

Both sides train the same freshly initialised model (same seed) on the same
token stream with the same batch sampling, AdamW, schedule and gradient
clipping; the minimal loop has no checkpoints, no history, no progress bar and
no outputs. Throughput counts the optimizer-step loop only (``train_lm``'s
``tokens_per_second_this_run``, which includes its final checkpoint write);
tokenisation and model saving are reported separately as ``train_lm`` wall time.
The runs are interleaved (plain, train_lm, plain, train_lm, ...) and the best
of each side is compared; target ratio >= 0.8. Tokens per CPU-second
(``time.process_time``) are printed too: on a machine shared with other jobs
the wall-clock numbers swing with the load, the CPU ones much less.

    python bench/bench_train.py                 # 100k tokens per run, GPT-2 2L d128, 1 thread
    python bench/bench_train.py --tokens 500000 --repeats 3 --arch llama --threads 2
    python bench/bench_train.py --data data/demo/raw.jsonl.gz
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthetic_docs(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    vocab = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 9))) for _ in range(3000)
    ]
    weights = [1.0 / (i + 1) for i in range(len(vocab))]  # Zipf-like word frequencies
    docs = []
    for _ in range(n):
        words = rng.choices(vocab, weights, k=rng.randint(20, 250))
        docs.append(" ".join(words).capitalize() + ".")
    return docs


def plain_loop(cfg: dict, stream, vocab: int, eos: int, threads: int, seed: int) -> tuple[float, float]:
    """The minimal reference loop; returns (tokens per wall second, tokens per CPU second) of its step loop."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from juicer_sandbox.models.lm import build_model
    from juicer_sandbox.models.optimizer import _LRLambda, make_optimizer
    from juicer_sandbox.models.token_stream import sample_batch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = build_model(cfg, vocab, eos_token_id=eos)
    model.train()
    opt = make_optimizer(model, cfg)
    bs, ctx = cfg["batch_size"], cfg["context"]
    steps = max(1, cfg["max_tokens"] // (bs * ctx))
    warm = int(round(cfg["warmup"] * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _LRLambda(steps, warm, cfg["min_lr_ratio"]))
    rng = np.random.Generator(np.random.PCG64(seed))
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        w = torch.from_numpy(sample_batch(stream, rng, bs, ctx))
        logits = model(input_ids=w[:, :-1]).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        opt.step()
        sched.step()
    loss.item()
    n = steps * bs * ctx
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def _args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=100_000, help="training tokens per run (default 100k)")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved runs per side (default 2)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--arch", default="gpt2", choices=["gpt2", "llama"])
    ap.add_argument("--data", help="jsonl(.gz) with a 'text' key (default: synthetic text)")
    ap.add_argument("--json", help="also write the results to this JSON file")
    return ap.parse_args(argv)


def _data(args, tmp: Path, cfg: dict, import_s: float):
    """(training file, tokenizer path, tokenizer, token stream), with the data and model line printed."""
    from juicer_sandbox.io import write_jsonl
    from juicer_sandbox.models.token_stream import tokenize_file
    from juicer_sandbox.models.tokenizer import iter_texts, load_tokenizer, train_tokenizer

    if args.data:
        data = Path(args.data)
        texts = iter_texts(data)
    else:
        data = tmp / "train.jsonl"
        docs = synthetic_docs(3000)
        write_jsonl(data, ({"text": t} for t in docs))
        texts = docs
    t0 = time.perf_counter()
    tok_path = train_tokenizer(texts, 2048, tmp / "tokenizer.json")
    tok_s = time.perf_counter() - t0
    tok = load_tokenizer(tok_path)
    stream, n_docs, _ = tokenize_file(data, tok)
    print(f"data: {data.name if args.data else 'synthetic'} {n_docs} docs, {len(stream):,} tokens; "
          f"BPE vocab {tok.get_vocab_size()} trained in {tok_s:.1f}s; imports {import_s:.1f}s", file=sys.stderr)
    print(f"model: {cfg['arch']} {cfg['n_layer']}L d{cfg['d_model']} h{cfg['n_head']} ctx {cfg['context']} "
          f"batch {cfg['batch_size']}, {args.tokens:,} tokens/run, {args.threads} thread(s), "
          f"load avg {os.getloadavg()[0]:.2f}", file=sys.stderr)
    return data, tok_path, tok, stream


def _interleaved(args, cfg: dict, tmp: Path, data: Path, tok_path, tok, stream) -> dict:
    """plain loop, train_lm, plain loop, ...: per-run tokens per second (wall and CPU) of each side."""
    from juicer_sandbox.models.tokenizer import eos_id
    from juicer_sandbox.models.train import train_lm

    runs = {"plain": [], "ours": [], "plain_cpu": [], "ours_cpu": [], "walls": []}
    for r in range(args.repeats):
        tps, cps = plain_loop(cfg, stream, tok.get_vocab_size(), eos_id(tok), args.threads, seed=0)
        runs["plain"].append(tps)
        runs["plain_cpu"].append(cps)
        print(f"  run {r + 1}: plain loop {tps:8,.0f} tok/s  ({cps:8,.0f} tok/CPU-s)", file=sys.stderr)
        m = train_lm(cfg, data, tmp / f"run{r}", tok_path, threads=args.threads, seed=0, progress=False)
        runs["ours"].append(m["tokens_per_second_this_run"])
        runs["ours_cpu"].append(m["tokens_per_cpu_second_this_run"])
        runs["walls"].append(m["wall_seconds"])
        print(f"  run {r + 1}: train_lm   {runs['ours'][-1]:8,.0f} tok/s  ({runs['ours_cpu'][-1]:8,.0f} tok/CPU-s); "
              f"wall {m['wall_seconds']:.1f}s incl. tokenise {m['tokenize_seconds']:.1f}s and outputs",
              file=sys.stderr)
    return runs


def _report(args, runs: dict, load_after: float) -> dict:
    plain, ours, plain_cpu, ours_cpu = runs["plain"], runs["ours"], runs["plain_cpu"], runs["ours_cpu"]
    best_plain, best_ours = max(plain), max(ours)
    ratio = best_ours / best_plain
    ratio_cpu = max(ours_cpu) / max(plain_cpu)
    result = {
        "tokens_per_run": args.tokens,
        "threads": args.threads,
        "arch": args.arch,
        "load_avg_after": round(load_after, 2),
        "plain_tokens_per_s": [round(x, 1) for x in plain],
        "train_lm_tokens_per_s": [round(x, 1) for x in ours],
        "plain_tokens_per_cpu_s": [round(x, 1) for x in plain_cpu],
        "train_lm_tokens_per_cpu_s": [round(x, 1) for x in ours_cpu],
        "train_lm_wall_s": runs["walls"],
        "best_plain_tokens_per_s": round(best_plain, 1),
        "best_train_lm_tokens_per_s": round(best_ours, 1),
        "ratio": round(ratio, 3),
        "ratio_cpu": round(ratio_cpu, 3),
        "target": 0.8,
        "ok": ratio >= 0.8,
    }
    print(f"plain loop : {best_plain:10,.0f} tokens/s   {max(plain_cpu):10,.0f} tokens/CPU-s (best of {args.repeats})")
    print(f"train_lm   : {best_ours:10,.0f} tokens/s   {max(ours_cpu):10,.0f} tokens/CPU-s (best of {args.repeats})")
    print(f"ratio      : {ratio:10.3f} (wall)   {ratio_cpu:10.3f} (CPU)   "
          f"target >= 0.8: {'OK' if ratio >= 0.8 else 'BELOW TARGET'}; load avg {load_after:.2f}"
          + ("  [busy machine: wall numbers are noisy, compare the CPU ratio]" if load_after > 1.5 else ""))
    return result


def main(argv=None) -> int:
    args = _args(argv)
    t_import = time.perf_counter()
    import torch  # noqa: F401

    from juicer_sandbox.models.trainer_config import validate_trainer_cfg

    import_s = time.perf_counter() - t_import
    cfg = validate_trainer_cfg({"arch": args.arch, "max_tokens": args.tokens, "checkpoint_every": 10_000})
    with tempfile.TemporaryDirectory(prefix="bench_train.") as tmp:
        tmp = Path(tmp)
        data, tok_path, tok, stream = _data(args, tmp, cfg, import_s)
        runs = _interleaved(args, cfg, tmp, data, tok_path, tok, stream)
        load_after = os.getloadavg()[0]
    result = _report(args, runs, load_after)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
