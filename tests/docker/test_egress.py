"""No route out (#22): from inside each serving container, a host outside the stack cannot be reached.

The outside host is a network namespace the test makes (tests/docker/outside_host.py); each try runs
in the container's own network namespace (`nsenter --net`), so it meets exactly the routes, NAT and
filters the container's processes meet, whatever tools the image lacks. The control shows the host
is reachable from a container of the same image on an ordinary Docker bridge: a refusal below is the
stack's networks, not the test's rig.

- Ollama and LiteLLM are on internal networks only: no route at all.
- nginx (local and lan modes) must be on a non-internal bridge to publish its port, so it keeps a
  default route; the `publish` network has no masquerade (components/networks.py NO_OUTBOUND_NAT),
  so its SYN leaves with a private source address that the outside host, like any Internet host,
  cannot answer.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.docker.conftest import Stack
from tests.docker.images import DOCKER
from tests.docker.outside_host import HOST_ADDRESS, OutsideHost

SERVING = ("ollama-container", "gateway-container", "edge-container")
CONTROL = "llmstack-egress-control"


def _docker(*args: str) -> str:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def control_pid(dev: Stack) -> Iterator[int]:
    """A container of the edge's image on an ordinary (masquerading) bridge, doing nothing."""
    subprocess.run([DOCKER, "rm", "-f", CONTROL], capture_output=True, check=False)
    subprocess.run([DOCKER, "network", "rm", CONTROL], capture_output=True, check=False)
    _docker("network", "create", CONTROL)
    try:
        image = dev.inputs("edge-image")["name"]
        _docker("run", "-d", "--name", CONTROL, "--network", CONTROL, image, "sleep", "600")
        yield int(_docker("inspect", "--format", "{{.State.Pid}}", CONTROL))
    finally:
        subprocess.run([DOCKER, "rm", "-f", CONTROL], capture_output=True, check=False)
        subprocess.run([DOCKER, "network", "rm", CONTROL], capture_output=True, check=False)


def test_the_outside_host_answers_a_container_on_an_ordinary_bridge(outside: OutsideHost, control_pid: int) -> None:
    assert outside.connect_from(control_pid) == "connected"
    assert outside.peers()[-1] == HOST_ADDRESS, "masqueraded to the host's address, as Docker does by default"


@pytest.mark.parametrize("resource", SERVING)
def test_no_serving_container_reaches_the_outside_host(dev: Stack, outside: OutsideHost, resource: str) -> None:
    accepted = len(outside.peers())
    result = outside.connect_from(dev.applier.inspect(resource)["State"]["Pid"])
    assert result != "connected", result
    assert len(outside.peers()) == accepted


def test_nginx_keeps_a_default_route_that_leads_nowhere(dev: Stack) -> None:
    """Why nginx's refusal is the missing NAT, not a missing route: the route is there (it must be)."""
    pid = dev.applier.inspect("edge-container")["State"]["Pid"]
    routes = subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", "ip", "route", "show", "default"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert routes.startswith("default via"), routes
    publish = dev.inputs("network-publish")
    assert publish["options"] == {"com.docker.network.bridge.enable_ip_masquerade": "false"}
    inspected = _docker("network", "inspect", "--format", "{{json .Options}}", publish["name"])
    assert '"com.docker.network.bridge.enable_ip_masquerade":"false"' in inspected
