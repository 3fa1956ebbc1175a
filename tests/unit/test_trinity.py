"""Trinity-RFT: the command line, the Trainer monitor lines it prints, and the checkpoint directory the original
meant to return (its `yaml.safe_load()` without an argument always failed)."""
from __future__ import annotations

import pytest

from juicer_sandbox.components import trinity
from juicer_sandbox.components.registry import get_component
from juicer_sandbox.errors import SandboxError
from juicer_sandbox.families import family_of
from juicer_sandbox.families.checks import env_problems


def test_command_line_is_the_originals():
    assert trinity.trinity_command("cfg/gsm8k.yaml") == ["trinity", "run", "--config", "cfg/gsm8k.yaml"]


def test_monitor_lines_are_parsed_as_literals():
    line = ("(Trainer pid=3839503) INFO 05-08 11:11:13 monitor.py:96] Step 12: {'perf/throughput': 1532.5, "
            "'critic/score/mean': 0.41, 'actor/pg_loss': -0.013}")
    assert trinity.parse_monitor_line(line) == (12, {"perf/throughput": 1532.5, "critic/score/mean": 0.41,
                                                     "actor/pg_loss": -0.013})
    json_style = '(Trainer pid=7) INFO 05-08 11:11:14 monitor.py:96] Step 13: {"perf/throughput": 10, "x": true}'
    assert trinity.parse_monitor_line(json_style) is None  # `true` is JSON, not a Python literal: skipped, no crash
    assert trinity.parse_monitor_line("(Explorer pid=8) INFO ... monitor.py:96] Step 1: {}") is None
    assert trinity.parse_monitor_line("(Trainer pid=9) INFO t monitor.py:96] Step 2: __import__('os')") is None


def test_checkpoint_root_comes_from_the_trinity_config(tmp_path):
    cfg = tmp_path / "trinity.yaml"
    cfg.write_text("project: rft\nname: gsm8k\ncheckpoint_root_dir: /ckpt/trinity\nmodel:\n  model_path: /m\n")
    assert trinity.checkpoint_root(str(cfg)) == "/ckpt/trinity"
    cfg.write_text("- not a mapping\n")
    with pytest.raises(SandboxError, match="is not a mapping"):
        trinity.checkpoint_root(str(cfg))


def test_registered_in_its_family_and_its_absence_is_named():
    comp = get_component("model_train", "trinity-rft")
    assert comp.schema["required"] == ["trinity_config_path"]
    fam = family_of("model_train", "trinity-rft")
    assert fam.name == "trinity" and fam.env == "trinity"
    [missing] = env_problems(fam)  # trinity-rft is not installed here (a GPU stack)
    assert missing.what == "trinity, trinity (program) not installed in the 'trinity' env"
    assert "envs/trinity.yaml" in missing.fix
