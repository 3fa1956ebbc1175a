"""The two PNGs of an HPO export: optimization history and parameter importances.

When a plot cannot be drawn the PNG says why, and the function returns that reason as a note.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from ..io import atomic_path
from .encodings import _distributions, _encodings
from .sweep import Sweep


def _placeholder_png(path: Path, title: str, message: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, transform=ax.transAxes)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _history_png(path: Path, sweep: Sweep, records: list[dict]) -> str | None:
    done = [r for r in records if r["state"] == "COMPLETE"]
    if not done:
        note = "optimization_history.png: no completed trial yet"
        _placeholder_png(path, "Optimization history", note)
        return note
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["trial_index"] for r in done]
    ys = [r["value"] for r in done]
    best, run = [], None
    for y in ys:
        run = y if run is None else (max(run, y) if sweep.goal == "maximize" else min(run, y))
        best.append(run)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(xs, ys, label="trial value", zorder=3)
    ax.step(xs, best, where="post", color="tab:red", label=f"best so far ({sweep.goal})")
    failed = [r["trial_index"] for r in records if r["state"] == "FAIL"]
    if failed:
        ax.scatter(failed, [min(ys)] * len(failed), marker="x", color="grey", label="failed trial")
    ax.set_xlabel("trial index")
    ax.set_ylabel(sweep.metric_name or "objective")
    ax.set_title(f"Optimization history ({sweep.method}, {len(done)} completed)")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return None


def _importances(study, seed: int) -> tuple[dict[str, float], str]:
    """Optuna's default fANOVA when scikit-learn is installed, else PED-ANOVA (pure numpy)."""
    import optuna

    try:
        import sklearn  # noqa: F401

        evaluator, label = optuna.importance.FanovaImportanceEvaluator(seed=seed), "fANOVA"
    except ImportError:
        evaluator, label = optuna.importance.PedAnovaImportanceEvaluator(), "PED-ANOVA"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return optuna.importance.get_param_importances(study, evaluator=evaluator), label


def _importance_png(path: Path, sweep: Sweep, study, records: list[dict]) -> str | None:
    n_done = sum(r["state"] == "COMPLETE" for r in records)
    if n_done < 2:
        note = f"param_importances.png: needs at least 2 completed trials, have {n_done}"
        _placeholder_png(path, "Parameter importances", note)
        return note
    if not _distributions(_encodings(sweep)):
        note = "param_importances.png: the sweep has only constant parameters"
        _placeholder_png(path, "Parameter importances", note)
        return note
    try:
        imp, label = _importances(study, sweep.seed)
        if not imp:
            raise ValueError("no parameter varied across the completed trials")
    except Exception as exc:  # importance evaluators refuse degenerate studies; say why
        note = f"param_importances.png: importances not available ({type(exc).__name__}: {exc})"
        _placeholder_png(path, "Parameter importances", note)
        return note
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(imp)[::-1]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.45 * len(names)))
    ax.barh(names, [imp[n] for n in names])
    ax.set_xlabel("importance")
    ax.set_title(f"Parameter importances ({label}, {n_done} completed trials)")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return None
