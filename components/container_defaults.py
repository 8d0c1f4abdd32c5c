"""Settings every llmstack container shares: restart, log rotation, least privilege, graceful stops.

Every input here is written in the form the docker provider reads back from the engine, so a
second `pulumi up` finds nothing to change (docs/OPERATIONS.md, "What `pulumi up` changes").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_docker as docker

RESTART_POLICY = "unless-stopped"
LOG_DRIVER = "json-file"
# Rotation without a daemon.json. The engine merges a daemon.json's json-file options into every
# container's (also into an unset map), so such a daemon drifts either way: repeat its options here.
LOG_OPTS = {"max-size": "10m", "max-file": "3"}
# The bare form: `name:value` is the engine's deprecated separator; it stores what it is sent.
SECURITY_OPTS = ["no-new-privileges"]
HEALTH_INTERVAL_SECONDS = 15
HEALTH_TIMEOUT_SECONDS = 5
HEALTH_RETRIES = 3
REPLACE_ON_HEALTHCHECK = ["healthcheck", "tmpfs", "ulimits", "labels"]
"""The provider records a changed healthcheck or tmpfs but never applies it to a running container
(FACTS); ulimits it does not update either (resourceDockerContainerUpdate: "seems not to work well")."""
TMPFS_OPTIONS = "rw,noexec,nosuid,nodev"
"""A tmpfs holds data, never programs: nothing the stack runs executes from it."""
NOFILE = 4096
"""Open files per process: nginx's worker_rlimit_nofile; a non-root process cannot raise its hard limit."""


def capability_names(*names: str) -> list[str]:
    """Capability names as the docker Go client rewrites them before the engine stores them.

    client/container_create.go (normalizeCapabilities): upper case, `CAP_` prefix except `ALL`,
    no duplicates, sorted. The provider reads back the stored form and `capabilities` forces a
    replacement, so any other spelling replaces the container on every `up`.
    """
    canonical = {n.upper() if n.upper() == "ALL" else "CAP_" + n.upper().removeprefix("CAP_") for n in names}
    return sorted(canonical)


def capabilities(*needed: str) -> docker.ContainerCapabilitiesArgs:
    """Drop every Linux capability except the ones a process is known to need."""
    return docker.ContainerCapabilitiesArgs(drops=capability_names("ALL"), adds=capability_names(*needed) or None)


def go_duration(seconds: int) -> str:
    """Whole seconds as Go's `time.Duration.String()` writes them ("15s", "1m0s", "1h0m0s").

    The provider reads healthcheck durations back in this form: any other spelling ("60s") is a
    change on every `up`.
    """
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {seconds}")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def healthcheck(test: Sequence[str], *, start_period_seconds: int = 30) -> docker.ContainerHealthcheckArgs:
    """A Docker healthcheck with the project's cadence, its durations in the provider's read-back form."""
    return docker.ContainerHealthcheckArgs(
        tests=list(test),
        interval=go_duration(HEALTH_INTERVAL_SECONDS),
        timeout=go_duration(HEALTH_TIMEOUT_SECONDS),
        retries=HEALTH_RETRIES,
        start_period=go_duration(start_period_seconds),
    )


DRAIN_SECONDS = 30
"""How long a stopped nginx or LiteLLM lets open requests finish. The provider deletes a container
before it creates the replacement, so every second of drain is a second without the service: 30 s
finishes ordinary calls and bounds the outage; a longer stream is cut when its proxy is replaced."""


def serving_options(
    parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] | None = None
) -> pulumi.ResourceOptions:
    """Options of a serving container: a changed healthcheck replaces it, since it would never apply."""
    return pulumi.ResourceOptions(
        parent=parent, replace_on_changes=REPLACE_ON_HEALTHCHECK, depends_on=list(depends_on or []) or None
    )


def memory_limit(memory_mb: int) -> dict[str, Any]:
    """A hard memory limit with no swap on top.

    Left unset, the engine sets swap to twice the memory and the provider reads that back: an
    update on every `up`, and raising the memory past that swap is refused.
    """
    return {"memory": memory_mb, "memory_swap": memory_mb}


