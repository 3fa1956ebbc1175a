"""What a finished training run leaves in ``out_dir``: ``model/`` (save_pretrained + tokenizer),
``loss_curve.json``, ``loss_curve.png`` and the metrics of ``train_metrics.json``.

``run`` and ``prog`` are :mod:`.train`'s set-up and loop state.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..io import atomic_path, replace_dir, write_json


def plot_loss_curve(history: list[dict], png_path: str | os.PathLike, title: str = "") -> None:
    """Loss vs training tokens (and lr on a second axis) to a PNG, atomically."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    try:
        toks = [h["tokens"] for h in history]
        ax.plot(toks, [h["loss"] for h in history], color="tab:blue", lw=1.2, label="train loss")
        ax.set_xlabel("training tokens")
        ax.set_ylabel("loss (nats/token)")
        ax.grid(alpha=0.3)
        ax2 = ax.twinx()
        ax2.plot(toks, [h["lr"] for h in history], color="tab:orange", lw=0.8, alpha=0.7, label="lr")
        ax2.set_ylabel("learning rate")
        if title:
            ax.set_title(title, fontsize=9)
        fig.tight_layout()
        with atomic_path(png_path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)


def _save_pretrained_quietly(model, path: Path) -> None:
    from .lm import quiet_hf_progress

    with quiet_hf_progress():
        model.save_pretrained(str(path))




def write_outputs(run, prog, final_model, out_dir: Path, train_path) -> None:
    from .tokenizer import save_hf_tokenizer

    tmp_model = out_dir / f".model.tmp.{os.getpid()}"
    if tmp_model.exists():
        import shutil

        shutil.rmtree(tmp_model)
    _save_pretrained_quietly(final_model, tmp_model)
    save_hf_tokenizer(run.tok_file, tmp_model)
    replace_dir(tmp_model, out_dir / "model")

    cfg = run.cfg
    write_json(out_dir / "loss_curve.json", prog.history)
    plot_loss_curve(prog.history, out_dir / "loss_curve.png", title=f"{Path(train_path).name}: {cfg['arch']} "
                    f"{cfg['n_layer']}L d{cfg['d_model']}, {run.steps * run.tokens_per_step:,} tokens")


def _per_second(n: float, seconds: float):
    return round(n / seconds, 1) if seconds > 0 else None


def train_metrics(run, prog, final_model, out_dir: Path, train_path, threads: int,
             wall_seconds: float) -> dict:
    cfg, history, tps = run.cfg, prog.history, run.tokens_per_step
    last = [h["loss"] for h in history[-10:]]
    tokens = run.steps * tps
    return {
        "steps": run.steps,
        "tokens": tokens,
        "tokens_per_step": tps,
        "train_seconds": round(prog.train_seconds, 3),
        "tokens_per_second": _per_second(tokens, prog.train_seconds),
        "tokens_per_second_this_run": _per_second(prog.run_steps * tps, prog.loop_seconds) if prog.run_steps else None,
        "tokens_per_cpu_second_this_run": (
            _per_second(prog.run_steps * tps, prog.loop_cpu_seconds) if prog.run_steps else None),
        "wall_seconds": round(wall_seconds, 3),
        "tokenize_seconds": round(run.tokenize_seconds, 3),
        "final_train_loss": history[-1]["loss"] if history else None,
        "final_train_loss_avg10": sum(last) / len(last) if last else None,
        "params": run.n_params,
        "arch": cfg["arch"] if not cfg.get("model_name_or_path") else type(final_model).__name__,
        "vocab_size": run.vocab,
        "pool_docs": run.n_docs,
        "pool_bytes": run.n_bytes,
        "pool_tokens": int(len(run.stream)),
        "epochs": round(tokens / max(1, len(run.stream)), 4),
        "seed": run.seed,
        "threads": int(threads),
        "device": run.device.type,
        "deepspeed": run.engine is not None,
        "resumed_from_step": prog.resumed_from,
        "steps_this_run": prog.run_steps,
        "train_path": str(train_path),
        "model_dir": str(out_dir / "model"),
        "config": {k: v for k, v in cfg.items() if k != "type"},
    }
