"""User-facing errors.

A :class:`SandboxError` is a mistake in the user's input (config, recipe, data path).
The CLI and the Snakefile print its message without a traceback and exit non-zero.
Anything else that escapes is a bug and keeps its traceback.
"""
from __future__ import annotations


class SandboxError(Exception):
    """An error the user can fix; printed without a traceback."""


class ConfigError(SandboxError):
    """A problem in a config file, located by file and dotted key path."""

    def __init__(self, message: str, file: str | None = None, key: str | None = None):
        self.file = file
        self.key = key
        self.detail = message
        where = ""
        if file:
            where += f"{file}"
        if key:
            where += f"{': ' if where else ''}{key}"
        super().__init__(f"{where}: {message}" if where else message)


class ComponentConfigError(ConfigError):
    """Bad `extra_configs` for a component; the key is relative to extra_configs."""
