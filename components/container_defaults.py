"""Settings every llmstack container shares: restart, log rotation, least privilege."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi_docker as docker

RESTART_POLICY = "unless-stopped"
LOG_DRIVER = "json-file"
# A complete set: the provider reads back daemon defaults for unset options and would replace
# the container on every update otherwise.
LOG_OPTS = {"max-size": "10m", "max-file": "3"}
SECURITY_OPTS = ["no-new-privileges:true"]


def capabilities(*needed: str) -> docker.ContainerCapabilitiesArgs:
    """Drop every Linux capability except the ones a process is known to need."""
    return docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=list(needed) or None)


def healthcheck(test: Sequence[str], *, start_period: str = "30s") -> docker.ContainerHealthcheckArgs:
    """A Docker healthcheck with the project's cadence."""
    return docker.ContainerHealthcheckArgs(
        tests=list(test), interval="15s", timeout="5s", retries=3, start_period=start_period
    )


def long_running(*capabilities_needed: str) -> dict[str, Any]:
    """Container arguments every serving container shares: restart, log rotation, least privilege."""
    return {
        "restart": RESTART_POLICY,
        "log_driver": LOG_DRIVER,
        "log_opts": LOG_OPTS,
        "capabilities": capabilities(*capabilities_needed),
        "security_opts": SECURITY_OPTS,
    }


def one_shot() -> dict[str, Any]:
    """Container arguments of a job that runs to completion on `pulumi up` (pulls, key delivery).

    The provider waits for it to exit and records its exit code; it is never restarted.
    """
    return {
        "attach": True,
        "must_run": False,
        "restart": "no",
        "log_driver": LOG_DRIVER,
        "log_opts": LOG_OPTS,
        "capabilities": capabilities(),
        "security_opts": SECURITY_OPTS,
    }
