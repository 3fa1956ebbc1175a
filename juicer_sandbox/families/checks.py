"""What a family's job needs where it runs, checked at the job's start and listed by ``doctor``.

Four kinds of need, each with the command that provides it:

* ``env``: the family's modules (``Family.imports``) importable and its programs (``executables``) on
  ``PATH`` in the job's interpreter; provided by the family's env file ``envs/<env>.yaml``;
* ``code``: the third-party checkout (``Family.code``) present, with its marker file;
* ``weights``: every ``Family.weights`` key of the job's config names an existing local path (or a hub id
  already in one of the family's caches): model hubs are never contacted implicitly;
* ``gpu``: the node shows at least as many devices as the job asks for (``families.gpus_for``).

:func:`require` raises one :class:`~juicer_sandbox.errors.SandboxError` line naming all that is missing.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import SandboxError
from . import Family, get_dotted, gpus_for


@dataclass(frozen=True)
class Missing:
    kind: str  # env | code | weights | gpu
    what: str
    fix: str

    def line(self) -> str:
        return f"{self.kind}: {self.what} (provide it: {self.fix})"


def env_fix(fam: Family) -> str:
    return (f"install the pins of envs/{fam.env}.yaml into the job's environment, or let Snakemake build it: "
            f"--sdm conda, or --config 'envs={{mode: venv}}' (.venvs/{fam.env})")


def env_problems(fam: Family) -> list[Missing]:
    """Modules and programs of the family that this interpreter lacks (run inside the job's env)."""
    lacking = [m for m in fam.imports if importlib.util.find_spec(m) is None]
    lacking += [f"{x} (program)" for x in fam.executables if shutil.which(x) is None]
    if not lacking:
        return []
    return [Missing("env", f"{', '.join(lacking)} not installed in the {fam.env!r} env", env_fix(fam))]


def code_home(fam: Family, extra: dict) -> str | None:
    if fam.code is None:
        return None
    value = get_dotted(extra, fam.code.home_key) if fam.code.home_key else None
    return str(value) if value else os.path.join(fam.code.default_dir, fam.name)


def code_problem(fam: Family, extra: dict, skip: frozenset = frozenset()) -> Missing | None:
    if fam.code is None or (fam.code.home_key and fam.code.home_key.split(".")[0] in skip):
        return None
    home = code_home(fam, extra)
    marker = os.path.join(home, fam.code.marker) if fam.code.marker else home
    if os.path.exists(marker):
        return None
    key = f"extra_configs.{fam.code.home_key} = " if fam.code.home_key else ""
    what = f"{fam.name} code checkout {key}{home!r} " + ("has no " + fam.code.marker if os.path.isdir(home)
                                                         and fam.code.marker else "does not exist")
    return Missing("code", what, f"juicer-sandbox code fetch {fam.name} --dest {home} "
                                 f"({fam.code.repo} at {fam.code.commit[:12]})")


def _cached(fam: Family, ident: str) -> bool:
    for template in fam.weight_caches:
        path = os.path.expanduser(os.path.expandvars(template.format(id=ident, id_dashes=ident.replace("/", "--"))))
        if "$" not in path and os.path.exists(path):
            return True
    return False


def weight_problems(fam: Family, extra: dict, skip: frozenset = frozenset()) -> list[Missing]:
    out = []
    for key in fam.weights:
        if key.split(".")[0] in skip:
            continue  # arrives from an earlier job at run time
        value = get_dotted(extra, key)
        if value is None:
            continue  # not configured: the component's schema says whether it is required
        for v in (value if isinstance(value, list) else [value]):
            if not (os.path.exists(str(v)) or _cached(fam, str(v))):
                out.append(Missing("weights", f"extra_configs.{key} = {v!r} is not a local path"
                                   + (" nor in the family's caches" if fam.weight_caches else ""), fam.weights_hint))
    return out


def gpu_problem(fam: Family, extra: dict, devices: list[str]) -> Missing | None:
    need = gpus_for(fam, extra)
    if fam.gpu != "required" and need == 0:
        return None
    need = max(need, 1) if fam.gpu == "required" else need
    if len(devices) >= need:
        return None
    where = f"this node shows {len(devices)} ({', '.join(devices) or 'no CUDA device'})"
    return Missing("gpu", f"needs {need} GPU(s), {where}",
                   f"run it on a GPU node, e.g. --profile profiles/slurm (the job requests gpu={need}); or ask for "
                   f"fewer" + (f" with extra_configs.{fam.gpus_key}" if fam.gpus_key else ""))


def problems(fam: Family, extra: dict, *, devices: list[str] | None = None, skip: frozenset = frozenset(),
             check_env: bool = True) -> list[Missing]:
    """Everything missing for a job of this family; ``devices`` None skips the GPU check."""
    out = env_problems(fam) if check_env else []
    code = code_problem(fam, extra, skip)
    out += [code] if code else []
    out += weight_problems(fam, extra, skip)
    gpu = gpu_problem(fam, extra, devices) if devices is not None else None
    out += [gpu] if gpu else []
    return out


def require(fam: Family, type_name: str, extra: dict, devices: list[str]) -> None:
    """At a job's start: raise one line naming everything missing (and how to provide it)."""
    missing = problems(fam, extra, devices=devices)
    if missing:
        raise SandboxError(f"{type_name} ({fam.name} family) cannot start: " + "; ".join(m.line() for m in missing))


def code_state(fam: Family, extra: dict) -> str:
    """One phrase on the code checkout: absent, at the pinned commit, or at another one."""
    if fam.code is None:
        return "-"
    home = code_home(fam, extra)
    head = _git_head(Path(home))
    if not os.path.isdir(home):
        return f"{home} (absent)"
    if head is None:
        return f"{home} (not a git checkout; pinned {fam.code.commit[:12]})"
    return f"{home} @ {head[:12]}" + ("" if head == fam.code.commit else f" (pinned {fam.code.commit[:12]})")


def _git_head(home: Path) -> str | None:
    """HEAD's commit of a checkout, read from .git without running git."""
    git = home / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).is_file():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        return None
    return None
