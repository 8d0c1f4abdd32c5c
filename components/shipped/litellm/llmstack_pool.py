"""llmstack's GPU pool in LiteLLM's router: the deployments file, applied without a restart.

Shipped into the LiteLLM container next to its config and loaded by the auth hook, which calls
`refresh()` first on every request; this file is data to the Pulumi program.

In the pool, config.yaml lists no deployment: they are in the file named by LLMSTACK_POOL_FILE, on
a read-only volume of their own that a stack update rewrites (components/gateway.py), so adding or
removing a host or moving a model replaces nothing that serves. Each worker looks at the file at
most once a second (one stat), re-reads it only when it changed, and brings its router to the new
list before the request is routed: it deletes the deployments that went and adds the new ones.
A deployment's id is LiteLLM's hash of its parameters, and what the router knows of a deployment
(least-busy's in-flight count, a cooldown, its max_parallel_requests slots) lives in the router's
cache under that id, which neither call touches: an unchanged deployment keeps all of it.
A file that does not parse or whose digest does not match (read while being written) leaves the
last good list in place, is logged once and read again at the next check.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # the program's name for the same file
    from components.shipped.litellm import llmstack_contract as contract
else:  # in the container: uploaded beside this file, whose directory is first on sys.path
    import llmstack_contract as contract

CHECK_SECONDS = 1.0
"""How often a worker looks at the file, at most: a changed pool reaches every request after that."""

_log = contract.own_handler_logger("llmstack.pool")


class _State:
    """What this worker last saw of the file and applied to its router.

    A plain class: this file is loaded by path, outside sys.modules, where a dataclass cannot be made.
    """

    def __init__(self) -> None:
        self.checked = float("-inf")
        self.stamp: tuple[int, int, int] | None = None
        self.refused: str | None = None
        """The last error logged, so that a file still unusable at the next check is not logged again."""
        self.applied: list[dict[str, Any]] = []


_state = _State()


class PoolFileError(ValueError):
    """The pool file is not a complete list of deployments."""


def parse(text: str) -> list[dict[str, Any]]:
    """The deployments of a pool file; PoolFileError unless it is complete and well-formed."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PoolFileError(f"not YAML ({error.__class__.__name__})") from error
    if not isinstance(document, dict) or not isinstance(document.get("model_list"), list):
        raise PoolFileError("no model_list")
    model_list: list[Any] = document["model_list"]
    if document.get("sha256") != contract.pool_deployments_digest(model_list):
        raise PoolFileError("its sha256 does not match its model_list (cut short, or being written)")
    for deployment in model_list:
        if not (
            isinstance(deployment, dict)
            and isinstance(deployment.get("model_name"), str)
            and isinstance(deployment.get("litellm_params"), dict)
            and isinstance(deployment.get("model_info", {}), dict)
        ):
            raise PoolFileError(f"not a deployment: {str(deployment)[:200]}")
    return model_list


def refresh(now: float | None = None) -> None:
    """Bring this worker's router to the pool file, if it changed; at most one stat a second."""
    path = os.environ.get(contract.POOL_FILE_ENV)
    if not path:
        return
    now = time.monotonic() if now is None else now
    if now - _state.checked < CHECK_SECONDS:
        return
    _state.checked = now
    from litellm.proxy import proxy_server  # loaded by now: it is what calls the auth hook

    router = proxy_server.llm_router
    if router is None:
        return
    try:
        stamp, deployments = _read(path)
        if deployments is not None and deployments != _state.applied:
            apply(router, deployments)
            proxy_server.llm_model_list = router.get_model_list()  # what /health checks
            _state.applied = deployments
    except Exception as error:  # whatever it is, the request goes on with the last good list
        if str(error) != _state.refused:
            _log.error("llmstack: GPU pool file %s not applied, the last good deployments stay: %s", path, error)
        _state.refused = str(error)
        return
    _state.stamp, _state.refused = stamp, None


def _read(path: str) -> tuple[tuple[int, int, int], list[dict[str, Any]] | None]:
    """The file's stamp and its deployments; None if the stamp is the one last applied."""
    with open(path, encoding="utf-8") as pool_file:
        status = os.fstat(pool_file.fileno())
        stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
        if stamp == _state.stamp:
            return stamp, None
        return stamp, parse(pool_file.read())


def deployment_id(router: Any, deployment: dict[str, Any]) -> str:
    """The id LiteLLM gives a deployment from config.yaml: a hash of its name and parameters."""
    return str(router.generate_model_id(deployment["model_name"], deployment["litellm_params"]))


def apply(router: Any, deployments: list[dict[str, Any]]) -> None:
    """Make `deployments` the router's: delete the ones that went, add the new, leave the rest alone."""
    wanted = {deployment_id(router, d): d for d in deployments}
    if not router.model_list:
        # As LiteLLM loads config.yaml's list; it also gives the router its own set of model names
        # (a router made without a list shares its class's, which add_deployment would extend).
        router.set_model_list([_with_id(d, i) for i, d in wanted.items()])
        _log.info("llmstack: GPU pool: %d deployments", len(wanted))
        return
    from litellm.types.router import Deployment, LiteLLM_Params

    present = set(router.get_model_ids())
    for gone in present - wanted.keys():
        router.delete_deployment(gone)
    for new in wanted.keys() - present:
        deployment = _with_id(wanted[new], new)
        router.add_deployment(
            Deployment(
                model_name=deployment["model_name"],
                litellm_params=LiteLLM_Params.model_validate(deployment["litellm_params"]),
                model_info=deployment["model_info"],
            )
        )
    _log.info(
        "llmstack: GPU pool: %d deployments (%d added, %d removed)",
        len(wanted),
        len(wanted.keys() - present),
        len(present - wanted.keys()),
    )


def _with_id(deployment: dict[str, Any], model_id: str) -> dict[str, Any]:
    return {**deployment, "model_info": {**deployment.get("model_info", {}), "id": model_id}}
