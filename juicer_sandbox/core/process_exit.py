"""End a process as soon as its work is on disk, without the interpreter's teardown.

A job process that imported Data-Juicer (torch, Arrow, Ray, datasets) spends 0.4-1 s after its last
line tearing down thousands of modules, and Snakemake waits for it before starting the next job.
:func:`exit_now` does what the interpreter's exit does first, in its order (wait for the non-daemon
threads, after the ``threading`` exit hooks such as thread pools' shutdown; then the ``atexit``
handlers: logging, loguru, multiprocessing and ``tempfile`` clean-ups, file locks), flushes the
console, and ends the process with ``os._exit``, skipping only the module teardown. Called last, by
the job scripts' entry point once the record (the file Snakemake checks) is written and closed, and
by ``juicer-sandbox run`` once Snakemake (run in its process) returned and the no-op stamp is written.
"""
from __future__ import annotations

import atexit
import os
import sys
import threading


def exit_now(code: int = 0) -> None:
    shutdown = getattr(threading, "_shutdown", None)
    run_handlers = getattr(atexit, "_run_exitfuncs", None)
    if shutdown is None or run_handlers is None:  # not CPython: a normal exit
        raise SystemExit(code)
    _flush()
    shutdown()
    run_handlers()
    _flush()
    os._exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
