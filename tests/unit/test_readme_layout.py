"""The README's "## Layout" block matches the tree (issue 12: docs true).

Every path the block names exists; every top-level package and module of ``juicer_sandbox/`` and every top-level
folder of the repository is named on a line of its own; a package whose modules the block lists has all of them
listed. A line's first word is its path (``a/{b,c}.py`` names ``a/b.py`` and ``a/c.py``); indented lines continue
the line above.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "juicer_sandbox"


def layout_paths(readme: str) -> list[str]:
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"^```\n(.*?)^```$", section, re.S | re.M)
    assert block, "README.md: no code block under ## Layout"
    paths = []
    for line in block.group(1).splitlines():
        if not line.strip() or line[0].isspace():
            continue
        paths += expand(line.split()[0])
    return paths


def expand(word: str) -> list[str]:
    m = re.search(r"\{([^{}]*)\}", word)
    if not m:
        return [word]
    return [p for alt in m.group(1).split(",") for p in expand(word[:m.start()] + alt + word[m.end():])]


def top_level_folders() -> set[str]:
    try:
        files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
        return {f.split("/", 1)[0] for f in files.splitlines() if "/" in f}
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: what is on disk, minus tool folders
        return {d.name for d in REPO.iterdir() if d.is_dir() and not d.name.startswith((".", "_"))
                and not (d / "pyvenv.cfg").exists() and not d.name.endswith(".egg-info")}


def test_expand_braces():
    assert expand("a/{b,c}.py") == ["a/b.py", "a/c.py"]
    assert expand("x/") == ["x/"]
    text = "intro\n## Layout\n\n```\nfoo/   one\n  more\nbar/{a,b}.py  two\n```\n## Next\n"
    assert layout_paths(text) == ["foo/", "bar/a.py", "bar/b.py"]


def test_every_named_path_exists():
    missing = [p for p in layout_paths((REPO / "README.md").read_text(encoding="utf-8"))
               if not (REPO / p.rstrip("/")).exists() or (p.endswith("/") and not (REPO / p).is_dir())]
    assert not missing, f"README.md ## Layout names paths that do not exist: {missing}"


def test_every_top_level_package_module_and_folder_is_named():
    named = {p.rstrip("/") for p in layout_paths((REPO / "README.md").read_text(encoding="utf-8"))}
    pkg = REPO / PACKAGE
    expected = {f"{PACKAGE}/{p.name}" for p in pkg.iterdir()
                if (p.suffix == ".py" and p.is_file()) or (p / "__init__.py").is_file()}
    expected |= top_level_folders() - {PACKAGE}
    missing = sorted(expected - named)
    assert not missing, f"README.md ## Layout does not name: {missing}"


def test_listed_packages_list_all_their_modules():
    named = {p for p in layout_paths((REPO / "README.md").read_text(encoding="utf-8")) if p.endswith(".py")}
    listed = {str(Path(p).parent) for p in named if Path(p).parent != Path(PACKAGE)}
    unlisted = sorted(f"{d}/{m.name}" for d in listed for m in (REPO / d).glob("*.py")
                      if m.name != "__init__.py" and f"{d}/{m.name}" not in named)
    assert not unlisted, f"README.md ## Layout lists some modules of their package but not: {unlisted}"
