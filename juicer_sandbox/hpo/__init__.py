"""Hyper-parameter sweeps (W&B sweep format) run as Snakemake jobs over an Optuna study.

* :mod:`.sweep`: :func:`load_sweep` validates a W&B sweep YAML into a :class:`Sweep`
  (:mod:`.param_specs` checks each parameter's distribution).
* :mod:`.study`: :func:`ask` / :func:`tell` one trial (idempotent, multi-process safe) and
  :func:`export` the results (``trials.csv``, ``best.json``, two PNG plots drawn by :mod:`.plots`);
  the study is stored by :mod:`.journal` (an Optuna journal file under a lock), and W&B
  distributions become Optuna ones in :mod:`.encodings`.
* :mod:`.apply`: :func:`apply_params` puts a trial's values into a job's recipe / extra configs;
  :func:`validate_param_names` rejects parameters that address nothing.

Optuna is imported lazily (only by :mod:`.study` functions), so parsing a Snakefile stays fast.
"""
from .apply import apply_params, validate_param_names
from .study import ask, export, tell, trial_records
from .sweep import Sweep, load_sweep

__all__ = ["Sweep", "load_sweep", "ask", "tell", "export", "trial_records", "apply_params",
           "validate_param_names"]
