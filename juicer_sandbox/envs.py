"""Per-rule-family software environments without conda: one virtual environment per env file.

The rule families' ``envs/<env>.yaml`` files are conda env files (for ``--sdm conda`` where conda
exists). Where it does not, the same files drive an honest alternative, chosen by the workflow
config (``config/config.yaml`` or ``--config 'envs={mode: venv}'``)::

    envs:
      mode: shared     # shared: every rule runs in Snakemake's own environment (default)
                       # venv:   a rule runs in .venvs/<env>, built from envs/<env>.yaml
      dir: .venvs      # where the virtual environments go (relative to the working directory)
      specs: null      # directory holding <env>.yaml; default: the workflow's envs/
      installer: auto  # auto (uv if found, else pip) | uv | pip

``rules/envs.smk`` builds ``<dir>/<env>/`` and ``<dir>/<env>.lock.txt`` (the frozen package list)
as outputs of a rule whose input is the env file, so editing an env file rebuilds its environment,
and every job taking the lock as input reruns when the frozen list changed.

How a job gets into its environment:

* ``shell:`` rules call ``python_for(env, config)`` (``.venvs/<env>/bin/python`` in venv mode,
  Snakemake's interpreter in shared mode);
* ``script:`` rules are run by Snakemake with its own interpreter; the script calls
  ``maybe_reexec(smk, "module:function", *args)`` first. In venv mode that writes what the job
  needs from the ``snakemake`` object (input, output, log, params, ... as JSON) to a job file and
  runs ``<venv python> -m juicer_sandbox.envs run <job file>``, which calls ``function`` with a
  stand-in object offering the same attributes. The venv does not need Snakemake or this package
  installed: only ``juicer_sandbox`` itself is put on the child's path.

Only the ``pip:`` part of an env file can be installed this way. ``python`` must match Snakemake's
interpreter (the venv is built from it; a different version is reported in the build log) and
other conda packages (compilers, CUDA toolkits, ...) are skipped with a note in the build log.
Package sources are pip's own configuration (index-url, extra-index-url, find-links, constraint,
cert), handed to uv, which does not read pip's configuration — this is how a local wheel such as a
CPU build of torch in a find-links directory is found by uv exactly as by pip.

This module imports only the standard library (and ``.errors``) at the top: the child process
runs it inside the venv, which may hold nothing but the env file's packages.
"""
from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .errors import SandboxError
from .pip_sources import find_uv, parse_pip_config, pip_sources, uv_source_args  # noqa: F401 (API)

MODES = ("shared", "venv")
INSTALLERS = ("auto", "uv", "pip")
DEFAULTS = {"mode": "shared", "dir": ".venvs", "specs": None, "installer": "auto"}
LOCK_SUFFIX = ".lock.txt"


class EnvError(SandboxError):
    """A problem with an env file or an environment build (message meant for the user)."""


# --------------------------------------------------------------------------- settings

