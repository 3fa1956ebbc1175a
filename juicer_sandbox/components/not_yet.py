"""Component types of the original DJ-Sandbox that juicer-sandbox does not have yet: none at present.

A type listed here fails at plan time with one line that says so (instead of "not a known type"); every
type of the original's factories exists now (the GPU stacks run in their model families'
environments, see juicer_sandbox/families), so the table is empty until the original adds one.
"""
from __future__ import annotations

NOT_YET: dict[str, tuple[str, ...]] = {}


def not_yet_available(factory: str, type_name) -> str | None:
    if type_name in NOT_YET.get(factory, ()):
        return (f"component type {type_name!r} ({factory}) of the original DJ-Sandbox is not available yet "
                f"in juicer-sandbox")
    return None
