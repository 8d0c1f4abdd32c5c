"""GPU hosts for the docker tier: Docker engines in their own network namespaces, and a pool on them.

`pool_engines.sh` makes them: a test bridge `llmpool0` in the root namespace (10.213.7.1, the gateway
host as the GPU hosts see it, and 10.213.7.2, a stranger), and per host `gpu<n>` a namespace with
10.213.7.1<n> on that bridge and its own dockerd on /run/llmstack-gpu<n>/docker.sock. The main engine
(the gateway host) runs in the root namespace and reaches them over the bridge.

A pool render names each GPU host's engine by URL (`gpuHosts.<host>.dockerHost`, one
`docker.Provider` per host). Pulumi would connect to that URL; here the test maps each URL to the
socket of the engine that stands for that host and applies the host's resources there, with the
same applier (tests/docker/applier.py) as the rest of the tier. What the provider does over ssh is
not exercised: only where the resources land.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from offline.engine import OfflineRun, reveal
from tests.docker.applier import IMAGE, Applier
from tests.docker.conftest import Stack
from tests.docker.images import DOCKER, ensure_images

SCRIPT = Path(__file__).with_name("pool_engines.sh")
GATEWAY_ADDRESS = "10.213.7.1"
"""The root namespace's address on the test bridge: where the gateway host's traffic comes from."""
STRANGER_ADDRESS = "10.213.7.2"
"""Another address of the root namespace on the bridge: not the gateway host."""
PROVIDER = "pulumi:providers:docker"


def host_name(n: int) -> str:
    """The pool's name for GPU host n."""
    return f"gpu{n}"


def host_address(n: int) -> str:
    """GPU host n's address on the test bridge."""
    return f"10.213.7.1{n}"


def host_socket(n: int) -> str:
    """The socket of GPU host n's engine."""
    return f"/run/llmstack-gpu{n}/docker.sock"


def host_docker_url(n: int) -> str:
    """The engine URL the render gives GPU host n (mapped to `host_socket(n)` here)."""
    return f"ssh://llmstack@{host_address(n)}"


def _script(*args: str) -> str:
    # close_fds (the default) matters: a dockerd keeps every fd it inherits, the tier's flock included.
    done = subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, check=False, close_fds=True, timeout=180
    )
    if done.returncode != 0:
        raise RuntimeError(f"pool_engines.sh {' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}")
    return done.stdout


def start_engines(count: int) -> None:
    """Bridge, namespaces and one dockerd per GPU host (any left by an interrupted run go first)."""
    _script("up", str(count))


def stop_engines() -> None:
    """Everything `start_engines` made, gone."""
    _script("down")


def load_images(references: list[str]) -> None:
    """Copy images of the main engine into every GPU host's engine (there is no registry)."""
    _script("load", *references)


def docker_on(n: int, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """The docker CLI against GPU host n's engine."""
    return subprocess.run(
        [DOCKER, "-H", f"unix://{host_socket(n)}", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def engine_of(run: OfflineRun, resource_provider: str | None) -> str | None:
    """The rendered engine URL of a resource's provider reference; None for the stack's own engine."""
    if not resource_provider:
        return None
    # A provider reference is `<provider URN>::<id>`; the URN ends with the provider resource's name.
    name = resource_provider.rsplit("::", 2)[-2]
    return str(reveal(run.named(name).inputs)["host"])


def split_by_engine(run: OfflineRun) -> dict[str | None, OfflineRun]:
    """The run's resources per engine URL (None: the gateway host's), each a run of its own."""
    parts: dict[str | None, list[object]] = {}
    for registration in run.resources:
        parts.setdefault(engine_of(run, registration.options.get("provider")), []).append(registration)
    return {
        url: OfflineRun(resources=list(resources), outputs=run.outputs, secret_outputs=run.secret_outputs)  # type: ignore[arg-type]
        for url, resources in parts.items()
    }


@dataclass(frozen=True)
class PoolStack:
    """A pool render applied: the gateway host on the main engine, each GPU host on its own."""

    run: OfflineRun
    gateway: Stack
    hosts: dict[int, Stack]
    timings: str
    """Seconds each step of `apply_pool` took."""


def stand_in_roles(run: OfflineRun) -> dict[str, str]:
    """Role → reference of every image the render uses (one reference per role across the hosts)."""
    roles: dict[str, str] = {}
    for registration in run.of_type(IMAGE):
        reference = str(reveal(registration.inputs)["name"])
        name = registration.name
        role = "ollama" if name.endswith("ollama-image") else "litellm" if name == "gateway-image" else "nginx"
        roles[role] = reference
    return roles


def _apply_host(part: OfflineRun, n: int, log: Callable[[str], None]) -> Stack:
    stack = Stack(part, Applier(log=log, engine_socket=host_socket(n)))
    stack.applier.apply(part)
    stack.wait_until_healthy()
    return stack


def _apply_gateway(part: OfflineRun, log: Callable[[str], None]) -> Stack:
    gateway = Stack(part, Applier(log=log))
    gateway.applier.destroy(part)  # leftovers of an interrupted session (the GPU engines are new)
    try:
        gateway.applier.apply(part)
        gateway.wait_until_healthy()
    except BaseException:
        gateway.applier.destroy(part)
        raise
    return gateway


def apply_pool(run: OfflineRun, count: int, log: Callable[[str], None] = lambda _: None) -> PoolStack:
    """Each GPU host's resources on its engine and the gateway host's on the main engine, side by side.

    Nothing on the gateway host waits for a GPU host (LiteLLM and the egress start without them), so
    both sides are applied at once: the tier's time is the slower side's, not the sum.
    """
    started = time.monotonic()
    roles = stand_in_roles(run)
    ensure_images(roles, log=log)
    built = time.monotonic()
    parts = split_by_engine(run)
    numbers = range(1, count + 1)
    unknown = {url for url in parts if url is not None} - {host_docker_url(n) for n in numbers}
    if unknown:
        raise RuntimeError(f"the render names engines no GPU host stands for: {sorted(unknown)}")
    timings: dict[str, float] = {}

    def apply_hosts() -> dict[int, Stack]:
        load_images([roles["nginx"], roles["ollama"]])
        timings["loaded into the GPU engines"] = time.monotonic() - built
        with ThreadPoolExecutor(count) as workers:
            applied = workers.map(lambda n: _apply_host(parts[host_docker_url(n)], n, log), numbers)
            hosts = dict(zip(numbers, applied, strict=True))
        timings["GPU hosts healthy"] = time.monotonic() - built
        return hosts

    with ThreadPoolExecutor(2) as sides:
        gateway_side, hosts_side = sides.submit(_apply_gateway, parts[None], log), sides.submit(apply_hosts)
        try:
            hosts = hosts_side.result()
        except BaseException:
            # The GPU engines go with their namespaces; the gateway host's side is on the shared engine.
            with suppress(Exception):
                gateway_side.result().applier.destroy()
            raise
        gateway = gateway_side.result()
    timings["gateway host healthy"] = time.monotonic() - built
    spent = ", ".join(f"{what} after {seconds:.0f} s" for what, seconds in timings.items())
    return PoolStack(run=run, gateway=gateway, hosts=hosts, timings=f"stand-ins {built - started:.0f} s, then {spent}")
