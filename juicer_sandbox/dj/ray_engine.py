"""Run a Data-Juicer recipe on a Ray cluster: the Ray twin of `engine.run_recipe`.

Data-Juicer 1.6.1's RayExecutor (`executor_type: ray`) connects to the cluster at `ray_address`
(`ray.init(address)`), reads the dataset with Ray Data, runs the ops as Ray tasks and keeps the
result in Ray's object store. We skip its exporter (it drops the stats column and writes shards
named by Ray) and write the rows ourselves, stats included, exactly like the default executor path.

`ray_address`: `None` keeps the recipe's `ray_address`, else Data-Juicer's default `auto` (the
cluster in `RAY_ADDRESS`, or the one `ray start --head` started on this machine); `host:port` of a
head's GCS (what `ray start --head --port P` prints); `ray://host:10001` (Ray Client); `local`
(start a throwaway Ray inside this job; note Ray 2.60 then writes ~/.ray/auth_token). Nothing is
installed at run time: the ops run in the workers' existing Python environment (no runtime_env
pip/conda), so the cluster's nodes need the same pinned environment.

Deduplicators: Data-Juicer 1.6.1 refuses its default deduplicators under Ray ("Operator type
'Deduplicator' does not support executor mode 'ray'") and ships Ray twins instead; :func:`ray_ops`
runs `image_deduplicator`, `document_deduplicator` and `video_deduplicator` as `ray_image_deduplicator`,
`ray_document_deduplicator` and `ray_video_deduplicator` (same hashes, one Ray actor set remembering
the hashes seen; the first sample of a hash in input order is kept while the data fit one block, else
whichever arrives first). `consider_text: true` has no twin and is refused. The twins' hashers travel
pickled to the workers, which import imagededup afresh: without torchvision they need the hash-only
import (`runtime.load_imagededup_hashing`), so the driver connects with it as Ray's
`worker_process_setup_hook`, pickled by value (the workers need Data-Juicer, not this package).

Token authentication (Ray 2.60 turns it on for `ray start --head` whenever ~/.ray/auth_token exists,
and for every local `ray.init()`): a driver only sends the token when RAY_AUTH_MODE=token is set in
its environment (token from ~/.ray/auth_token, RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN); set them
for the Snakemake run, otherwise the connection fails with "Failed to connect to Ray cluster".
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from .engine import _rows, init_cfg
from .recipe import iter_ops

log = logging.getLogger(__name__)

# Data-Juicer sets this process-wide when it parses a Ray recipe; it switches ops to Ray mode.
_RAY_MODE_ENV = "RAY_JOB"


def run_recipe_ray(recipe: dict, work_dir: Path, out_path: Path, ray_address: str | None = None) -> int:
    """Process the dataset with Data-Juicer's RayExecutor; write the rows (with stats) to out_path.

    Returns the number of rows written.
    """
    import ray

    from ..errors import SandboxError
    from ..io import write_jsonl
    from data_juicer.core.executor.ray_executor import RayExecutor

    work_dir, out_path = Path(work_dir), Path(out_path)
    recipe = ray_ops(recipe)
    recipe["executor_type"] = "ray"
    recipe["ray_address"] = ray_address or recipe.get("ray_address") or "auto"
    # Ray's default execution may reorder blocks; keep the input order so reruns write the same bytes.
    ray.data.DataContext.get_current().execution_options.preserve_order = True

    _check_reachable(recipe["ray_address"])
    saved_mode = os.environ.get(_RAY_MODE_ENV)
    try:
        try:
            _connect(recipe)  # before Data-Juicer's own ray.init (parsing the recipe counts the cluster's CPUs)
            cfg = init_cfg(recipe, work_dir, work_dir / "dj_export" / out_path.name)
            executor = RayExecutor(cfg)  # its own ray.init finds this driver connected
        except ConnectionError as exc:
            raise SandboxError(_no_cluster(recipe["ray_address"], str(exc))) from None
        log.info("Ray cluster %s: %s", recipe["ray_address"], ray.cluster_resources())
        dataset = executor.run(skip_export=True)
        rows = ({k: v for k, v in _plain(row).items() if k != _IS_UNIQUE} for row in dataset.data.iter_rows())
        return write_jsonl(out_path, _rows(rows, recipe))
    finally:
        if ray.is_initialized():
            ray.shutdown()  # disconnect this driver; the cluster itself keeps running
        # later Data-Juicer calls in this process must not run in Ray mode
        if saved_mode is None:
            os.environ.pop(_RAY_MODE_ENV, None)
        else:
            os.environ[_RAY_MODE_ENV] = saved_mode


# Data-Juicer's deduplicators -> (its Ray twin, arguments the twin lacks: refused when true)
_RAY_TWINS = {"image_deduplicator": ("ray_image_deduplicator", "consider_text"),
              "document_deduplicator": ("ray_document_deduplicator", None),
              "video_deduplicator": ("ray_video_deduplicator", "consider_text")}
_IS_UNIQUE = "__dj__is_unique"  # the twins' per-sample verdict column (HashKeys.is_unique)


def ray_ops(recipe: dict) -> dict:
    """A copy of the recipe whose deduplicators are Data-Juicer's Ray twins (module docstring)."""
    from ..errors import SandboxError

    recipe = dict(recipe)
    process = list(recipe.get("process") or [])
    for i, name, args in iter_ops(recipe):
        if name not in _RAY_TWINS:
            continue
        twin, lacking = _RAY_TWINS[name]
        args = dict(args or {})
        if lacking and args.pop(lacking, False):
            raise SandboxError(f"process[{i}] {name}: {lacking}: true has no Ray twin in Data-Juicer 1.6.1 "
                               f"({twin} hashes the media only); drop it or use the default executor")
        process[i] = {twin: args}
    recipe["process"] = process
    return recipe


