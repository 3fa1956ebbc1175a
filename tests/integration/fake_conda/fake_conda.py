"""A stand-in for the `conda` command, for tests only (conda cannot be installed on the CI machine).

It answers the calls Snakemake's `--sdm conda` makes (conda --version, conda info --json, conda config
--get channel_priority --json, conda env create --file F --prefix P) and builds P as a virtual
environment from exactly the `pip:` entries of F (juicer_sandbox.envs.build_venv: uv or pip; conda-only
entries are skipped and logged). Everything else -- env hashing, deployment under --conda-prefix,
activation through <conda_prefix>/bin/activate, the script preamble -- is Snakemake's own code.

The built venv gets a sitecustomize that refuses paths from outside the venv and the workflow which
Snakemake's script preamble appends (its own sys.path): on a real machine those belong to another
Python, so a job must find everything it imports in its environment (or the workflow directory).
"""
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent  # plays conda's prefix: bin/activate lives here
sys.path.insert(0, str(ROOT.parents[2]))  # the repository, for juicer_sandbox.envs

GUARD = '''
import os, sys
_ALLOWED = [os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, *os.environ.get("PYTHONPATH", "").split(os.pathsep)) if p]


class _GuardedPath(list):
    """Snakemake's preamble does sys.path.extend(<its own sys.path>): keep only what this env may see."""

    def _ok(self, p):
        rp = os.path.realpath(p)
        return any(rp == a or rp.startswith(a + os.sep) for a in _ALLOWED) or "/.snakemake/" in rp or \\
            os.path.basename(rp) == "scripts"

    def extend(self, paths):
        super().extend(p for p in paths if self._ok(p))


sys.path = _GuardedPath(sys.path)
'''


def main(argv):
    if argv[:1] == ["--version"]:
        print("conda 24.9.2")
    elif argv[:2] == ["info", "--json"]:
        print(json.dumps({"conda_prefix": str(ROOT), "platform": "linux-64", "conda_version": "24.9.2"}))
    elif argv[:2] == ["config", "--get"]:
        print(json.dumps({"get": {"channel_priority": "strict"}, "rc_path": None, "success": True, "warnings": []}))
    elif argv[:1] == ["clean"]:
        pass  # no package tarballs: pip/uv caches are theirs
    elif argv[:2] == ["env", "create"]:
        spec = prefix = None
        for i, a in enumerate(argv):
            if a == "--file":
                spec = argv[i + 1].strip('"')
            elif a.startswith("--file="):
                spec = a.split("=", 1)[1].strip('"')
            elif a == "--prefix":
                prefix = argv[i + 1].strip('"')
            elif a.startswith("--prefix="):
                prefix = a.split("=", 1)[1].strip('"')
        from juicer_sandbox.envs import build_venv

        log = prefix + ".fake-conda.log"
        build_venv(spec, prefix, prefix + ".fake-conda.lock.txt", log)
        site = next(Path(prefix, "lib").glob("python3*/site-packages"))
        (site / "sitecustomize.py").write_text(GUARD)
        with open(os.environ.get("FAKE_CONDA_RECORD", os.devnull), "a") as fh:
            fh.write(json.dumps({"spec": spec, "prefix": prefix}) + "\n")
    else:
        print(f"fake conda: unsupported call {argv}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
