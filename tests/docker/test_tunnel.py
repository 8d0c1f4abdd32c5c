"""The tunnel stack through real containers: cloudflared stand-in → nginx → LiteLLM → Ollama.

Nothing is published on the host in tunnel mode, so clients run inside the cloudflared container
(`docker exec`): each connects to the Cloudflare-edge half of the stand-in from its own loopback
address, which becomes its `CF-Connecting-IP`. nginx must take the client address from that header
only on connections from the connector's fixed address.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from offline.engine import OfflineRun
from tests.docker.conftest import Stack, apply_stack, dev_config
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
    config = {**dev_config(), **TUNNEL, "allowedCidrs": [ALLOWED]}
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
        assert tunnel.applier.inspect(name)["State"]["Health"]["Status"] == "healthy", name


def test_nothing_is_published_on_the_host(tunnel: Stack) -> None:
    for name in tunnel.serving():
        ports = tunnel.applier.inspect(name)["NetworkSettings"]["Ports"] or {}
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
