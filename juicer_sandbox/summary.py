"""The run's summary: summary.json (every job) and summary.md (what changed, for people)."""
from __future__ import annotations

from pathlib import Path

from .io import read_json, write_json, write_text


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def _seconds(v) -> str:
    if not isinstance(v, (int, float)):
        return ""
    return f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def _drop_rules(refine: dict) -> dict[tuple[int, str], dict]:
    """(op index, stat) -> {name, stat, lo, hi, all}: the refined bounds as numbers (sizes and ratios
    written as strings are read as the op reads them), per stat (an op may bound two)."""
    from .dj import stat_map

    rules: dict[tuple[int, str], dict] = {}
    every = _all_media_ops(refine)
    for c in (refine.get("metrics") or {}).get("changes") or []:
        if not isinstance(c, dict) or c.get("action") not in ("set", "kept") or not c.get("stat"):
            continue
        binding = next((b for b in stat_map.STAT_MAP.get(c.get("op_name"), ()) if b.stat == c["stat"]), None)
        value = stat_map.parse_bound(binding, c.get("new")) if binding else None
        if value is None:
            continue
        rule = rules.setdefault((int(c.get("op_index", 0)), c["stat"]),
                                {"name": c.get("op_name"), "stat": c["stat"], "lo": None, "hi": None,
                                 "all": int(c.get("op_index", 0)) in every})
        rule["lo" if c.get("arg") == binding.min_arg else "hi"] = value
    return rules


