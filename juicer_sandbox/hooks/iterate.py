"""The gate job after each iteration (see juicer_sandbox/config/iterations.py)."""
from __future__ import annotations

import logging
import operator

from ..io import write_json
from .runner import Result, Run, record_value

log = logging.getLogger(__name__)
_OPS = {"==": operator.eq, ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


def iter_gate(run: Run) -> Result:
    """Decide whether the next iteration runs: not after the last one, nor once the targets are met."""
    extra = run.extra
    previous = [r for j, r in run.upstream.items() if j.endswith("/gate")]
    if previous and not previous[0]["outputs"]["res_1"]["continue"]:
        decision = {"continue": False, "iteration": extra["iteration"], "reason": "stopped earlier"}
    else:
        results = []
        for t in extra["targets"]:
            value = float(record_value(run.upstream[t["job"]], t["key"]))
            results.append({**t, "actual": value, "met": _OPS[t["op"]](value, t["value"])})
        met = [r["met"] for r in results]
        done = bool(met) and (all(met) if extra["mode"] == "all" else any(met))
        last = extra["iteration"] >= extra["max_iter_num"]
        decision = {"continue": not (done or last), "iteration": extra["iteration"], "targets": results,
                    "targets_met": done, "reason": "targets met" if done else "last iteration" if last else ""}
    write_json(run.artifacts / "gate.json", decision)
    log.info("after iteration %s: %s", extra["iteration"], decision)
    return Result(outputs=decision, metrics={k: v for k, v in decision.items() if k != "targets"})
