"""Live progress: the newest log line reaches the console, labelled with the job; failures show log path + traceback."""
from __future__ import annotations

import os
import re
import time

from juicer_sandbox.progress import heartbeat, last_line, report_failure


def test_last_line_takes_the_newest_tqdm_state(tmp_path):
    log = tmp_path / "job.log"
    log.write_text("INFO start\ntrain job:  10%|#   | 1/10\rtrain job:  20%|##  | 2/10\r")
    assert last_line(str(log)) == "train job:  20%|##  | 2/10"
    assert last_line(str(tmp_path / "missing.log")) == ""


def test_heartbeat_echoes_new_lines_to_the_console(tmp_path):
    log = tmp_path / "job.log"
    log.write_text("")
    r, w = os.pipe()
    with heartbeat(str(log), "anonymous/05_train", w, every=0.05):
        for step in range(3):
            with open(log, "a") as fh:
                fh.write(f"train:  {step}/3\r")
            time.sleep(0.3)  # a few heartbeat periods per step
    os.close(w)
    out = os.read(r, 65536).decode()
    os.close(r)
    lines = out.splitlines()
    assert lines and all(re.match(r"^\[anonymous/05_train\] \d+s: train:  \d/3$", ln) for ln in lines), lines
    assert lines[-1].endswith("train:  2/3")


def test_heartbeat_off(tmp_path):
    r, w = os.pipe()
    with heartbeat(str(tmp_path / "x.log"), "j", w, every=0):
        pass
    os.close(w)
    assert os.read(r, 100) == b""
    os.close(r)


def test_failure_report_names_the_log_and_the_error(tmp_path):
    def inner():
        raise ValueError("bad value 42")

    try:
        inner()
    except ValueError as exc:
        r, w = os.pipe()
        report_failure(exc, "anonymous/03_process", "outputs/logs/anonymous/03_process.log", w)
        os.close(w)
        out = os.read(r, 65536).decode()
        os.close(r)
    assert out.startswith("juicer-sandbox: job anonymous/03_process failed unexpectedly (ValueError); "
                          "full traceback in outputs/logs/anonymous/03_process.log")
    assert "ValueError: bad value 42" in out and "inner" in out
