"""DeepSpeed training of a local Hugging Face-format causal LM (the project's tiny model), one process per rank.

Run through a launcher (``families.launch.command("deepspeed" | "torchrun", world, <this file>, args)``)::

    python -m deepspeed.launcher.runner --num_nodes=1 --master_port=29500 [--num_gpus=N] \\
        juicer_sandbox/models/ds_train.py --model DIR --out OUT [--data FILE.jsonl] [--steps 20] [--zero 1]

It loads ``--model`` (a local directory written by ``save_pretrained``, e.g. ``model/`` of a ``causal_lm`` run;
never a hub id), wraps it with ``deepspeed.initialize`` (AdamW, ZeRO stage ``--zero``), trains ``--steps`` steps
on windows of ``--data`` (tokenized with the model directory's tokenizer) or, without data, on a fixed random
token stream, and rank 0 writes ``OUT/result.json`` (world size, device, losses, wall time) and the trained model
to ``OUT/model``. On a machine without CUDA, DeepSpeed's CPU accelerator (``DS_ACCELERATOR=cpu``, gloo) is used.
Every rank sees the same data (this checks the training path, not data parallel throughput).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _windows(args, tok_dir: str, vocab: int, context: int):
    import torch

    g = torch.Generator().manual_seed(args.seed)
    if not args.data:
        return torch.randint(0, vocab, (max(64, args.steps * args.batch), context), generator=g)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tok_dir)
    ids: list[int] = []
    with open(args.data, encoding="utf-8") as fh:
        for line in fh:
            ids += tok(json.loads(line).get(args.text_key, ""))["input_ids"] + [tok.eos_token_id or 0]
            if len(ids) > (args.steps * args.batch + 1) * context:
                break
    n = len(ids) // context
    if n < args.batch:
        raise SystemExit(f"ds_train: {args.data} has too little text for {args.batch} windows of {context} tokens")
    return torch.tensor(ids[: n * context]).view(n, context)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--data")
    p.add_argument("--text-key", default="text")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--zero", type=int, default=1, choices=(0, 1, 2, 3))
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    args, _ = p.parse_known_args(argv)  # the deepspeed launcher appends --local_rank=N
    if not os.path.isdir(args.model):
        raise SystemExit(f"ds_train: --model {args.model!r} is not a local directory (hubs are not contacted)")
    import torch

    if not torch.cuda.is_available():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    import deepspeed
    from transformers import AutoModelForCausalLM

    torch.manual_seed(args.seed)
    model = AutoModelForCausalLM.from_pretrained(args.model)
    context = min(int(getattr(model.config, "n_positions", 0) or getattr(model.config, "max_position_embeddings", 64)),
                  64)
    data = _windows(args, args.model, model.config.vocab_size, context)
    config = {"train_micro_batch_size_per_gpu": args.batch, "gradient_accumulation_steps": 1,
              "optimizer": {"type": "AdamW", "params": {"lr": args.lr, "torch_adam": True}},
              "zero_optimization": {"stage": args.zero}, "steps_per_print": 10 ** 9,
              **({"bf16": {"enabled": True}} if torch.cuda.is_available() else {})}
    engine, _, _, _ = deepspeed.initialize(model=model, model_parameters=model.parameters(), config=config)
    start, losses = time.time(), []
    for step in range(args.steps):
        i = (step * args.batch) % (len(data) - args.batch + 1)
        batch = data[i:i + args.batch].to(engine.device)
        loss = engine(input_ids=batch, labels=batch).loss
        engine.backward(loss)
        engine.step()
        losses.append(round(float(loss.item()), 5))
    wall = time.time() - start
    if engine.global_rank == 0:
        os.makedirs(args.out, exist_ok=True)
        engine.module.save_pretrained(os.path.join(args.out, "model"))
        result = {"world_size": engine.world_size, "device": str(engine.device), "zero_stage": args.zero,
                  "steps": args.steps, "losses": losses, "first_loss": losses[0], "last_loss": losses[-1],
                  "train_s": round(wall, 3), "deepspeed": deepspeed.__version__}
        with open(os.path.join(args.out, "result.json"), "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
