"""Live progress on Snakemake's console for jobs whose output goes to their log file.

A hook job's stdout/stderr go to ``<work_dir>/logs/<job>.log`` (hooks/runner.py). While the job
runs, :func:`heartbeat` reads the newest line of that log every ``$JUICER_SANDBOX_PROGRESS_EVERY``
seconds (default 30; 0 turns it off) and writes one line labelled with the job and its running time to
the console Snakemake shows (the stderr the job started with)::

    [anonymous/execution_train_raw] 1m30s: train anonymous/execution_train_raw:  42%|####  | 26/61 [...]

The newest line is the last ``\\r``-separated segment, so tqdm bars show their current state.
:func:`report_failure` prints, for an unexpected error, the log path and the traceback's last
lines (the log holds all of it).
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
import traceback

DEFAULT_EVERY = 30.0


def _every() -> float:
    try:
        return float(os.environ.get("JUICER_SANDBOX_PROGRESS_EVERY", DEFAULT_EVERY))
    except ValueError:
        return DEFAULT_EVERY


def last_line(path: str, tail: int = 4096) -> str:
    """The newest non-empty line of a log (tqdm's carriage-return updates count as lines)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - tail))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    parts = [p.strip() for p in text.replace("\r", "\n").split("\n")]
    parts = [p for p in parts if p]
    return parts[-1] if parts else ""


def _elapsed(seconds: float) -> str:
    m, sec = divmod(int(seconds), 60)
    return f"{m}m{sec:02d}s" if m else f"{sec}s"


def _write(fd: int, text: str) -> None:
    try:
        os.write(fd, text.encode("utf-8", "replace"))
    except OSError:
        pass


@contextlib.contextmanager
def heartbeat(log_path: str, job: str, console_fd: int, every: float | None = None):
    """While the block runs, echo the log's newest line to console_fd every ``every`` seconds."""
    every = _every() if every is None else every
    if every <= 0:
        yield
        return
    stop = threading.Event()

    start = time.monotonic()

    def loop() -> None:
        while not stop.wait(every):  # also when the line did not change: a silent job is still alive
            line = last_line(log_path) or "(no output yet)"
            _write(console_fd, f"[{job}] {_elapsed(time.monotonic() - start)}: {line[:200]}\n")

    thread = threading.Thread(target=loop, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def report_failure(exc: BaseException, job: str, log_path: str, console_fd: int | None = None, lines: int = 6) -> None:
    """One block on the console: the job, its log's path, and the traceback's last lines."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip().splitlines()
    text = (f"juicer-sandbox: job {job} failed unexpectedly ({type(exc).__name__}); full traceback in {log_path}\n"
            + "".join(f"    {ln}\n" for ln in tb[-lines:]))
    _write(2 if console_fd is None else console_fd, text)
