"""llmstack's start of the LiteLLM proxy: LiteLLM's own CLI, its workers forked by gunicorn.

Shipped into the LiteLLM container next to its config and run as the container's command
(`python3 llmstack_serve.py <LiteLLM's CLI arguments, --run_gunicorn among them>`); this file is
data to the Pulumi program.

With `--num_workers N` alone, uvicorn spawns N fresh interpreters that each import all of LiteLLM
again after the CLI did, and uvicorn kills a worker that has not answered its 5 s health ping, so
on a loaded host they never come up; `--run_gunicorn` imports it once and forks the workers from
that (half the start time, a quarter less memory: benchmarks/gateway_latency.py). It keeps LiteLLM's graceful
shutdown (its own gunicorn worker class) and its config (the auth hook), but LiteLLM gives gunicorn
no logging options, so gunicorn would log in plain text: this sets gunicorn's logging default to
LiteLLM's own JSON log config for uvicorn, extended to gunicorn's loggers, before the CLI starts.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import gunicorn.config  # type: ignore[import-untyped]  # no stubs; only a default is set
from litellm._logging import _get_uvicorn_json_log_config
from litellm.proxy.proxy_cli import run_server


def json_log_config() -> dict[str, Any]:
    """LiteLLM's JSON log config for uvicorn, applied to gunicorn's loggers and the root too."""
    config: dict[str, Any] = _get_uvicorn_json_log_config()  # type: ignore[no-untyped-call]
    level = config["loggers"]["uvicorn"]["level"]
    config["loggers"]["gunicorn.error"] = {"handlers": ["default"], "level": level, "propagate": False}
    config["loggers"]["gunicorn.access"] = {"handlers": ["access"], "level": level, "propagate": False}
    config["root"] = {"handlers": ["default"], "level": level}
    return config


def prepare_metrics_directory() -> None:
    """Create prometheus_client's multi-process directory when metrics are on.

    LiteLLM empties it at each start (its samples files, so a restart counts from zero) but creates
    it only when it chose the directory itself; every worker's first sample needs it to exist.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, mode=0o700, exist_ok=True)


if __name__ == "__main__":
    prepare_metrics_directory()
    gunicorn.config.LogConfigDict.default = json_log_config()
    sys.exit(run_server())
