"""Tunnel mode in the real nginx: the rendered prod stack (`Pulumi.prod.yaml`) behind a cloudflared stand-in.

In tunnel mode every request reaches nginx from cloudflared. nginx must judge the client Cloudflare
saw (`CF-Connecting-IP`), and believe that header from cloudflared's fixed address only. Addresses
(all on the sandbox's loopback, added by `tunnel_addresses`): cloudflared at its rendered address in
the tunnel subnet; nginx at an address of the subnet's dynamic range; an intruder at another
address of that subnet; Internet clients in 203.0.113.0/24 (inside prod's allow-list) and
198.51.100.0/24 (outside it).
"""

from __future__ import annotations

import ipaddress
import json
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from offline.render import read_stack_file
from tests.live.cloudflared_standin import CloudflaredStandIn, Ingress
from tests.live.conftest import GATEWAY_STANDIN_ADDRESS, EdgeRunner, Rendered
from tests.live.docker_dns import DockerDns
from tests.live.gateway_standin import GatewayStandin
from tests.live.sandbox import in_sandbox
from tests.support import PROJECT_DIR

ALLOWED_CLIENTS = ("203.0.113.7", "203.0.113.8", "203.0.113.9", "203.0.113.20")
OUTSIDE_CLIENT = "198.51.100.7"
EDGE_STANDIN = ("127.0.0.60", 8080)
"""Where the stand-in for Cloudflare's edge listens."""
SPOOFING_HEADERS = ("CF-Connecting-IP", "X-Forwarded-For", "X-Real-IP", "True-Client-IP", "Forwarded")


@pytest.fixture(scope="module")
def prod(render: Callable[..., Rendered]) -> Rendered:
    """The prod stack exactly as `Pulumi.prod.yaml` describes it."""
    config, _ = read_stack_file("prod", PROJECT_DIR, notify=lambda _: None)
    return render("prod", **{key.removeprefix("llmstack:"): value for key, value in config.items()})


@pytest.fixture(scope="module")
def ingress(prod: Rendered) -> Ingress:
    """The ingress rule cloudflared gets for the hostname, as rendered."""
    rule = prod.inputs("tunnel-config")["config"]["ingresses"][0]
    origin = rule["originRequest"]
    return Ingress(
        hostname=rule["hostname"],
        service=rule["service"],
        server_name=origin["originServerName"],
        ca_file=prod.container_dir("tunnel-container") / origin["caPool"].lstrip("/"),
    )


@pytest.fixture(scope="module")
def connector_address(prod: Rendered) -> str:
    """The fixed address of cloudflared on the tunnel network, as rendered."""
    (address,) = [n["ipv4Address"] for n in prod.inputs("tunnel-container")["networksAdvanced"] if "ipv4Address" in n]
    return str(address)


@pytest.fixture(scope="module")
def tunnel_subnet(prod: Rendered) -> ipaddress.IPv4Network:
    (config,) = prod.inputs("network-tunnel")["ipamConfigs"]
    return ipaddress.IPv4Network(config["subnet"])


@pytest.fixture(scope="module")
def nginx_address(prod: Rendered) -> str:
    """An address Docker could give nginx: the first of the tunnel network's dynamic range."""
    (config,) = prod.inputs("network-tunnel")["ipamConfigs"]
    return str(ipaddress.IPv4Network(config["ipRange"])[1])


@pytest.fixture(scope="module")
def intruder_address(tunnel_subnet: ipaddress.IPv4Network, connector_address: str, nginx_address: str) -> str:
    """Another address inside the tunnel subnet: trusting the whole subnet would trust it too."""
    taken = {connector_address, nginx_address, str(tunnel_subnet[1])}
    return next(str(a) for a in tunnel_subnet.hosts() if str(a) not in taken)


@pytest.fixture(scope="module")
def tunnel_addresses(
    sandbox: None, connector_address: str, nginx_address: str, intruder_address: str
) -> Iterator[None]:
    """Put the emulated addresses on the sandbox's loopback (a private network namespace only)."""
    if not in_sandbox():
        pytest.fail("adding addresses to lo is done inside the test sandbox only")
    addresses = [connector_address, nginx_address, intruder_address, *ALLOWED_CLIENTS, OUTSIDE_CLIENT]
    for address in addresses:
        subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True)
    yield
    for address in addresses:
        subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], check=True)


@pytest.fixture
def nginx(
    prod: Rendered,
    edges: EdgeRunner,
    gateway_standin: GatewayStandin,
    docker_dns: DockerDns,
    ingress: Ingress,
    nginx_address: str,
    tunnel_addresses: None,
) -> Rendered:
    """The prod edge in front of the gateway stand-in; its container name resolves on the tunnel network."""
    docker_dns.set(str(urlsplit(ingress.service).hostname), nginx_address)
    return edges.serve(prod, GATEWAY_STANDIN_ADDRESS)


@pytest.fixture
def cloudflared(nginx: Rendered, ingress: Ingress, connector_address: str) -> Iterator[CloudflaredStandIn]:
    standin = CloudflaredStandIn(
        listen=EDGE_STANDIN[0], port=EDGE_STANDIN[1], source=connector_address, ingress=ingress
    )
    yield standin
    standin.close()


