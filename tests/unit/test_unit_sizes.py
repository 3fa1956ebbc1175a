"""Units that fit in a head: no module of the package over 400 lines, no function over 80 (issue 12).

Lines are physical lines of the file; a function's length runs from its ``def`` (decorators excluded) to its
last line, nested functions included, as ``ast`` reports them.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "juicer_sandbox"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80

#: Offenders in files other helpers are restructuring at the time of writing. The lead empties this after
#: merging their work; an entry that is no longer an offender fails the test, so the list cannot go stale.
KNOWN_OFFENDERS: frozenset[str] = frozenset()


def offenders(package: Path = PACKAGE) -> dict[str, str]:
    """``path`` (a module) or ``path:function`` -> what is too long."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent).as_posix()
        source = path.read_text(encoding="utf-8")
        n = len(source.splitlines())
        if n > MAX_MODULE_LINES:
            found[rel] = f"{n} lines (max {MAX_MODULE_LINES})"
        for node in ast.walk(ast.parse(source, filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found[f"{rel}:{node.name}"] = f"line {node.lineno}: {length} lines (max {MAX_FUNCTION_LINES})"
    return found


def test_no_module_or_function_too_long():
    found = offenders()
    new = {k: v for k, v in found.items() if k not in KNOWN_OFFENDERS}
    assert not new, "too long (split along the seams the code already has):\n" + "\n".join(
        f"  {k}: {v}" for k, v in sorted(new.items()))


def test_known_offenders_list_is_not_stale():
    fixed = sorted(KNOWN_OFFENDERS - set(offenders()))
    assert not fixed, f"no longer too long, remove from KNOWN_OFFENDERS: {fixed}"


def test_the_check_sees_long_units(tmp_path):
    pkg = tmp_path / "juicer_sandbox"
    pkg.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (pkg / "long_function.py").write_text(f"def too_long():\n{body}\n\n\ndef short():\n    return 1\n")
    (pkg / "long_module.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    (pkg / "fine.py").write_text("x = 1\n" * MAX_MODULE_LINES)
    assert set(offenders(pkg)) == {"juicer_sandbox/long_function.py:too_long", "juicer_sandbox/long_module.py"}
