"""The tunnel stack through real containers: cloudflared stand-in → nginx → LiteLLM → Ollama.

Nothing is published on the host in tunnel mode, so clients run inside the cloudflared container
(`docker exec`): each connects to the Cloudflare-edge half of the stand-in from its own loopback
address, which becomes its `CF-Connecting-IP`. nginx must take the client address from that header
only on connections from the connector's fixed address.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from offline.engine import OfflineRun
from tests.docker.conftest import Stack, apply_stack, dev_config
from tests.docker.images import DOCKER
from tests.support import TUNNEL

ALLOWED = "127.0.0.0/29"
EDGE_CLIENT = """
import sys, httpx
source, path, count, headers = sys.argv[1], sys.argv[2], int(sys.argv[3]), __import__("json").loads(sys.argv[4])
transport = httpx.HTTPTransport(local_address=source)
with httpx.Client(transport=transport, base_url="http://127.0.0.1:8080", timeout=30) as client:
    print(" ".join(str(client.get(path, headers=headers).status_code) for _ in range(count)))
"""
ORIGIN_CLIENT = """
import http.client, socket, ssl, sys
address, header, key = sys.argv[1], sys.argv[2], sys.argv[3]
context = ssl._create_unverified_context()  # what is tested here is nginx's real-IP rule, not TLS
connection = http.client.HTTPSConnection(address, 8443, context=context, timeout=10)
connection.sock = context.wrap_socket(socket.create_connection((address, 8443)), server_hostname="llm.example.com")
headers = {"Host": "llm.example.com", "CF-Connecting-IP": header, "Authorization": "Bearer " + key}
connection.request("GET", "/v1/models", headers=headers)
print(connection.getresponse().status)
"""


@pytest.fixture(scope="module")
def tunnel(engine: str, render_stack: Callable[..., OfflineRun]) -> Iterator[Stack]:
    # Monitoring on: the tunnel watch runs with Prometheus (port beside test_monitoring.py's).
    config = {**dev_config(), **TUNNEL, "allowedCidrs": [ALLOWED], "monitoring": True, "prometheusPort": 9092}
    stack = apply_stack(render_stack("dockertunnel", **config))
    yield stack
    stack.applier.destroy()
    stack.applier.close()


def _through_tunnel(stack: Stack, source: str, path: str = "/v1/models", count: int = 1, key: bool = True) -> list[int]:
    headers = {"Authorization": f"Bearer {stack.outputs['clients']['dev']['apiKey']}"} if key else {}
    result = stack.exec("tunnel-container", "python3", "-c", EDGE_CLIENT, source, path, str(count), json.dumps(headers))
    assert result.returncode == 0, result.stderr
    return [int(status) for status in result.stdout.split()]


def _tunnel_address(stack: Stack, resource: str) -> str:
    networks = stack.applier.inspect(resource)["NetworkSettings"]["Networks"]
    return str(networks[stack.inputs("network-tunnel")["name"]]["IPAddress"])


def test_every_tunnel_stack_container_is_healthy(tunnel: Stack) -> None:
    for name in tunnel.serving():
        state = tunnel.applier.inspect(name)["State"]
        if name == "monitoring-nginx-exporter":  # FROM scratch, no healthcheck: Prometheus's `up` watches it
            assert state["Running"], name
            continue
        assert state["Health"]["Status"] == "healthy", name


def test_nothing_is_published_on_the_host(tunnel: Stack) -> None:
    for name in tunnel.serving():
        ports = tunnel.applier.inspect(name)["NetworkSettings"]["Ports"] or {}
        if name == "monitoring-prometheus":  # on the host's loopback only, for ssh -L
            assert {b["HostIp"] for bindings in ports.values() for b in bindings or []} == {"127.0.0.1"}
            continue
        assert not any(ports.values()), name


def test_the_connector_has_its_fixed_address(tunnel: Stack) -> None:
    assert _tunnel_address(tunnel, "tunnel-container") == "10.231.53.2"


def test_a_client_gets_answers_and_nginx_sees_its_real_address(tunnel: Stack) -> None:
    assert _through_tunnel(tunnel, "127.0.0.2") == [200]
    log = tunnel.applier.logs("edge-container")
    assert '"client":"127.0.0.2"' in log


def test_the_allow_list_applies_to_the_real_client_address(tunnel: Stack) -> None:
    assert _through_tunnel(tunnel, "127.0.0.3") == [200]
    assert _through_tunnel(tunnel, "127.0.0.9") == [403]


def test_the_rate_limit_counts_each_real_client_separately(tunnel: Stack) -> None:
    flood = _through_tunnel(tunnel, "127.0.0.4", count=40, key=False)
    assert 429 in flood, flood
    assert _through_tunnel(tunnel, "127.0.0.5") == [200], "another client behind the same connector is not limited"


@pytest.mark.parametrize(("resource", "expected"), [("tunnel-container", 200), ("edge-container", 403)])
def test_cf_connecting_ip_is_trusted_only_from_the_connector(tunnel: Stack, resource: str, expected: int) -> None:
    """The same allowed CF-Connecting-IP, sent straight to nginx from the connector and from elsewhere.

    From another address on the tunnel network (nginx's own, the only other one there) the header
    must be ignored: the request is judged by its real source, outside the allow-list.
    """
    origin = _tunnel_address(tunnel, "edge-container")
    key = tunnel.outputs["clients"]["dev"]["apiKey"]
    result = tunnel.exec(resource, "python3", "-c", ORIGIN_CLIENT, origin, "127.0.0.3", key)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == expected


# --- the tunnel watch (monitoring on, the default): cloudflared's /metrics for Prometheus ----------------------
WATCH_CLIENT = """
import sys, urllib.request, urllib.error
for url in sys.argv[1:]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except OSError as error:
        status, body = 0, str(error).encode()
    print(status, "MARKER" if b"TUNNEL-TOKEN" in body else "clean")
"""


def _prometheus(stack: Stack, expression: str) -> list[dict[str, Any]]:
    port = int(stack.inputs("monitoring-prometheus")["ports"][0]["external"])
    answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": expression}, timeout=10)
    answer.raise_for_status()
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def _until_up(stack: Stack, seconds: float = 120) -> list[float]:
    deadline, found = time.monotonic() + seconds, []
    while time.monotonic() < deadline:
        found = [float(s["value"][1]) for s in _prometheus(stack, 'up{job="tunnel"}')]
        if found == [1.0]:
            break
        time.sleep(2)
    return found


def test_the_watch_runs_in_the_connectors_network_namespace_and_reads_back_as_declared(tunnel: Stack) -> None:
    connector = tunnel.applier.inspect("tunnel-container")["Id"]
    assert tunnel.applier.inspect("tunnel-watch")["HostConfig"]["NetworkMode"] == f"container:{connector}"
    # A second `pulumi up` finds the stored network mode equal to the declared one: no replacement.
    assert tunnel.applier.drift(tunnel.run) == {}


def test_prometheus_sees_the_watch_up_and_the_connectors_connections(tunnel: Stack) -> None:
    assert _until_up(tunnel) == [1.0]
    assert [s["value"][1] for s in _prometheus(tunnel, "cloudflared_tunnel_ha_connections")] == ["4"]
    assert _prometheus(tunnel, 'ALERTS{alertname="TunnelDown"}') == []


@pytest.mark.parametrize("resource", ["monitoring-prometheus", "edge-container"])
def test_no_neighbour_reaches_the_connectors_pprof(tunnel: Stack, resource: str) -> None:
    """From the watch network (Prometheus) and the tunnel network (nginx): /metrics only, never pprof."""
    host = "tunnel-watch" if resource == "monitoring-prometheus" else _tunnel_address(tunnel, "tunnel-container")
    urls = [
        f"http://{host}:9104/metrics",
        f"http://{host}:9104/debug/pprof/heap",
        f"http://{host}:9104/metrics/../debug/pprof/heap",
        f"http://{host}:9104/ready",
        f"http://{host}:20241/debug/pprof/heap",  # cloudflared's own listener: loopback only
    ]
    result = tunnel.exec(resource, "python3", "-c", WATCH_CLIENT, *urls)
    assert result.returncode == 0, result.stderr
    statuses = [line.split() for line in result.stdout.splitlines()]
    assert statuses == [["200", "clean"], ["404", "clean"], ["404", "clean"], ["404", "clean"], ["0", "clean"]]


def test_the_watch_costs_little_memory(tunnel: Stack) -> None:
    """Resident memory of the watch's nginx (master and worker), as `ps` in the container's pid namespace sees it."""
    name = tunnel.container_name("tunnel-watch")
    top = subprocess.run([DOCKER, "top", name, "-o", "pid,rss,args"], capture_output=True, text=True, check=True)
    rss_kib = sum(int(line.split()[1]) for line in top.stdout.splitlines()[1:])
    print(f"tunnel watch RSS: {rss_kib} KiB in {len(top.stdout.splitlines()) - 1} processes\n{top.stdout}")
    assert 0 < rss_kib < tunnel.inputs("tunnel-watch")["memory"] * 1024


def test_a_restarted_connector_gets_its_watch_back(tunnel: Stack) -> None:
    """A restarted cloudflared has a new namespace; the watch leaves the old one by restarting itself."""
    before = tunnel.applier.inspect("tunnel-watch")["RestartCount"]
    subprocess.run([DOCKER, "restart", tunnel.container_name("tunnel-container")], check=True, capture_output=True)
    deadline = time.monotonic() + 120
    while tunnel.applier.inspect("tunnel-watch")["RestartCount"] == before and time.monotonic() < deadline:
        time.sleep(2)
    assert tunnel.applier.inspect("tunnel-watch")["RestartCount"] > before, tunnel.applier.logs("tunnel-watch")
    connector = tunnel.applier.inspect("tunnel-container")["Id"]
    assert tunnel.applier.inspect("tunnel-watch")["HostConfig"]["NetworkMode"] == f"container:{connector}"
    time.sleep(20)  # past a scrape that may still hold the old answer
    assert _until_up(tunnel, seconds=120) == [1.0], tunnel.applier.logs("tunnel-watch")
    result = tunnel.exec("monitoring-prometheus", "python3", "-c", WATCH_CLIENT, "http://tunnel-watch:9104/metrics")
    assert result.stdout.split() == ["200", "clean"], result.stdout + result.stderr