@dataclass(frozen=True, kw_only=True)
class Confinement:
    """Who a container runs as, what it may write, and its share of the host.

    The root filesystem is always read-only; `writable` lists the tmpfs mounts (path -> MB) of
    the paths its process writes. `nproc` bounds the processes and threads of `user`'s uid: the
    kernel counts them per uid across the host and never for uid 0 (setrlimit(2)); pulumi-docker
    5.2.0 has no pids_limit.
    """

    user: str
    """`uid:gid`, numeric: the images need no passwd entry for it."""
    writable: Mapping[str, int] = field(default_factory=dict)
    """tmpfs mounts, path -> size in MB, mounted noexec,nosuid,nodev."""
    nproc: int
    """Process and thread ceiling of the uid (RLIMIT_NPROC)."""
    cpu_shares: int
    """Relative CPU weight under contention (1024 is Docker's default); updates in place."""

    def arguments(self) -> dict[str, Any]:
        """The container arguments that apply it, in the form the provider reads back."""
        return {
            "user": self.user,
            "read_only": True,
            "tmpfs": {path: f"{TMPFS_OPTIONS},size={mb}m" for path, mb in self.writable.items()} or None,
            "ulimits": [
                docker.ContainerUlimitArgs(name="nofile", soft=NOFILE, hard=NOFILE),
                docker.ContainerUlimitArgs(name="nproc", soft=self.nproc, hard=self.nproc),
            ],
            "cpu_shares": self.cpu_shares,
        }


def long_running(
    *capabilities_needed: str,
    confinement: Confinement,
    memory_mb: int,
    wait_timeout_seconds: int,
    grace_seconds: int,
    stop_signal: str | None = None,
) -> dict[str, Any]:
    """Container arguments every serving container shares.

    Restart, log rotation, least privilege (its `confinement`), a memory limit; `pulumi up` waits
    until the container's healthcheck says healthy (or fails after `wait_timeout_seconds`); a
    replacement or destroy stops it with `stop_signal` (the image's own when None) and gives it
    `grace_seconds` before SIGKILL.
    """
    arguments: dict[str, Any] = {
        "restart": RESTART_POLICY,
        "log_driver": LOG_DRIVER,
        "log_opts": LOG_OPTS,
        "capabilities": capabilities(*capabilities_needed),
        "security_opts": SECURITY_OPTS,
        **confinement.arguments(),
        "wait": True,
        "wait_timeout": wait_timeout_seconds,
        "destroy_grace_seconds": grace_seconds,
        **memory_limit(memory_mb),
    }
    if stop_signal is not None:
        arguments["stop_signal"] = stop_signal
    return arguments


def one_shot(*, confinement: Confinement, memory_mb: int) -> dict[str, Any]:
    """Container arguments of a job that runs to completion on `pulumi up` (pulls, key delivery).

    The provider waits for it to exit and records its exit code; it is never restarted. Callers
    must check that exit code (`checked_exit`): the provider does not fail a create on it.
    """
    return {
        "attach": True,
        "must_run": False,
        "restart": "no",
        "log_driver": LOG_DRIVER,
        "log_opts": LOG_OPTS,
        "capabilities": capabilities(),
        "security_opts": SECURITY_OPTS,
        **confinement.arguments(),
        **memory_limit(memory_mb),
    }


def never_started(*, user: str) -> dict[str, Any]:
    """Container arguments of a file carrier: created so `uploads` land in its volume, never started.

    The provider copies uploads at `/` (resourceDockerContainerCreate), which the daemon refuses on
    a read-only root even for a path inside a volume, so a carrier keeps a writable root: nothing
    runs to write it. `must_run=False` keeps the provider's Read from deleting a stopped container.
    """
    return {
        "start": False,
        "must_run": False,
        "restart": "no",
        "user": user,
        "network_mode": "none",
        "log_driver": LOG_DRIVER,
        "log_opts": LOG_OPTS,
        "capabilities": capabilities(),
        "security_opts": SECURITY_OPTS,
        **memory_limit(16),
    }


def replace_command(urn: str) -> str:
    """The command that re-runs a one-shot container whose recorded run failed."""
    return f"pulumi up --replace '{urn}'"


def checked_exit(what: str, urn: str, exit_code: float | None, logs: str | None, *, preview: bool) -> None:
    """Raise unless a one-shot container's recorded exit code is 0.

    A failed run stays in state with its exit code and nothing in the inputs changes, so every
    later `up` would fail the same way: the error names the one command that runs it again. No
    exit code outside a preview means the create was cut short (a timeout) while it still ran.
    """
    if exit_code == 0 or (exit_code is None and preview):
        return
    tail = "\n".join((logs or "").strip().splitlines()[-5:])
    status = "no exit code recorded (the run was interrupted)" if exit_code is None else f"exit code {exit_code:.0f}"
    raise RuntimeError(f"{what} failed ({status}); run it again with: {replace_command(urn)}\n{tail}".rstrip())
