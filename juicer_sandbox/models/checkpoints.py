"""Training checkpoints that hold data only: one ``step_NNNNNN.safetensors`` file per checkpoint.

A checkpoint lives in the training job's scratch directory (under the work dir), which anyone who
can write there can plant files in, so nothing in it is unpickled. Each file is a safetensors file:

* tensors ``model.<name>`` (weights; a tensor shared by several names, e.g. tied input and output
  embeddings, is stored once and the other names are listed as aliases), ``optim.<i>.<key>``
  (AdamW's per-parameter state) and ``rng.torch`` / ``rng.cuda`` (torch's generator states);
* the rest as JSON in the safetensors header (metadata key ``juicer_sandbox.checkpoint``): run
  fingerprint, step, loss history, loop seconds, optimizer param groups, scheduler state, and
  the numpy and Python generator states.

Loading parses that header and reads tensors (``safetensors`` runs no code). Files in the old
pickled format (``step_NNNNNN.pt``) are never opened: they are reported and left alone, and
training starts from the newest safetensors checkpoint or from step 0. Restoring all of it
gives bit-identical training to an uninterrupted run (same machine, same thread count).
"""
from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from pathlib import Path
from typing import Any

from ..io import atomic_path
from .trainer_config import _NON_TRAJECTORY

log = logging.getLogger("juicer_sandbox.train")

SUFFIX = ".safetensors"
_META_KEY = "juicer_sandbox.checkpoint"
_CKPT_RE = re.compile(r"^step_(\d{6,})\.safetensors$")
_PICKLED_RE = re.compile(r"^step_(\d{6,})\.pt$")


def fingerprint(cfg: dict, seed: int, stream, tok_fp: str, vocab: int) -> str:
    """What a checkpoint must match to be resumed: trajectory config, seed, token stream, tokenizer."""
    h = hashlib.sha256()
    traj = {k: v for k, v in cfg.items() if k not in _NON_TRAJECTORY}
    h.update(json.dumps({"cfg": traj, "seed": seed, "tok": tok_fp, "vocab": vocab}, sort_keys=True).encode())
    h.update(str(len(stream)).encode())
    h.update(hashlib.blake2b(stream.tobytes(), digest_size=16).digest())
    return h.hexdigest()[:32]


