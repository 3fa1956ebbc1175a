"""Job-runtime helpers (juicer_sandbox.hooks.runner), stats reuse and the summary, hand-checked.

No Snakemake and no Data-Juicer processing.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from juicer_sandbox.dj.stats_reuse import op_signature, recipe_signatures, stale_stat_keys
from juicer_sandbox.errors import SandboxError
from juicer_sandbox.hooks.runner import Run, lookup, normalise_outputs, publish, resolve_configs, rewrite_paths
from juicer_sandbox.summary import build_summary


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def absp(p) -> str:
    return os.path.normpath(os.path.abspath(str(p)))


def spec(dj=None, extra=None, refs=None, local=None, dj_from=None, **kw):
    s = {"job": "p/01_x", "hook": "ProcessDataHook", "dj_configs": dj, "extra_configs": extra,
         "refs": refs or {}, "local": local or {}, "dj_from": dj_from, "exports": {}}
    s.update(kw)
    return s


def ref(job, output, *deeper):
    return {"job": job, "output": output, "deeper": list(deeper)}


# --------------------------------------------------------------------------- resolve_configs


def test_resolve_order_whole_config_then_key_refs_then_local(here):
    (here / "up.yaml").write_text(yaml.safe_dump({"nested": {"x": 0, "y": 0}, "np": 1, "keep": "from_file"}))
    upstream = {"p/00_up": {"outputs": {"recipe": "up.yaml", "val": 5, "np": 2}}}
    s = spec(
        dj={"inline": "is replaced", "nested": {"x": 1}},
        # the key reference is listed before the whole-config one and is still applied after it
        refs={"dj_configs.nested.y": ref("p/00_up", "val"), "dj_configs.np": ref("p/00_up", "np"),
              "dj_configs": ref("p/00_up", "recipe")},
        local={"dj_configs.np": 3, "dj_configs.nested.x": 99},
    )
    dj, extra = resolve_configs(s, upstream)
    assert dj == {"nested": {"x": 99, "y": 5}, "np": 3, "keep": "from_file"}
    assert extra == {}


def test_resolve_does_not_modify_the_spec(here):
    upstream = {"u": {"outputs": {"o": {"a": [1, 2]}}}}
    s = spec(dj={"n": {"k": 1}}, extra={"e": [1]}, refs={"dj_configs.v": ref("u", "o")},
             local={"dj_configs.n.k": 2, "extra_configs.e.0": 5})
    before = json.dumps(s, sort_keys=True)
    dj, extra = resolve_configs(s, upstream)
    assert dj == {"n": {"k": 2}, "v": {"a": [1, 2]}} and extra == {"e": [5]}
    assert json.dumps(s, sort_keys=True) == before


def test_resolve_key_reference_with_deeper_parts(here):
    upstream = {"u": {"outputs": {"res_1": {"paths": ["a.jsonl", "b.jsonl"]}}}}
    dj, _ = resolve_configs(spec(dj={}, refs={"dj_configs.dataset_path": ref("u", "res_1", "paths", "1")}), upstream)
    assert dj == {"dataset_path": "b.jsonl"}
    assert lookup(upstream, ref("u", "res_1", "paths")) == ["a.jsonl", "b.jsonl"]


def test_resolve_whole_extra_config_and_local(here):
    (here / "extra.json").write_text(json.dumps({"type": "t", "k": 1}))
    upstream = {"u": {"outputs": {"res_1": "extra.json"}}}
    _, extra = resolve_configs(spec(extra={"old": 1}, refs={"extra_configs": ref("u", "res_1")},
                                    local={"extra_configs.k": 2}), upstream)
    assert extra == {"type": "t", "k": 2}


def test_resolve_recipe_from_a_published_path_reads_the_artifact(here):
    art = here / "wd" / "p" / "00_refine" / "artifacts"
    art.mkdir(parents=True)
    (art / "k.yaml").write_text(yaml.safe_dump({"dataset_path": "out/data.jsonl", "np": 1}))
    (art / "data").mkdir()
    upstream = {"p/00_refine": {"outputs": {"res_1": "out/k.yaml"},
                                "aliases": {absp("out/k.yaml"): str(art / "k.yaml"),
                                              absp("out/data.jsonl"): str(art / "data.jsonl")}}}
    # out/k.yaml does not exist under the user path: only the artifact does
    dj, _ = resolve_configs(spec(dj_from=absp("out/k.yaml"), local={"dj_configs.np": 4}), upstream)
    assert dj == {"dataset_path": str(art / "data.jsonl"), "np": 4}
    dj, _ = resolve_configs(spec(refs={"dj_configs": ref("p/00_refine", "res_1")}), upstream)
    assert dj == {"dataset_path": str(art / "data.jsonl"), "np": 1}


def test_resolve_local_on_a_missing_recipe_creates_it(here):
    dj, extra = resolve_configs(spec(dj=None, local={"dj_configs.np": 2, "extra_configs.a.b": 1}), {})
    assert dj == {"np": 2} and extra == {"a": {"b": 1}}


def test_resolve_whole_config_must_be_a_mapping(here):
    (here / "list.yaml").write_text("- 1\n- 2\n")
    upstream = {"u": {"outputs": {"res_1": "list.yaml", "n": 3}}}
    with pytest.raises(SandboxError):
        resolve_configs(spec(refs={"dj_configs": ref("u", "res_1")}), upstream)
    with pytest.raises(SandboxError):
        resolve_configs(spec(refs={"dj_configs": ref("u", "n")}), upstream)


# --------------------------------------------------------------------------- rewrite_paths


def test_rewrite_equal_and_under_a_directory(here):
    aliases = {absp("out/k.yaml"): "/wd/a/k.yaml", absp("out/pools"): "/wd/b/pools"}
    assert rewrite_paths("out/k.yaml", aliases) == "/wd/a/k.yaml"
    assert rewrite_paths("./out/../out/k.yaml", aliases) == "/wd/a/k.yaml"
    assert rewrite_paths(absp("out/k.yaml"), aliases) == "/wd/a/k.yaml"
    assert rewrite_paths("out/pools", aliases) == "/wd/b/pools"
    assert rewrite_paths("out/pools/", aliases) == "/wd/b/pools"
    assert rewrite_paths("out/pools/sub/x.jsonl", aliases) == "/wd/b/pools/sub/x.jsonl"


def test_rewrite_leaves_other_strings_alone(here):
    aliases = {absp("out/pools"): "/wd/b/pools"}
    assert rewrite_paths("out/pools2/x.jsonl", aliases) == "out/pools2/x.jsonl"  # a sibling, not under it
    assert rewrite_paths("out", aliases) == "out"  # a parent
    assert rewrite_paths("text", aliases) == "text"
    assert rewrite_paths("", aliases) == ""


def test_rewrite_walks_containers_and_keeps_other_types(here):
    aliases = {absp("out/a.jsonl"): "/art/a.jsonl"}
    obj = {"dataset_path": ["out/a.jsonl", "data/b.jsonl"], "n": 3, "f": 0.5, "none": None, "flag": True,
           "nested": {"p": "out/a.jsonl"}}
    assert rewrite_paths(obj, aliases) == {"dataset_path": ["/art/a.jsonl", "data/b.jsonl"], "n": 3, "f": 0.5,
                                           "none": None, "flag": True, "nested": {"p": "/art/a.jsonl"}}
    assert obj["dataset_path"][0] == "out/a.jsonl"  # the input is not modified


def test_rewrite_without_aliases_returns_the_input():
    obj = {"a": "out/x"}
    assert rewrite_paths(obj, {}) is obj


# --------------------------------------------------------------------------- normalise_outputs


def test_tuple_gives_many_outputs():
    assert normalise_outputs(("a", 1, [1, 2]), ["x", "y", "z"]) == {"x": "a", "y": 1, "z": [1, 2]}


def test_one_element_list_is_unwrapped():
    assert normalise_outputs(["only.jsonl"], ["res_1"]) == {"res_1": "only.jsonl"}
    assert normalise_outputs((["a"], ["b", "c"]), ["r1", "r2"]) == {"r1": "a", "r2": ["b", "c"]}


def test_a_list_for_one_name_is_one_output():
    assert normalise_outputs(["a", "b"], ["res_1"]) == {"res_1": ["a", "b"]}


@pytest.mark.parametrize("value", [0.0, 0, None, [], "", {}])
def test_falsy_outputs_are_kept(value):
    # the original crashed on a falsy return value (e.g. an evaluator score of exactly 0.0)
    out = normalise_outputs(value, ["score"])
    assert list(out) == ["score"] and out["score"] == value and type(out["score"]) is type(value)


def test_zero_score_in_a_tuple_is_kept():
    assert normalise_outputs(([], 0.0), ["per_file", "best"]) == {"per_file": [], "best": 0.0}


@pytest.mark.parametrize("value,keys", [(("a", "b"), ["x"]), ("a", ["x", "y"]), ((), ["x"]), (("a",), [])])
def test_count_mismatch_is_an_error(value, keys):
    with pytest.raises(SandboxError, match=r"returned \d+ value\(s\) but the job names \d+ output\(s\)"):
        normalise_outputs(value, keys)


# --------------------------------------------------------------------------- publish


def _artifact(here, name="x.jsonl", text="new\n"):
    art = here / "wd" / "p" / "01_x" / "artifacts"
    art.mkdir(parents=True, exist_ok=True)
    (art / name).write_text(text)
    return art / name


def test_publish_refuses_to_overwrite_a_user_file(here):
    src = _artifact(here)
    (here / "out").mkdir()
    (here / "out" / "x.jsonl").write_text("precious\n")
    s = spec(exports={"dj_configs.export_path": "out/x.jsonl"})
    with pytest.raises(SandboxError, match="refusing to overwrite out/x.jsonl"):
        publish(s, {"dj_configs.export_path": str(src)}, "wd", None, {})
    assert (here / "out" / "x.jsonl").read_text() == "precious\n"


def test_publish_writes_and_then_overwrites_its_own_publication(here):
    src = _artifact(here, text="v1\n")
    s = spec(exports={"dj_configs.export_path": "out/x.jsonl"})
    published, _ = publish(s, {"dj_configs.export_path": str(src)}, "wd", None, {})
    assert published == {absp("out/x.jsonl"): str(src.resolve())}
    assert (here / "out" / "x.jsonl").read_text() == "v1\n"
    ledgers = list((here / "wd" / ".published").iterdir())
    entry = json.loads(ledgers[0].read_text())
    assert len(ledgers) == 1 and entry["job"] == "p/01_x" and entry["path"] == absp("out/x.jsonl")
    assert entry["artifact"] == "p/01_x/artifacts/x.jsonl" and entry["hash"].startswith("sha256:")

    src.write_text("v2\n")  # the job reran
    publish(s, {"dj_configs.export_path": str(src)}, "wd", None, {})
    assert (here / "out" / "x.jsonl").read_text() == "v2\n"


def test_a_hand_edited_export_is_kept_aside_and_a_deleted_one_restored(here):
    from juicer_sandbox.hooks.exports import restore_exports

    src = _artifact(here, text="v1\n")
    s = spec(exports={"dj_configs.export_path": "out/x.jsonl"})
    publish(s, {"dj_configs.export_path": str(src)}, "wd", None, {})
    (here / "out" / "x.jsonl").write_text("my notes\n")  # edited by hand
    warnings = []
    publish(s, {"dj_configs.export_path": str(src)}, "wd", None, {}, warnings)
    kept = [p for p in (here / "out").iterdir() if ".edited-" in p.name]
    assert len(kept) == 1 and kept[0].read_text() == "my notes\n" and "kept as" in warnings[0]
    assert (here / "out" / "x.jsonl").read_text() == "v1\n"
    (here / "out" / "x.jsonl").unlink()
    assert restore_exports("wd") == [absp("out/x.jsonl")]
    assert (here / "out" / "x.jsonl").read_text() == "v1\n"


def test_publish_refuses_a_path_another_job_published(here):
    src = _artifact(here)
    publish(spec(exports={"dj_configs.export_path": "out/x.jsonl"}), {"dj_configs.export_path": str(src)}, "wd",
            None, {})
    other = spec(job="p/02_y", exports={"dj_configs.export_path": "out/x.jsonl"})
    with pytest.raises(SandboxError, match="refusing to overwrite"):
        publish(other, {"dj_configs.export_path": str(src)}, "wd", None, {})


def test_publish_a_directory_replaces_the_old_one(here):
    art = here / "wd" / "p" / "01_x" / "artifacts" / "pools"
    art.mkdir(parents=True)
    (art / "a.jsonl").write_text("a\n")
    (art / "b.jsonl").write_text("b\n")
    s = spec(hook="DataPoolManipulationHook", exports={"extra_configs.export_path": "out/pools"})
    publish(s, {"extra_configs.export_path": str(art)}, "wd", None, {})
    assert sorted(os.listdir(here / "out" / "pools")) == ["a.jsonl", "b.jsonl"]
    (art / "b.jsonl").unlink()
    publish(s, {"extra_configs.export_path": str(art)}, "wd", None, {})
    assert sorted(os.listdir(here / "out")) == ["pools"]  # no temporary or old copies left
    assert os.listdir(here / "out" / "pools") == ["a.jsonl"]


def test_publish_a_path_known_only_at_run_time(here):
    # a recipe produced by another job names the export path: it comes from the resolved configs
    src = _artifact(here, "processed.jsonl")
    published, _ = publish(spec(), {"dj_configs.export_path": str(src)}, "wd",
                        {"export_path": "out/late.jsonl"}, {})
    assert list(published) == [absp("out/late.jsonl")] and (here / "out" / "late.jsonl").exists()


def test_publish_a_probe_exports_the_stats_file_name(here):
    src = _artifact(here, "raw_stats.jsonl")
    published, _ = publish(spec(hook="ProbeViaAnalyzerHook"), {"dj_configs.export_path": str(src)}, "wd",
                        {"export_path": "out/probe.jsonl"}, {})
    assert list(published) == [absp("out/probe_stats.jsonl")]


def test_publish_without_a_user_path_does_nothing(here):
    src = _artifact(here)
    assert publish(spec(), {"dj_configs.export_path": str(src)}, "wd", {}, {})[0] == {}
    assert not (here / "wd" / ".published").exists()


# --------------------------------------------------------------------------- stats reuse


TEXT = {"process": [{"character_repetition_filter": {"rep_len": 10, "max_ratio": 0.5}},
                    {"text_length_filter": {"min_len": 10}}]}


def test_op_signature_drops_thresholds_and_execution_args():
    assert op_signature("character_repetition_filter", {"rep_len": 10, "max_ratio": 0.2, "num_proc": 4}) == \
        {"op": "character_repetition_filter", "args": {"rep_len": 10}}
    # defaults are filled in, so an explicit default equals an omitted one
    assert op_signature("character_repetition_filter", {}) == op_signature("character_repetition_filter",
                                                                          {"rep_len": 10})
    assert recipe_signatures(TEXT) == [{"op": "character_repetition_filter", "args": {"rep_len": 10}},
                                       {"op": "text_length_filter", "args": {}}]


def test_threshold_only_differences_reuse_every_stat():
    provenance = recipe_signatures(TEXT)
    changed = {"process": [{"character_repetition_filter": {"rep_len": 10, "min_ratio": 0.1, "max_ratio": 0.2}},
                           {"text_length_filter": {"min_len": 50, "max_len": 100, "batch_size": 7}}]}
    assert stale_stat_keys(changed, provenance) == set()
    assert stale_stat_keys({"process": ["character_repetition_filter", "text_length_filter"]}, provenance) == set()


def test_changed_rep_len_marks_char_rep_ratio_stale():
    provenance = recipe_signatures(TEXT)
    changed = {"process": [{"character_repetition_filter": {"rep_len": 5, "max_ratio": 0.5}},
                           {"text_length_filter": {"min_len": 10}}]}
    assert stale_stat_keys(changed, provenance) == {"char_rep_ratio"}


def test_an_op_not_in_the_provenance_is_stale():
    provenance = recipe_signatures(TEXT)
    assert stale_stat_keys({"process": [{"word_repetition_filter": {}}]}, provenance) == {"word_rep_ratio"}


# --------------------------------------------------------------------------- summary


def _record(job, hook, outputs, metrics, wall=1.0):
    return {"job": job, "pipeline": "anonymous", "meta_name": job.split("_")[-1], "hook": hook, "status": "done",
            "outputs": outputs, "metrics": metrics, "wall_s": wall}


def test_summary_hides_internal_outputs_and_compares_probes():
    before = _record("anonymous/probe_a", "ProbeViaAnalyzerHook", {"res_1": "a.jsonl", "__stats__": "s.jsonl"},
                     {"num_samples": 10, "overall": {"text_len": {"mean": 12.0, "50%": 11.0, "std": 2.5}}})
    after = _record("anonymous/evaluation_b", "ProbeViaAnalyzerHook", {"res_1": "b.jsonl"},
                    {"num_samples": 4, "overall": {"text_len": {"mean": 20.0, "50%": 19.5, "std": 1.25}}})
    score = _record("anonymous/evaluation_acc", "EvaluateDataHook", {"res_1": 0.0}, {"res_1": 0.0, "flag": True})
    data, md = build_summary([before, after, score], "sb.yaml", "wd")
    assert data["sandbox"] == "sb.yaml" and data["work_dir"] == "wd"
    assert [j["outputs"] for j in data["jobs"]] == [{"res_1": "a.jsonl"}, {"res_1": "b.jsonl"}, {"res_1": 0.0}]
    assert "| anonymous/evaluation_acc | EvaluateDataHook | 1.0 | res_1=0 |" in md  # bools are not metrics
    assert "Samples: 10 → 4 (40.0% kept)" in md
    assert "| text_len | 12 | 20 | 11 | 19.5 | 2.5 | 1.25 |" in md


# --------------------------------------------------------------------------- a hook on the runner


def test_evaluate_data_hook_runs_the_accuracy_evaluator(here):
    from juicer_sandbox.hooks.evaluate import evaluate_data

    (here / "pred.jsonl").write_text('{"p": 1, "g": 1}\n{"p": 2, "g": 3}\n')
    (here / "art").mkdir()
    run = Run({"job": "anonymous/evaluation_acc"}, None,
              {"type": "accuracy", "predicted_dataset_path": "pred.jsonl", "predicted_label_key": "p",
               "ground_truth_label_key": "g"}, Path("art"), Path("scratch"))
    result = evaluate_data(run)
    assert result.outputs[1] == 0.5


def test_the_field_a_stat_was_computed_on_is_part_of_its_provenance():
    """Stats of one text field never filter another (issue 14: text_keys was ignored)."""
    provenance = recipe_signatures({**TEXT, "text_keys": "title"})
    assert stale_stat_keys(TEXT, provenance) == {"char_rep_ratio", "text_len"}
    assert stale_stat_keys({**TEXT, "text_keys": ["title", "body"]}, provenance) == set()
    explicit = {"process": [{"character_repetition_filter": {"rep_len": 10, "text_key": "title"}},
                            {"text_length_filter": {"text_key": "title"}}]}
    assert stale_stat_keys(explicit, provenance) == set()
    assert recipe_signatures({**TEXT, "text_keys": "text"}) == recipe_signatures(TEXT)


def test_a_provenance_sidecar_that_does_not_parse_vouches_for_nothing(tmp_path):
    from juicer_sandbox.dj.stats_reuse import read_provenance, sidecar

    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "a", "__dj__stats__": {"text_len": 1}}\n')
    sidecar(data).write_text('[{"op": "text_length_fil')  # truncated
    assert read_provenance(data) == []
    assert stale_stat_keys(TEXT, read_provenance(data)) == {"char_rep_ratio", "text_len"}
