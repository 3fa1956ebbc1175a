"""TrainModelHook ``trinity-rft``: reinforcement fine-tuning with Trinity-RFT, the original's ``TrinityRFTTrainExecutor``.

It runs ``trinity run --config <trinity_config_path>`` in the ``trinity`` family's env and returns the
Trinity config's ``checkpoint_root_dir`` (as the original meant to: its ``yaml.safe_load()`` without an
argument always failed after training). Keys as in the original: ``trinity_config_path``, ``trinity_home``
(the original pip-installs that checkout into its env; here the env file pins the ``trinity-rft`` package,
so ``trinity_home`` is only recorded), ``env_name``/``env_manager``/``env_params`` (mapped onto the family's
env when planning). Trinity's monitor lines (``(Trainer pid=N) INFO <time> monitor.py:<line>] Step <n>:
{...}``), which the original's watcher meant to log but never did (an un-awaited coroutine), become the
job's metrics: the number of steps and the last step's record.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from ..errors import ComponentConfigError, SandboxError

MONITOR_LINE = re.compile(r"^\(Trainer pid=(\d+)\) INFO (.*?) monitor.py:(.*?)\] Step (\d*?): (.*?)$")


def trinity_command(config_path: str) -> list[str]:
    return ["trinity", "run", "--config", config_path]


def parse_monitor_line(line: str) -> tuple[int, dict] | None:
    """(step, record) of one Trainer monitor line; None for any other line. The record is read as a
    Python/JSON literal (never evaluated as code)."""
    m = MONITOR_LINE.match(line.strip())
    if not m:
        return None
    try:
        record = ast.literal_eval(m.group(5))
    except (ValueError, SyntaxError):
        return None
    return (int(m.group(4)), record) if isinstance(record, dict) and m.group(4) else None


def checkpoint_root(config_path: str) -> str | None:
    import yaml

    try:
        data = yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SandboxError(f"trinity-rft: cannot read the Trinity config {config_path} ({exc})") from None
    if not isinstance(data, dict):
        raise SandboxError(f"trinity-rft: the Trinity config {config_path} is not a mapping")
    return data.get("checkpoint_root_dir")


def train(cfg: dict, run) -> str | None:
    config_path = cfg["trinity_config_path"]
    if not Path(config_path).is_file():
        raise ComponentConfigError(f"Trinity config {config_path!r} not found", key="trinity_config_path")
    root = checkpoint_root(config_path)  # read first: a bad config fails before hours of training
    log_path = run.artifacts / "trinity_run.log"
    steps = []
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(trinity_command(config_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace")
        for line in proc.stdout:
            log.write(line)
            sys.stdout.write(line)  # the job's log too (its progress line on the console)
            parsed = parse_monitor_line(line)
            if parsed and "perf/throughput" in parsed[1]:
                steps.append(parsed)
        code = proc.wait()
    if code != 0:
        raise SandboxError(f"trinity-rft: `trinity run` failed (exit {code}); see {log_path}")
    run.metrics.update({"steps": len(steps), "last_step": steps[-1][0] if steps else None,
                        "last_record": steps[-1][1] if steps else {}})
    return root


SCHEMA = {"type": "object", "additionalProperties": False, "required": ["trinity_config_path"],
          "properties": {"type": {"type": "string"}, "env_name": {}, "env_manager": {}, "env_params": {},
                         "trinity_home": {"type": ["string", "null"]}, "trinity_config_path": {"type": "string"}}}
TRAINERS = {"trinity-rft": train}
SCHEMAS = {"trinity-rft": SCHEMA}
