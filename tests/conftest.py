"""Settings every test starts from."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_install_guard_from_earlier_tests(monkeypatch):
    """dj/engine.py's forbid_installs() sets PIP_NO_INDEX and UV_OFFLINE in the process that runs
    Data-Juicer (a job). Tests that call it in-process must not hand that on to later tests'
    subprocesses: an environment build there would find no package index."""
    for var in ("PIP_NO_INDEX", "UV_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
