"""``ranking_agreement``: Kendall tau-b between two rankings (documented in :mod:`.experiment`)."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from ..errors import ComponentConfigError
from ..io import write_json
from .arm_ranking import compute_arm_ranking
from .config_helpers import check_keys
from .kendall import kendall_tau

log = logging.getLogger("juicer_sandbox.components.experiment")

_EXPORT = {"type": ["string", "null"], "default": None, "description": "a directory for the result files"}
_RANKING = {"anyOf": [{"type": "string", "minLength": 1},
                      {"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 1}]}

#: JSON schema of ``ranking_agreement``'s ``extra_configs``.
SCHEMA: dict = {
    "type": "object",
    "description": "Kendall tau-b between two rankings",
    "properties": {
        "type": {"const": "ranking_agreement"},
        "ranking_a": _RANKING,
        "ranking_b": _RANKING,
        "export_path": _EXPORT,
    },
    "required": ["ranking_a", "ranking_b"],
    "additionalProperties": False,
}


def _ranking_in_dir(path: str, key: str) -> Any:
    """What an arm_ranking job directory holds: its ranking.json (exported), else its ranking recomputed from the
    resolved config the runner keeps there, else the ranked list the hook wrote."""
    for candidate in (os.path.join(path, "ranking.json"), os.path.join(path, "export", "ranking.json")):
        if os.path.isfile(candidate):
            with open(candidate, encoding="utf-8") as fh:
                data = json.load(fh)
            if isinstance(data, dict) and "arms" in data:
                return data
    resolved = os.path.join(path, "resolved_config.json")
    if os.path.isfile(resolved):
        with open(resolved, encoding="utf-8") as fh:
            extra = (json.load(fh) or {}).get("extra_configs") or {}
        if extra.get("type") == "arm_ranking":
            return compute_arm_ranking({k: v for k, v in extra.items() if k not in ("type", "export_path")})
    listed = os.path.join(path, "ranking.json")
    if os.path.isfile(listed):
        return listed
    raise ComponentConfigError(f"directory {path!r} holds no ranking (no ranking.json, and it is not the artifacts "
                               "directory of an arm_ranking job)", key=key)


def _scores(value: Any, key: str) -> tuple[list[str], dict[str, float]]:
    """(items best first, item -> score where larger is better) from a list, a ranking.json or a job directory."""
    if isinstance(value, (str, os.PathLike)) and os.path.isdir(str(value)):
        value = _ranking_in_dir(str(value), key)
    if isinstance(value, dict):
        value = _ranking_scores(value, str(key), key)
    if isinstance(value, tuple):
        return value
    if isinstance(value, (str, os.PathLike)):
        path = str(value)
        if not os.path.isfile(path):
            raise ComponentConfigError(f"{path!r} is not an existing ranking.json or job directory (or give a list "
                                       "of names)", key=key)
        try:
            with open(path, encoding="utf-8") as fh:
                value = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ComponentConfigError(f"{path} is not valid JSON ({exc.msg})", key=key)
        if isinstance(value, dict):
            return _ranking_scores(value, path, key)
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        raise ComponentConfigError("must be a list of names (best first) or the path of a ranking.json", key=key)
    items = [str(v) for v in value]
    if len(set(items)) != len(items):
        raise ComponentConfigError("names an item twice", key=key)
    return items, {item: -float(k) for k, item in enumerate(items)}


def _ranking_scores(data: dict, where: str, key: str) -> tuple[list[str], dict[str, float]]:
    """Arms best first and their goal-signed means (ties in the means stay ties) from a ranking record."""
    arms = data.get("arms")
    if not isinstance(arms, list) or not all(isinstance(a, dict) and "arm" in a and "mean" in a for a in arms):
        raise ComponentConfigError(f"{where} is not a ranking.json written by arm_ranking (no 'arms' table)", key=key)
    sign = -1.0 if data.get("goal", "minimize") == "minimize" else 1.0
    return [str(a["arm"]) for a in arms], {str(a["arm"]): sign * float(a["mean"]) for a in arms}


def compute_agreement(cfg: dict) -> dict:
    check_keys(cfg, SCHEMA)
    for key in ("ranking_a", "ranking_b"):
        if cfg.get(key) is None:
            raise ComponentConfigError("is required: a list of names best first, or a ranking.json", key=key)
    items_a, score_a = _scores(cfg["ranking_a"], "ranking_a")
    items_b, score_b = _scores(cfg["ranking_b"], "ranking_b")
    common = [item for item in items_a if item in score_b]
    if len(common) < 2:
        raise ComponentConfigError(f"the two rankings share {len(common)} item(s); Kendall tau needs at least 2 "
                                   f"(a: {items_a}, b: {items_b})", key="ranking_b")
    tau = kendall_tau([score_a[c] for c in common], [score_b[c] for c in common])
    return {"tau": tau, "n_common": len(common), "common": common, "ranking_a": items_a, "ranking_b": items_b,
            "only_in_a": [i for i in items_a if i not in score_b],
            "only_in_b": [i for i in items_b if i not in score_a]}


def ranking_agreement(cfg: dict) -> float | None:
    """Kendall tau-b between two rankings over the items both contain (see the module docstring)."""
    result = compute_agreement(cfg)
    if cfg.get("export_path"):
        write_json(Path(cfg["export_path"]) / "agreement.json", result)
    log.info("ranking_agreement: tau=%s over %d common items", result["tau"], result["n_common"])
    return result["tau"]