def _all_media_ops(refine: dict) -> set[int]:
    """Indexes of the refined recipe's ops written with any_or_all: all (the default is any)."""
    path = str((refine.get("outputs") or {}).get("res_1") or "")
    if not path.endswith((".yaml", ".yml", ".json")) or not Path(path).is_file():
        return set()
    import yaml

    try:
        process = (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("process") or []
    except (yaml.YAMLError, OSError, AttributeError):
        return set()
    return {i for i, op in enumerate(process) if isinstance(op, dict) and len(op) == 1
            and isinstance(next(iter(op.values())), dict) and next(iter(op.values())).get("any_or_all") == "all"}


def _fails(rule: dict, value) -> bool:
    """The sample fails the bound: a number outside it; for one value per medium (a list), every medium
    outside it (Data-Juicer's any_or_all: any, the default) or one medium outside it (all)."""
    def out(v):
        return (rule["lo"] is not None and v < rule["lo"]) or (rule["hi"] is not None and v > rule["hi"])

    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return out(value)
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        return any(map(out, value)) if rule["all"] else all(map(out, value))
    return False


def filter_drops(probe: dict, refine: dict) -> list[str]:
    """Markdown: how many probed samples each filter of the refined recipe drops, in recipe order.

    Recomputed from the probe's per-sample stats and the refine job's bounds (inclusive, as Data-Juicer's
    filters keep them; per medium for image/video stats); a sample counts against the first bound it fails.
    """
    from .io import iter_jsonl

    stats_path = (probe.get("outputs") or {}).get("__stats__")
    rules = _drop_rules(refine)
    if not stats_path or not Path(stats_path).is_file() or not rules:
        return []
    order = sorted(rules, key=lambda key: key[0])  # recipe order; an op's stats as refined
    dropped = {key: 0 for key in order}
    total = 0
    for row in iter_jsonl(stats_path):
        total += 1
        st = row.get("__dj__stats__") or {}
        for key in order:
            if _fails(rules[key], st.get(rules[key]["stat"])):
                dropped[key] += 1
                break
    lines = [f"### Samples each filter drops ({refine['job']})", "",
             f"Of {total} probed samples, in recipe order; a sample counts against the first filter it fails.", "",
             "| filter | stat | keeps | dropped | left |", "|---|---|---|---|---|"]
    left = total
    for key in order:
        op = rules[key]
        left -= dropped[key]
        bounds = f"{_fmt(op['lo']) if op['lo'] is not None else '−∞'} … {_fmt(op['hi']) if op['hi'] is not None else '∞'}"
        lines.append(f"| {op['name']} | {op['stat']} | {bounds} | {dropped[key]} | {left} |")
    return lines + [""]


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


def model_comparison(records: list[dict]) -> list[str]:
    """Markdown table of model evaluations grouped by arm: mean ± std (n) over seeds."""
    import statistics

    arms: dict[str, list[dict]] = {}
    for r in records:
        m = r.get("metrics") or {}
        if r["hook"] == "EvaluateModelHook" and "loss" in m:
            arms.setdefault(str(m.get("arm") or r["meta_name"]), []).append(m)
    if not arms:
        return []
    lines = ["## Models trained on each data arm", "",
             "Validation on held-out clean text; lower is better. mean ± std (n seeds).", "",
             "| arm | loss (nats/token) | perplexity | bits per byte | n |", "|---|---|---|---|---|"]

    def cell(values, digits):
        values = [v for v in values if isinstance(v, (int, float)) and v == v]  # no None / NaN
        if not values:
            return "n/a"
        mean = statistics.fmean(values)
        return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"

    def mean_loss(ms):
        losses = [m["loss"] for m in ms if isinstance(m.get("loss"), (int, float)) and m["loss"] == m["loss"]]
        return statistics.fmean(losses) if losses else float("inf")

    for arm, ms in sorted(arms.items(), key=lambda kv: mean_loss(kv[1])):
        lines.append(f"| {arm} | {cell([m.get('loss') for m in ms], 3)} | {cell([m.get('perplexity') for m in ms], 1)} | "
                     f"{cell([m.get('bits_per_byte') for m in ms], 3)} | {len(ms)} |")
    return lines + [""]


# The metrics worth a glance in the job table (all metrics are in summary.json).
_HEADLINE = ("num_samples", "samples_in", "samples_out", "bounds_set", "k", "tokens", "tokens_per_second",
             "final_train_loss", "loss", "perplexity", "bits_per_byte", "threshold", "res_1", "res_2")


def _scalar_metrics(metrics: dict) -> str:
    parts = [f"{k}={_fmt(metrics[k])}" for k in _HEADLINE
             if isinstance(metrics.get(k), (int, float)) and not isinstance(metrics.get(k), bool)]
    return ", ".join(parts)


def stale_lines(stale: list[str]) -> list[str]:
    if not stale:
        return []
    return (["## Stale job directories", "",
             "Left by jobs no longer in this config (not current results); "
             "`juicer-sandbox clean-stale <sandbox>` removes them:", ""]
            + [f"- `{job_id}`" for job_id in stale] + [""])


def build_summary(records: list[dict], sandbox_path: str, work_dir: str,
                  stale: list[str] | None = None) -> tuple[dict, str]:
    jobs = [{k: r.get(k) for k in ("job", "pipeline", "meta_name", "hook", "status", "outputs", "metrics", "wall_s",
                                                                          "timing")}
            for r in records]
    for j in jobs:
        j["outputs"] = {k: v for k, v in (j["outputs"] or {}).items() if not k.startswith("__")}
    data = {"sandbox": sandbox_path, "work_dir": work_dir, "jobs": jobs, "stale_jobs": list(stale or [])}
    md = [f"# Sandbox summary: {sandbox_path}", "", f"Results under `{work_dir}`.", ""]
    # the result first: the arms' evaluations and rankings, then how the data changed, then every job
    warnings = [f"- {j['job']}: {w}" for j in jobs for w in (j["metrics"] or {}).get("warnings") or []]
    if warnings:  # skipped bad records, empty outputs, edited exports: never silent
        md += ["## Warnings", "", *warnings, ""]
    md += model_comparison(records)
    from .report import ranking_summary_lines

    md += ranking_summary_lines(records)
    md += _data_changes(records)
    md += ["## Jobs", "", "| job | hook | wall s | metrics |", "|---|---|---|---|"]
    for j in jobs:
        md.append(f"| {j['job']} | {j['hook']} | {_seconds(j['wall_s'])} | {_scalar_metrics(j['metrics'] or {})} |")
    md.append("")
    md += stale_lines(list(stale or []))
    return data, "\n".join(md)


def _data_changes(records: list[dict]) -> list[str]:
    """Per pipeline: each k-sigma refine's drops on the probe it read (same meta_name), and the pipeline's
    first probe against its later ones."""
    md: list[str] = []
    pipelines = list(dict.fromkeys(r.get("pipeline") for r in records))
    for pipeline in pipelines:
        mine = [r for r in records if r.get("pipeline") == pipeline]
        probes = [r for r in mine if r["hook"] == "ProbeViaAnalyzerHook"]
        refines = [r for r in mine if r["hook"] == "RefineRecipeViaKSigmaHook"]
        for refine in refines:
            probe = next((p for p in probes if p.get("meta_name") == refine.get("meta_name")), None)
            if probe is not None:
                md += filter_drops(probe, refine)
        for later in probes[1:]:
            md += probe_comparison(probes[0], later)
    return ["## Data before and after processing", "", *md] if md else []


def write_summary(context_paths: list[str], sandbox_path: str, json_path: str, md_path: str,
                  stale: list[str] | None = None) -> None:
    records = [read_json(p) for p in context_paths]
    work_dir = str(Path(json_path).parent)
    data, md = build_summary(records, sandbox_path, work_dir, stale)
    write_json(json_path, data)
    write_text(md_path, md)