def settings(config: dict | None) -> dict:
    """The ``envs:`` block of the workflow config with defaults filled in, checked."""
    raw = (config or {}).get("envs") or {}
    if not isinstance(raw, dict):
        raise EnvError(f"config envs: expected a mapping, got {raw!r}")
    unknown = set(raw) - set(DEFAULTS)
    if unknown:
        raise EnvError(f"config envs: unknown key(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    out = {**DEFAULTS, **raw}
    if out["mode"] not in MODES:
        raise EnvError(f"config envs.mode: {out['mode']!r} is not one of {', '.join(MODES)}")
    if out["installer"] not in INSTALLERS:
        raise EnvError(f"config envs.installer: {out['installer']!r} is not one of {', '.join(INSTALLERS)}")
    return out


def venv_mode(config: dict | None) -> bool:
    return settings(config)["mode"] == "venv"


def venv_dir(env: str, config: dict | None) -> str:
    """Where env's virtual environment lives (relative to the working directory unless dir is absolute)."""
    return os.path.join(settings(config)["dir"], env)


def lock_path(env: str, config: dict | None) -> str:
    return venv_dir(env, config) + LOCK_SUFFIX


def lock_input(env: str, config: dict | None) -> list[str]:
    """The input a rule of env's family takes: the env's lock file in venv mode, nothing in shared mode."""
    return [lock_path(env, config)] if venv_mode(config) else []


def python_for(env: str, config: dict | None) -> str:
    """The interpreter a job of env's family runs with (for ``shell:`` rules)."""
    if venv_mode(config):
        return os.path.join(venv_dir(env, config), "bin", "python")
    return sys.executable


def rule_helpers(config: dict | None):
    """``env_lock(env)`` and ``env_python(env)`` bound to the workflow config (for rules/envs.smk)."""

    def env_lock(env: str) -> list[str]:
        return lock_input(env, config)

    def env_python(env: str) -> str:
        return python_for(env, config)

    return env_lock, env_python


def spec_path(env: str, config: dict | None, default_dir: str) -> str:
    """The env file for env: ``<envs.specs>/<env>.yaml``, by default in the workflow's envs/."""
    specs = settings(config)["specs"] or default_dir
    return os.path.join(os.path.abspath(specs), f"{env}.yaml")


# --------------------------------------------------------------------------- env files

def read_env_file(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """(conda entries, pip entries) of a conda env file."""
    import yaml  # Snakemake's environment has it; the child process never gets here

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise EnvError(f"{path}: cannot read env file ({exc})") from None
    deps = data.get("dependencies") if isinstance(data, dict) else None
    if not isinstance(deps, list):
        raise EnvError(f"{path}: no 'dependencies:' list")
    conda, pip = [], []
    for dep in deps:
        if isinstance(dep, dict) and set(dep) == {"pip"} and isinstance(dep["pip"], list):
            pip.extend(str(p) for p in dep["pip"])
        elif isinstance(dep, str):
            conda.append(dep)
        else:
            raise EnvError(f"{path}: unexpected dependency entry {dep!r}")
    return conda, pip


_CONDA_SPEC = re.compile(r"^\s*(?:[\w.-]+::)?([A-Za-z0-9_.-]+)\s*(.*)$")


def conda_name(entry: str) -> tuple[str, str]:
    """('python', '=3.11') for 'python =3.11' (also 'conda-forge::python=3.11')."""
    m = _CONDA_SPEC.match(entry)
    if not m:
        return entry.strip(), ""
    return m.group(1), m.group(2).strip()


def python_mismatch(conda: list[str]) -> str | None:
    """A note when the env file asks for a Python other than the interpreter the venv is built from."""
    have = "%d.%d.%d" % sys.version_info[:3]
    for entry in conda:
        name, spec = conda_name(entry)
        if name != "python" or not spec:
            continue
        want = re.match(r"^={0,2}\s*(\d+(?:\.\d+)*)(?:\.\*)?$", spec)
        if not want:
            return f"env file asks for python {spec} (not checked), the venv uses Snakemake's python {have}"
        if (have + ".").startswith(want.group(1) + "."):
            return None
        return f"env file asks for python {spec}, the venv uses Snakemake's python {have}"
    return None


# --------------------------------------------------------------------------- building

def build_venv(spec: str, venv: str, lock: str, log: str, installer: str = "auto") -> None:
    """Create ``venv`` from the env file ``spec`` and write its frozen package list to ``lock``.

    Called by rule ``build_venv`` (rules/envs.smk). Every step and note goes to ``log``.
    """
    conda, pip_entries = read_env_file(spec)
    use_uv = installer in ("auto", "uv")
    uv = find_uv() if use_uv else None
    if installer == "uv" and not uv:
        raise EnvError("envs.installer is uv but no uv executable was found (pip install uv, or set $UV)")
    venv_p, lock_p = Path(venv), Path(lock)
    if venv_p.exists():
        shutil.rmtree(venv_p)
    lock_p.parent.mkdir(parents=True, exist_ok=True)
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as fh:
        def note(msg: str) -> None:
            fh.write(f"[build_venv] {msg}\n")
            fh.flush()

        def sh(cmd: list[str], env: dict | None = None) -> str:
            note("$ " + shlex.join(cmd))
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=fh, text=True,
                                  env={**os.environ, **(env or {})})
            if proc.returncode != 0:
                fh.write(proc.stdout)
                raise EnvError(f"building {venv} from {spec} failed (exit {proc.returncode}): "
                               f"{shlex.join(cmd)}; see {log}")
            return proc.stdout

        note(f"env file: {spec}")
        note(f"interpreter: {sys.executable} (Python {'.'.join(map(str, sys.version_info[:3]))})")
        mismatch = python_mismatch(conda)
        if mismatch:
            note(f"WARNING: {mismatch}")
        for entry in conda:
            name = conda_name(entry)[0]
            if name == "python":
                note(f"conda entry {entry!r}: the venv is built from Snakemake's interpreter instead")
            elif name == "pip":
                note(f"conda entry {entry!r}: skipped (the installer below is used instead)")
            else:
                note(f"conda entry {entry!r}: skipped, conda-only (a venv holds pip packages; use --sdm conda)")
        note(f"{len(pip_entries)} pip requirement(s): {', '.join(pip_entries) or '(none)'}")
        py = str(venv_p / "bin" / "python")
        requirements = venv_p / "requirements.txt"
        if uv:
            src_args, src_env = uv_source_args(pip_sources())
            note(f"installer: uv ({uv}); pip's sources for uv: {shlex.join(src_args) or '(defaults)'}")
            sh([uv, "venv", "--quiet", "--python", sys.executable, str(venv_p)])
            requirements.write_text("".join(f"{p}\n" for p in pip_entries), encoding="utf-8")
            if pip_entries:
                sh([uv, "pip", "install", "--python", py, "-r", str(requirements), *src_args], src_env)
            frozen = sh([uv, "pip", "freeze", "--python", py])
        else:
            note("installer: pip (reads its own configuration)")
            sh([sys.executable, "-m", "venv", str(venv_p)])
            requirements.write_text("".join(f"{p}\n" for p in pip_entries), encoding="utf-8")
            if pip_entries:
                sh([py, "-m", "pip", "install", "--disable-pip-version-check", "-r", str(requirements)])
            frozen = sh([py, "-m", "pip", "freeze", "--all", "--disable-pip-version-check"])
        version = subprocess.run([py, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        tmp = lock_p.with_name(lock_p.name + ".tmp")
        tmp.write_text(f"# venv {venv_p.name} from {Path(spec).name}\n# python {version}\n" + frozen,
                       encoding="utf-8")
        os.replace(tmp, lock_p)
        note(f"done: {lock}")


# --------------------------------------------------------------------------- running a script: job in a venv

class Names(list):
    """Stand-in for Snakemake's Namedlist: a list whose named parts are also attributes."""

    def __init__(self, items=(), names: dict | None = None):
        super().__init__(items)
        self._names = dict(names or {})

    def __getattr__(self, name):
        try:
            return self.__dict__["_names"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key):
        if isinstance(key, str):
            return self._names[key]
        return super().__getitem__(key)

    def get(self, key, default=None):
        return self._names.get(key, default)

    def keys(self):
        return self._names.keys()

    def items(self):
        return self._names.items()


class Job:
    """Stand-in for the ``snakemake`` object of a ``script:`` job, rebuilt from a job file."""

    def __init__(self, data: dict):
        for part in ("input", "output", "params", "wildcards", "resources", "log"):
            d = data[part]
            setattr(self, part, Names(d["items"], d["names"]))
        self.threads = data["threads"]
        self.config = data["config"]
        self.rule = data["rule"]
        self.scriptdir = data.get("scriptdir")
        self.bench_iteration = data.get("bench_iteration")


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def _names(nl) -> dict:
    named = dict(nl.items()) if hasattr(nl, "items") else {}
    return {"items": _plain(list(nl)), "names": {k: _plain(v) for k, v in named.items()}}


def snapshot(smk) -> dict:
    """What a job needs from the ``snakemake`` object, as JSON-able data."""
    return {
        "input": _names(smk.input), "output": _names(smk.output), "params": _names(smk.params),
        "wildcards": _names(smk.wildcards), "resources": _names(smk.resources), "log": _names(smk.log),
        "threads": smk.threads, "config": _plain(smk.config), "rule": smk.rule,
        "scriptdir": getattr(smk, "scriptdir", None), "bench_iteration": getattr(smk, "bench_iteration", None),
    }


def venv_of_job(smk) -> Path | None:
    """The venv a job must run in: the one whose lock file is its ``env_lock`` input (None: shared)."""
    lock = smk.input.get("env_lock") if hasattr(smk.input, "get") else None
    if isinstance(lock, list):
        lock = lock[0] if lock else None
    if not lock:
        return None
    if not str(lock).endswith(LOCK_SUFFIX):
        raise EnvError(f"env_lock input {lock!r} does not end in {LOCK_SUFFIX}")
    return Path(str(lock)[: -len(LOCK_SUFFIX)]).absolute()


def in_venv(venv: Path) -> bool:
    return os.path.realpath(sys.prefix) == os.path.realpath(venv)


def maybe_reexec(smk, entry: str, *args: Any) -> bool:
    """Run ``entry(job, *args)`` in the job's venv; False when the caller should just go on here.

    ``entry`` is ``"module:function"``. Returns False in shared mode (no ``env_lock`` input) and
    when already running inside the venv; otherwise runs the job in a child process and returns
    True when it succeeded (raises SystemExit with the child's exit code when it failed).
    """
    venv = venv_of_job(smk)
    if venv is None or in_venv(venv):
        return False
    python = venv / "bin" / "python"
    if not python.exists():
        raise EnvError(f"{python} does not exist: build it with rule build_venv (snakemake {venv}{LOCK_SUFFIX})")
    tmp_root = smk.resources.get("tmpdir") if hasattr(smk.resources, "get") else None
    workdir = Path(tempfile.mkdtemp(prefix="juicer-sandbox-job-", dir=tmp_root or None))
    (workdir / "path").mkdir()
    package = Path(__file__).resolve().parent
    os.symlink(package, workdir / "path" / package.name)  # only this package, not Snakemake's site-packages
    job_file = workdir / "job.json"
    job_file.write_text(json.dumps({**snapshot(smk), "entry": entry, "args": _plain(list(args)),
                                    "cwd": os.getcwd()}, indent=1), encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(workdir / "path")] +
                                        ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    env.pop("PYTHONHOME", None)
    sys.stdout.flush()
    sys.stderr.flush()
    proc = subprocess.run([str(python), "-m", "juicer_sandbox.envs", "run", str(job_file)], env=env)
    if proc.returncode != 0:
        print(f"juicer-sandbox: job ran in {venv} and failed (exit {proc.returncode}); job file kept: {job_file}",
              file=sys.stderr)
        raise SystemExit(proc.returncode)
    shutil.rmtree(workdir, ignore_errors=True)
    return True


def run_job_file(path: str) -> None:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    os.chdir(data["cwd"])
    module, _, func = data["entry"].partition(":")
    print(f"juicer-sandbox: rule {data['rule']} runs {data['entry']} in {sys.prefix}", file=sys.stderr, flush=True)
    fn = getattr(importlib.import_module(module), func)
    fn(Job(data), *data["args"])


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) == 2 and argv[0] == "run":
        run_job_file(argv[1])
        return 0
    if len(argv) == 5 and argv[0] == "build":  # build SPEC VENV LOCK LOG (by hand; the rule calls build_venv)
        build_venv(*argv[1:])
        return 0
    print("usage: python -m juicer_sandbox.envs run JOB_FILE | build ENV_FILE VENV_DIR LOCK LOG", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
