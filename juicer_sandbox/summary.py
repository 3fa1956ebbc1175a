"""The run's summary: summary.json (every job) and summary.md (what changed, for people)."""
from __future__ import annotations

from pathlib import Path

from .io import read_json, write_json, write_text


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def probe_comparison(before: dict, after: dict) -> list[str]:
    """Markdown lines comparing two probes: samples kept and per-stat distribution shifts."""
    nb, na = before["metrics"].get("num_samples"), after["metrics"].get("num_samples")
    lines = [f"### {before['job']} → {after['job']}", ""]
    if nb:
        lines.append(f"Samples: {nb} → {na} ({100.0 * na / nb:.1f}% kept)")
        lines.append("")
    ob, oa = before["metrics"].get("overall", {}), after["metrics"].get("overall", {})
    common = [s for s in ob if s in oa]
    if common:
        lines += ["| stat | mean before | mean after | median before | median after | std before | std after |",
                  "|---|---|---|---|---|---|---|"]
        for s in common:
            b, a = ob[s], oa[s]
            lines.append(f"| {s} | {_fmt(b.get('mean'))} | {_fmt(a.get('mean'))} | {_fmt(b.get('50%'))} | "
                         f"{_fmt(a.get('50%'))} | {_fmt(b.get('std'))} | {_fmt(a.get('std'))} |")
    return lines + [""]


def _scalar_metrics(metrics: dict) -> str:
    parts = [f"{k}={_fmt(v)}" for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return ", ".join(parts)


def build_summary(records: list[dict], sandbox_path: str, work_dir: str) -> tuple[dict, str]:
    jobs = [{k: r.get(k) for k in ("job", "pipeline", "meta_name", "hook", "status", "outputs", "metrics", "wall_s")}
            for r in records]
    for j in jobs:
        j["outputs"] = {k: v for k, v in (j["outputs"] or {}).items() if not k.startswith("__")}
    data = {"sandbox": sandbox_path, "work_dir": work_dir, "jobs": jobs}
    md = [f"# Sandbox summary: {sandbox_path}", "", f"Results under `{work_dir}`.", "",
          "| job | hook | wall s | metrics |", "|---|---|---|---|"]
    for j in jobs:
        md.append(f"| {j['job']} | {j['hook']} | {_fmt(j['wall_s'])} | {_scalar_metrics(j['metrics'] or {})} |")
    md.append("")
    probes = [r for r in records if r["hook"] == "ProbeViaAnalyzerHook"]
    if len(probes) > 1:
        md += ["## Data before and after processing", ""]
        for later in probes[1:]:
            md += probe_comparison(probes[0], later)
    return data, "\n".join(md)


def write_summary(context_paths: list[str], sandbox_path: str, json_path: str, md_path: str) -> None:
    records = [read_json(p) for p in context_paths]
    work_dir = str(Path(json_path).parent)
    data, md = build_summary(records, sandbox_path, work_dir)
    write_json(json_path, data)
    write_text(md_path, md)
