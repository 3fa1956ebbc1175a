"""Experiment probes (DJ-Sandbox ``GeneralProbeFactory``): rank data arms over seeds, and compare two rankings.

The paper's pool experiments in miniature: train the same model on each data pool ("arm") with several seeds,
evaluate, then ask (1) which pools beat a same-size random pool, by how much compared with seed noise, and (2) whether
the order of the pools is stable (Kendall tau between two seeds, or between two model sizes).

``arm_ranking(cfg) -> list[str]``, ``cfg`` = the job's ``extra_configs``:

* ``evaluations``: the evaluation results, one dict per (arm, seed) as ``lm_loss`` produces them: ``arm``, ``seed``
  and the metric. Each item may also be the path of a JSON file holding such a dict (``lm_loss`` writes
  ``metrics.json``). A mapping ``{"0": {...}, "1": {...}}`` (what ``extra_configs.evaluations.<i>`` references build)
  counts as the list of its values in index order. A gathered reference ``<pipeline>.eval_*.res_1`` gives the list.
* ``metric`` (default ``loss``; a dotted key walks nested dicts), ``goal``: ``minimize`` (default) or ``maximize``.
* ``baseline``: the control arm (e.g. ``random``): every arm gets ``delta`` = mean - baseline mean and
  ``delta_baseline_std`` = delta / baseline std (null when the baseline has one seed or no spread), and
  ``delta_pooled_std`` = delta / ``pooled_std``, the seed std pooled over all arms with two or more seeds
  (sqrt of sum (n_i - 1) s_i^2 / sum (n_i - 1)). With two seeds the baseline's own std has one degree of freedom
  and can be tiny by chance; the pooled one has one per arm. The baseline is in the table but not in the
  returned list.
* ``pool`` of each evaluation (or ``pools``: a mapping arm -> path, or a list index-aligned with ``evaluations``):
  the training data of the arm; what the job returns. An arm with no known pool is returned by its name.
* ``top_n``: keep the first n of the returned list. ``export_path``: a directory for ``ranking.json``,
  ``ranking.csv`` and ``ranking.md``.

Per arm: mean, std (ddof=1, null for one seed), n. Arms are ranked best first (ties share the smaller rank and keep
their first-appearance order). The replicate of an evaluation is its ``seed``; where no evaluation has a seed, the
k-th evaluation of each arm is replicate k. With two or more replicates holding at least two arms, ranking.json also
holds the per-seed rankings, ``kendall_tau.tau`` between the two smallest seeds (seed 0 and seed 1 in the usual
case) and ``kendall_tau.mean_pairwise`` over all seed pairs. The per-seed rankings include the baseline arm.

Returns the ranked pools (best first), so a chained experiment can feed them to ``data_pool_combination``.

``ranking_agreement(cfg) -> float | None``: Kendall tau-b between ``ranking_a`` and ``ranking_b``, each a list of
names best first (e.g. the ``res_1`` of two ``arm_ranking`` jobs), the path of a ``ranking.json`` written by
``arm_ranking``, or an ``arm_ranking`` job's artifacts directory (``<pipeline>.<job>.__artifacts__``; its exported
ranking.json, else the ranking recomputed from the resolved config kept there). From a ranking record the arm means
are compared (tied means count as ties; the baseline arm is included). Only items both rankings contain are
compared; fewer than two is an error. Writes ``agreement.json`` to ``export_path``. None when tau is undefined
(every common item tied in one ranking).

Where the code is: :mod:`.arm_ranking`, :mod:`.ranking_agreement`, :mod:`.kendall` (Kendall tau-b) and
:mod:`.ranking_tables` (ranking.json / .csv / .md); this module is their registry.
"""
from __future__ import annotations

from typing import Any, Callable

from .arm_ranking import GOALS, SCHEMA as ARM_RANKING_SCHEMA, arm_ranking, compute_arm_ranking
from .kendall import kendall_tau, ranking_tau
from .ranking_agreement import SCHEMA as AGREEMENT_SCHEMA, compute_agreement, ranking_agreement
from .ranking_tables import mean_std_cell, pooled_std_clause, ranking_csv, ranking_markdown, write_ranking

PROBES: dict[str, Callable[[dict], Any]] = {"arm_ranking": arm_ranking, "ranking_agreement": ranking_agreement}
OUTPUTS: dict[str, int] = {"arm_ranking": 1, "ranking_agreement": 1}

#: JSON schemas of the components' ``extra_configs``.
SCHEMAS: dict[str, dict] = {"arm_ranking": ARM_RANKING_SCHEMA, "ranking_agreement": AGREEMENT_SCHEMA}

# the report and the tests import these from here
__all__ = ["PROBES", "OUTPUTS", "SCHEMAS", "GOALS", "arm_ranking", "compute_arm_ranking", "ranking_agreement",
           "compute_agreement", "kendall_tau", "ranking_tau", "mean_std_cell", "pooled_std_clause", "ranking_csv",
           "ranking_markdown", "write_ranking"]