def via_cloudflare(cloudflared: CloudflaredStandIn, client: str) -> httpx.Client:
    """An Internet client at `client`, going through Cloudflare and the tunnel."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=client), base_url=cloudflared.url, timeout=30)


def direct(ingress: Ingress, nginx_address: str, source: str) -> httpx.Client:
    """A client reaching nginx's port directly from `source`, trusting its certificate."""
    trust = ssl.create_default_context(cafile=str(ingress.ca_file))
    transport = httpx.HTTPTransport(verify=trust, local_address=source)
    return httpx.Client(transport=transport, base_url=f"https://{nginx_address}:8443", timeout=30)


def assert_json_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def forwarded(gateway_standin: GatewayStandin) -> dict[str, str]:
    return {k.lower(): v for k, v in gateway_standin.requests[-1]["headers"].items()}


def test_relayed_clients_are_judged_by_the_address_cloudflare_saw(
    cloudflared: CloudflaredStandIn, gateway_standin: GatewayStandin, edges: EdgeRunner, connector_address: str
) -> None:
    with via_cloudflare(cloudflared, ALLOWED_CLIENTS[0]) as client:
        # What the client claims is replaced at the edge: only its connection's address counts.
        response = client.get("/v1/models", headers={"CF-Connecting-IP": OUTSIDE_CLIENT})
    assert response.status_code == 200, response.text
    assert forwarded(gateway_standin)["x-forwarded-for"] == ALLOWED_CLIENTS[0]
    assert forwarded(gateway_standin)["x-real-ip"] == ALLOWED_CLIENTS[0]
    with via_cloudflare(cloudflared, OUTSIDE_CLIENT) as outsider:
        assert_json_error(
            outsider.get("/v1/models", headers={"CF-Connecting-IP": ALLOWED_CLIENTS[0]}), 403, "forbidden"
        )
    time.sleep(0.2)  # nginx writes the log line after the response
    logged = [json.loads(line) for line in edges.logs["access"].read_text().splitlines() if line.startswith("{")]
    clients = {line["client"] for line in logged}
    assert clients >= {ALLOWED_CLIENTS[0], OUTSIDE_CLIENT}
    assert connector_address not in clients


@pytest.mark.parametrize("header", SPOOFING_HEADERS)
def test_headers_from_anyone_but_the_connector_change_nothing(
    header: str, nginx: Rendered, ingress: Ingress, nginx_address: str, intruder_address: str
) -> None:
    # The intruder sits in the tunnel subnet itself: nginx trusts the connector's /32, not the subnet.
    with direct(ingress, nginx_address, intruder_address) as intruder:
        response = intruder.get(
            "/v1/models", headers={header: ALLOWED_CLIENTS[0]}, extensions={"sni_hostname": ingress.server_name}
        )
    assert_json_error(response, 403, "forbidden")


def test_rate_limits_follow_the_relayed_client_not_the_connector(
    cloudflared: CloudflaredStandIn, render: Callable[..., Rendered], edges: EdgeRunner
) -> None:
    # The prod stack with a tight per-client rate, so the limit is reached however slowly the
    # stand-in forwards (prod's own 10 r/s can outpace a loaded test machine).
    config, _ = read_stack_file("prod", PROJECT_DIR, notify=lambda _: None)
    plain = {key.removeprefix("llmstack:"): value for key, value in config.items()}
    edges.serve(render("prod-tight-rate", **plain, clientRateLimit="1", clientRateBurst="2"), GATEWAY_STANDIN_ADDRESS)
    with via_cloudflare(cloudflared, ALLOWED_CLIENTS[1]) as busy:
        statuses = [busy.get("/v1/models").status_code for _ in range(10)]
    assert 429 in statuses, "one client behind the tunnel exhausts its own limit"
    with via_cloudflare(cloudflared, ALLOWED_CLIENTS[2]) as other:
        assert other.get("/v1/models").status_code == 200, "another client behind the same connector is unaffected"


def test_spoofed_client_addresses_cannot_dodge_the_rate_limit(
    nginx: Rendered, ingress: Ingress, nginx_address: str
) -> None:
    # An allowed address reaching nginx directly, pretending to be many clients.
    with direct(ingress, nginx_address, ALLOWED_CLIENTS[3]) as spoofer:
        statuses = [
            spoofer.get(
                "/v1/models",
                headers={"CF-Connecting-IP": f"203.0.113.{100 + n}"},
                extensions={"sni_hostname": ingress.server_name},
            ).status_code
            for n in range(40)
        ]
    assert 429 in statuses


def test_cloudflared_verifies_nginx_with_the_rendered_ca_and_server_name(
    nginx: Rendered, ingress: Ingress, nginx_address: str, connector_address: str
) -> None:
    with direct(ingress, nginx_address, connector_address) as connector:
        assert connector.get("/healthz", extensions={"sni_hostname": ingress.server_name}).status_code == 200
    # Without originServerName, cloudflared would check the container name, which the certificate lacks.
    with (
        direct(ingress, nginx_address, connector_address) as connector,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        connector.get("/healthz", extensions={"sni_hostname": str(urlsplit(ingress.service).hostname)})
