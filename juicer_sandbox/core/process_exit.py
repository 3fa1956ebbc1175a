"""End a job's process as soon as its work is on disk, without the interpreter's teardown.

A job process that imported Data-Juicer (torch, Arrow, Ray, datasets) spends 0.4-1 s after its last
line tearing down thousands of modules, and Snakemake waits for it before starting the next job.
:func:`exit_now` does what an exit must (flush the console, run the ``atexit`` handlers: logging,
loguru, multiprocessing and ``tempfile`` clean-ups, released file locks) and then ends the process
with ``os._exit``, skipping only the teardown. Called last by the job scripts' entry points, after
the record (the file Snakemake checks) was written and closed.
"""
from __future__ import annotations

import atexit
import os
import sys


def exit_now(code: int = 0) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    run_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_handlers is None:  # not CPython: a normal exit
        raise SystemExit(code)
    run_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)