def list_checkpoints(ckpt_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of the checkpoints in ``ckpt_dir``, oldest first."""
    out = []
    if ckpt_dir.is_dir():
        for p in ckpt_dir.iterdir():
            m = _CKPT_RE.match(p.name)
            if m:
                out.append((int(m.group(1)), p))
    return sorted(out)


# ------------------------------------------------------------------------------ generator states


def rng_states(np_rng, device) -> dict:
    import torch

    st = {"torch": torch.get_rng_state(), "numpy": np_rng.bit_generator.state, "python": random.getstate()}
    if device.type == "cuda":
        st["cuda"] = torch.cuda.get_rng_state(device)
    return st


def set_rng_states(st: dict, np_rng, device) -> None:
    import torch

    torch.set_rng_state(st["torch"])
    np_rng.bit_generator.state = st["numpy"]
    random.setstate(st["python"])
    if device.type == "cuda" and "cuda" in st:
        torch.cuda.set_rng_state(st["cuda"], device)


# ------------------------------------------------------------------------------ save


def _model_tensors(model, tensors: dict) -> dict[str, str]:
    """Put the model's weights into ``tensors`` once each; returns alias name -> stored name."""
    stored: dict[tuple, str] = {}
    aliases = {}
    for name, t in model.state_dict().items():
        key = (t.device, t.data_ptr(), tuple(t.shape), tuple(t.stride()), t.dtype)
        if t.numel() and key in stored:
            aliases[name] = stored[key]
            continue
        stored[key] = name
        tensors[f"model.{name}"] = t.detach().cpu().contiguous()
    return aliases


def _optimizer_state(opt, tensors: dict) -> dict:
    sd = opt.state_dict()
    state = {}
    for idx, per_param in sd["state"].items():
        entry = {}
        for k, v in per_param.items():
            if hasattr(v, "detach"):
                tensors[f"optim.{idx}.{k}"] = v.detach().cpu().contiguous()
                entry[k] = None  # stored as a tensor
            else:
                entry[k] = {"value": v}
        state[str(idx)] = entry
    return {"state": state, "param_groups": sd["param_groups"]}


def save_checkpoint(ckpt_dir: Path, *, fingerprint: str, step: int, steps: int, model, optimizer, scheduler,
                    rng: dict, history: list, train_seconds: float, keep: int) -> Path:
    """Write ``step_NNNNNN.safetensors`` atomically, then keep only the newest ``keep`` checkpoints."""
    from safetensors.torch import save_file

    tensors: dict[str, Any] = {}
    aliases = _model_tensors(model, tensors)
    optim = _optimizer_state(optimizer, tensors)
    tensors["rng.torch"] = rng["torch"]
    if "cuda" in rng:
        tensors["rng.cuda"] = rng["cuda"].cpu()
    meta = {"format": 1, "fingerprint": fingerprint, "step": step, "steps": steps, "history": history,
            "train_seconds": train_seconds, "model_aliases": aliases, "optimizer": optim,
            "scheduler": scheduler.state_dict(),
            "rng": {"numpy": rng["numpy"], "python": list(rng["python"])}}
    path = ckpt_dir / f"step_{step:06d}{SUFFIX}"
    with atomic_path(path, suffix=SUFFIX) as tmp:
        save_file(tensors, str(tmp), metadata={_META_KEY: json.dumps(meta)})
    for _, old in list_checkpoints(ckpt_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


# ------------------------------------------------------------------------------ load


def _read(path: Path) -> tuple[dict, dict]:
    """(metadata, tensors) of one checkpoint file; raises on anything that is not one."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt", device="cpu") as fh:
        meta = json.loads((fh.metadata() or {})[_META_KEY])
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    if not isinstance(meta, dict) or meta.get("format") != 1:
        raise ValueError("not a juicer-sandbox training checkpoint")
    return meta, tensors


def load_latest_checkpoint(ckpt_dir: Path, fingerprint: str) -> dict | None:
    """Newest readable checkpoint with a matching fingerprint (``{"meta", "tensors"}``), or None.

    Unreadable files are skipped with a warning, checkpoints of another config/seed/data are
    removed, pickled ``.pt`` files are reported and never opened.
    """
    if ckpt_dir.is_dir():
        for p in sorted(ckpt_dir.iterdir()):
            if _PICKLED_RE.match(p.name):
                log.warning("not loading %s: pickled checkpoints can run code and are never opened "
                            "(checkpoints are .safetensors files); delete it", p)
    for _, path in reversed(list_checkpoints(ckpt_dir)):
        try:
            meta, tensors = _read(path)
        except Exception as exc:  # truncated by a crash outside the atomic rename, corrupt, or not ours
            log.warning("ignoring unreadable checkpoint %s (%s: %s)", path, type(exc).__name__, exc)
            continue
        if meta.get("fingerprint") != fingerprint:
            log.warning("removing stale checkpoint %s (different config, seed or data)", path)
            path.unlink(missing_ok=True)
            continue
        return {"meta": meta, "tensors": tensors}
    return None


def _optimizer_state_dict(optim: dict, tensors: dict) -> dict:
    state = {}
    for idx, entry in optim["state"].items():
        state[int(idx)] = {k: tensors[f"optim.{idx}.{k}"] if v is None else v["value"] for k, v in entry.items()}
    groups = []
    for g in optim["param_groups"]:
        g = dict(g)
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    return {"state": state, "param_groups": groups}


def restore(ckpt: dict, model, optimizer, scheduler, np_rng, device) -> dict:
    """Load a checkpoint from :func:`load_latest_checkpoint` into the live objects; returns its metadata."""
    meta, tensors = ckpt["meta"], ckpt["tensors"]
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    for alias, name in meta["model_aliases"].items():
        weights[alias] = weights[name]
    model.load_state_dict(weights)
    optimizer.load_state_dict(_optimizer_state_dict(meta["optimizer"], tensors))
    scheduler.load_state_dict(meta["scheduler"])
    version, internal, gauss = meta["rng"]["python"]
    rng = {"torch": tensors["rng.torch"], "numpy": meta["rng"]["numpy"],
           "python": (version, tuple(internal), gauss)}
    if "rng.cuda" in tensors:
        rng["cuda"] = tensors["rng.cuda"]
    set_rng_states(rng, np_rng, device)
    return meta