def _connect(recipe: dict) -> None:
    """ray.init as Data-Juicer's initialize_ray does it in Ray mode (same address and runtime_env),
    plus the workers' imagededup import when the recipe hashes images."""
    import ray
    from ray import cloudpickle

    from data_juicer.utils.constant import RAY_JOB_ENV_VAR
    from data_juicer.utils.mm_utils import SPECIAL_TOKEN_ENV_PREFIX

    from . import runtime

    env_vars = {RAY_JOB_ENV_VAR: "1"}
    env_vars.update({k: v for k, v in os.environ.items() if k.startswith(SPECIAL_TOKEN_ENV_PREFIX)})
    runtime_env = {"py_modules": recipe.get("custom_operator_paths") or None, "env_vars": env_vars}
    if any(name == "ray_image_deduplicator" for _, name, _ in iter_ops(recipe)):
        runtime_env["worker_process_setup_hook"] = runtime.load_imagededup_hashing
    cloudpickle.register_pickle_by_value(runtime)  # the hook's code travels, not a reference to it
    try:
        ray.init(recipe["ray_address"], ignore_reinit_error=True, runtime_env=runtime_env)
    finally:
        cloudpickle.unregister_pickle_by_value(runtime)


def _no_cluster(address: str, why: str) -> str:
    return (f"no Ray cluster at ray_address={address!r} ({why}); start one with `ray start --head` "
            "or set ray_address (host:port, ray://host:10001, or `local`); if the cluster uses token "
            "authentication, set RAY_AUTH_MODE=token (and RAY_AUTH_TOKEN_PATH) for this run")


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast where ray.init would retry for ever: a GCS address nobody listens on (e.g. `auto`
    finding the address file a killed head left in /tmp/ray)."""
    import socket

    from ray._private.services import canonicalize_bootstrap_address  # pinned ray 2.60

    from ..errors import SandboxError

    if address == "local" or address.startswith("ray://"):
        return
    try:
        resolved = canonicalize_bootstrap_address(address)
    except (ValueError, ConnectionError) as exc:  # `auto` with no cluster found anywhere
        raise SandboxError(_no_cluster(address, str(exc))) from None
    if resolved is None:
        return
    host, _, port = resolved.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise SandboxError(_no_cluster(address, f"{resolved}: {exc}")) from None


def _plain(value):
    """Arrow/numpy values from Ray Data as plain JSON-able Python values."""
    import numpy as np

    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
