"""What a job that runs Data-Juicer ops needs around them: op errors seen, imagededup importable.

**Op errors.** Data-Juicer 1.6.1 wraps each op (``skip_op_error``, on by default): a sample on which
an op raises (a video it cannot decode, a missing codec or program) is logged and *dropped*. A probe
whose every sample fails thus wrote an empty dataset with exit 0. :class:`OpErrors` collects those
log lines (from worker processes too: a file sink, appended to by each fork) so a job can say how
many samples were lost and why, and fail when nothing is left.

**imagededup without torchvision.** ``image_deduplicator`` hashes images with imagededup's
``PHash``/``DHash``/``WHash``/``AHash`` (numpy, scipy, PyWavelets, Pillow). The package imports its
CNN method and model helpers at import time, which need torchvision; torchvision's CPU build is not on
PyPI (PyPI's wheel needs CUDA torch and fails to load beside torch's CPU build). When torchvision
cannot be imported, :func:`load_imagededup_hashing` imports imagededup's own hashing module without
those two package ``__init__`` files, so Data-Juicer's ``LazyLoader('imagededup.methods')`` finds
the hash classes; the CNN method is then absent (Data-Juicer's op does not use it).
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from pathlib import Path

_ERROR_PREFIX = "An error occurred in "


class OpErrors:
    """Collect Data-Juicer's per-sample op error lines while a block runs (a context manager)."""

    def __init__(self, work_dir: str | os.PathLike):
        self.path = Path(work_dir) / "op_errors.log"
        self.lines: list[str] = []
        self._sink = None

    def __enter__(self) -> "OpErrors":
        from loguru import logger

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("", encoding="utf-8")
        self._sink = logger.add(str(self.path), level="ERROR", format="{message}",
                                filter=lambda record: record["message"].startswith(_ERROR_PREFIX))
        return self

    def __exit__(self, *exc) -> None:
        from loguru import logger

        logger.remove(self._sink)
        text = self.path.read_text(encoding="utf-8", errors="replace") if self.path.is_file() else ""
        # one line per error: the message up to Data-Juicer's ' -- Traceback' tail
        self.lines = [line.split(" -- ")[0][len(_ERROR_PREFIX):] for line in text.splitlines()
                      if line.startswith(_ERROR_PREFIX)]

    def summary(self) -> str:
        """'N op error(s), first: <op>: <message>' (empty when there were none)."""
        if not self.lines:
            return ""
        return f"{len(self.lines)} op error(s), first: {self.lines[0]}"


def _torchvision_loads() -> bool:
    if importlib.util.find_spec("torchvision") is None:
        return False
    try:
        import torchvision  # noqa: F401
    except Exception:  # PyPI's CUDA wheel beside torch's CPU build raises RuntimeError, not ImportError
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        return False
    return True


def load_imagededup_hashing() -> bool:
    """Make ``imagededup.methods`` importable for the hash methods; False when imagededup is absent."""
    if "imagededup.methods" in sys.modules:
        return True
    spec = importlib.util.find_spec("imagededup")
    if spec is None or not spec.origin:
        return False
    if _torchvision_loads():
        importlib.import_module("imagededup.methods")
        return True
    root = Path(spec.origin).parent
    importlib.import_module("imagededup")
    for sub in ("utils", "methods"):  # the packages, without their __init__ (which import torchvision)
        module = types.ModuleType(f"imagededup.{sub}")
        module.__path__ = [str(root / sub)]
        module.__package__ = module.__name__
        sys.modules[module.__name__] = module
    hashing = importlib.import_module("imagededup.methods.hashing")
    methods = sys.modules["imagededup.methods"]
    for name in ("PHash", "DHash", "WHash", "AHash"):
        setattr(methods, name, getattr(hashing, name))
    return True
