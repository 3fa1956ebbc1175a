"""mse / accuracy data evaluators (DJ-Sandbox semantics), hand-computed."""
from __future__ import annotations

import gzip
import json

import pytest

from juicer_sandbox.components.evaluators import (
    BETTER,
    DATA_EVALUATORS,
    OUTPUTS,
    SCHEMAS,
    accuracy,
    mse,
    run_data_evaluator,
    validate_config,
)
from juicer_sandbox.errors import ComponentConfigError, SandboxError
from juicer_sandbox.io import write_jsonl


def test_registry_and_schemas():
    assert set(DATA_EVALUATORS) == set(SCHEMAS) == set(BETTER) == set(OUTPUTS) == {"mse", "accuracy"}
    assert OUTPUTS == {"mse": 2, "accuracy": 2}  # (per_file, best)
    assert BETTER == {"mse": "min", "accuracy": "max"}
    for s in SCHEMAS.values():
        assert s["additionalProperties"] is False


def test_mse_hand_computed_with_format_errors(tmp_path):
    a = tmp_path / "a.jsonl"
    write_jsonl(a, [
        {"pred": "3", "meta": {"truth": 1}},     # (3-1)^2 = 4
        {"pred": 2.5, "meta": {"truth": "2.5"}},  # 0
        {"pred": "n/a", "meta": {"truth": 1}},    # format error
        {"pred": 1, "meta": {}},                  # missing truth: format error
        {"pred": " 0 ", "meta": {"truth": 2}},    # 4
        {"pred": "nan", "meta": {"truth": 2}},    # non-finite: format error
    ])
    b = tmp_path / "b.jsonl.gz"
    with gzip.open(b, "wt", encoding="utf-8") as fh:
        for p, t in [(1, 1), (2, 2)]:
            fh.write(json.dumps({"pred": p, "meta": {"truth": t}}) + "\n")
    cfg = {"type": "mse", "predicted_dataset_path": [str(a), str(b)],
           "predicted_value_key": "pred", "ground_truth_value_key": "meta.truth"}
    per_file, best = mse(cfg)
    assert per_file[0] == {"pred_path": str(a), "gt_path": str(a), "mse": pytest.approx(8 / 3),
                           "format_error": 3, "rows": 6, "valid": 3}
    assert per_file[1]["mse"] == 0.0 and per_file[1]["format_error"] == 0
    assert best == 0.0 and best is not None  # an exact 0.0 is the best value, not "missing"
    assert run_data_evaluator("mse", cfg) == (per_file, best)


def test_mse_separate_ground_truth_files(tmp_path):
    p, g = tmp_path / "p.jsonl", tmp_path / "g.jsonl"
    write_jsonl(p, [{"y": 1}, {"y": 2}, {"y": 4}])
    write_jsonl(g, [{"t": 0}, {"t": 2}, {"t": 1}])
    res, best = mse({"predicted_dataset_path": str(p), "ground_truth_dataset_path": str(g),
                     "predicted_value_key": "y", "ground_truth_value_key": "t"})
    assert res[0]["mse"] == pytest.approx((1 + 0 + 9) / 3) and best == pytest.approx(10 / 3)
    write_jsonl(g, [{"t": 0}])
    with pytest.raises(SandboxError, match="row by row"):
        mse({"predicted_dataset_path": str(p), "ground_truth_dataset_path": str(g),
             "predicted_value_key": "y", "ground_truth_value_key": "t"})
    # all rows unparsable: no value for the file, best is None
    write_jsonl(g, [{"t": "x"}] * 3)
    res, best = mse({"predicted_dataset_path": str(p), "ground_truth_dataset_path": str(g),
                     "predicted_value_key": "y", "ground_truth_value_key": "t"})
    assert res[0]["mse"] is None and res[0]["format_error"] == 3 and best is None


def test_accuracy_hand_computed(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_jsonl(a, [{"p": "yes", "g": "yes"}, {"p": 1, "g": "1"}, {"p": "no", "g": "yes"}, {"p": True, "g": "True"}])
    write_jsonl(b, [{"p": "x", "g": "y"}, {"g": "y"}])
    res, best = accuracy({"predicted_dataset_path": [str(a), str(b)],
                          "predicted_label_key": "p", "ground_truth_label_key": "g"})
    assert res[0]["accuracy"] == 0.75 and res[0]["correct"] == 3 and res[0]["format_error"] == 0
    assert res[1]["accuracy"] == 0.0 and res[1]["format_error"] == 1 and res[1]["rows"] == 2
    assert best == 0.75
    # best of all-zero files is 0.0, not None
    _, best0 = accuracy({"predicted_dataset_path": str(b), "predicted_label_key": "p",
                         "ground_truth_label_key": "g"})
    assert best0 == 0.0 and best0 is not None


def test_config_errors_name_the_key(tmp_path):
    ok = tmp_path / "a.jsonl"
    write_jsonl(ok, [{"v": 1}])
    base = {"predicted_dataset_path": str(ok), "predicted_value_key": "v", "ground_truth_value_key": "v"}
    cases = [
        ({**base, "extra": 1}, "extra"),
        ({k: v for k, v in base.items() if k != "predicted_value_key"}, "predicted_value_key"),
        ({**base, "predicted_dataset_path": []}, "predicted_dataset_path"),
        ({**base, "predicted_dataset_path": str(tmp_path / "missing.jsonl")}, "predicted_dataset_path"),
        ({**base, "ground_truth_dataset_path": [str(ok), str(ok)]}, "ground_truth_dataset_path"),
        ({**base, "type": "accuracy"}, "type"),
    ]
    for cfg, key in cases:
        with pytest.raises(ComponentConfigError) as ei:
            mse(cfg)
        assert ei.value.key == key, (cfg, str(ei.value))
    assert validate_config("mse", base)["ground_truth_dataset_path"] is None
    # keys every hook adds are accepted (and unused)
    assert mse({**base, "export_path": str(tmp_path / "art"), "seed": 3})[1] == 0.0
    with pytest.raises(ComponentConfigError, match="did you mean 'predicted_value_key'"):
        mse({**base, "predicted_valu_key": "v"})
    with pytest.raises(ComponentConfigError) as ei:
        run_data_evaluator("bleu", base)
    assert ei.value.key == "type"
