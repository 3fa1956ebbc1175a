"""Validation refuses what would hang it: alias bombs, huge matrices (before expanding them)."""
from __future__ import annotations

import pytest

from juicer_sandbox.config.sandbox import load_sandbox, load_yaml
from juicer_sandbox.errors import ConfigError

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))


def test_an_alias_bomb_is_refused_before_it_is_built(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB + "work_dir: out\n")
    with pytest.raises(ConfigError, match=r"bomb.yaml: refused: it expands to more than 200,000 values"):
        load_yaml(path)


def test_a_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "rec.yaml"
    path.write_text("a: &a [1, *a]\n")
    with pytest.raises(ConfigError, match="refers to itself"):
        load_yaml(path)


def test_ordinary_aliases_still_work(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {lr: 0.1}\nother: *b\n")
    assert load_yaml(path) == {"base": {"lr": 0.1}, "other": {"lr": 0.1}}


def test_a_huge_foreach_is_refused_before_expanding(tmp_path):
    path = tmp_path / "sb.yaml"
    path.write_text("matrix: {a: [" + ", ".join(map(str, range(1000))) + "], b: ["
                    + ", ".join(map(str, range(1000))) + "]}\n"
                    "execution_job_configs:\n  - hook: ProcessDataHook\n    meta_name: p_{a}_{b}\n"
                    "    foreach: [a, b]\n    dj_configs: {dataset_path: x.jsonl, process: []}\n")
    with pytest.raises(ConfigError, match=r"execution_job_configs\[0\]\.foreach: foreach expands to 1,000,000 jobs, "
                                          r"over the limit of 20,000 \(raise it with"):
        load_sandbox(path)


@pytest.mark.parametrize("path, what", [
    ("/", "root directory"), ("/proc/x", "system directory /proc"), ("/etc", "system directory /etc"),
    ("/usr/local/out", "system directory /usr"),
])
def test_system_directories_are_refused(path, what):
    from juicer_sandbox.config.bounds import check_output_path

    with pytest.raises(ConfigError, match=what):
        check_output_path(path, "sb.yaml", "work_dir", is_dir=True)


def test_dangling_symlinks_and_files_are_refused(tmp_path):
    from juicer_sandbox.config.bounds import check_output_path

    (tmp_path / "link").symlink_to(tmp_path / "gone")
    with pytest.raises(ConfigError, match="is a symlink to .*which does not exist"):
        check_output_path(str(tmp_path / "link" / "out.jsonl"), "sb.yaml", "export_path")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="exists and is not a directory"):
        check_output_path(str(tmp_path / "file"), "sb.yaml", "work_dir", is_dir=True)
    check_output_path(str(tmp_path / "new" / "deeper"), "sb.yaml", "work_dir", is_dir=True)


def test_job_and_trial_counts_name_the_way_to_raise_them():
    from juicer_sandbox.config.bounds import check_job_count, check_trial_count

    with pytest.raises(ConfigError, match=r"sb.yaml: max_jobs: the plan has 20,001 jobs, .*`max_jobs: 20001`"):
        check_job_count(20_001, {}, "sb.yaml")
    check_job_count(20_001, {"max_jobs": 30_000}, "sb.yaml")
    with pytest.raises(ConfigError, match=r"1,000,000 trials"):
        check_trial_count(1_000_000, 3, {}, "sb.yaml")
