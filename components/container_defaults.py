"""Settings every llmstack container shares: restart, log rotation, least privilege."""

from __future__ import annotations

from collections.abc import Sequence

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
