"""Brute-force bans through the real nginx and the real LiteLLM (fail2ban's semantics, issue #17).

A LiteLLM with a short ban time serves a local stack, the same stack with basic auth, and the prod
(tunnel) stack behind the cloudflared stand-in; all three have a client `laptop` with the same key
(one seed). Each test bans its own client addresses (loopback addresses here, 203.0.113.0/24 behind
the tunnel), so the tests stay apart. A second LiteLLM with an hour's ban is restarted to show a ban
outlives it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx
import pytest

from offline.render import read_stack_file
from tests.live.cloudflared_standin import CloudflaredStandIn, Ingress
from tests.live.conftest import EdgeRunner, Gateway, Rendered, running_gateway, start_gateway, stop_gateway
from tests.live.docker_dns import DockerDns
from tests.live.ollama_standin import OllamaStandin
from tests.live.test_tunnel_live import (  # noqa: F401 - fixtures of the tunnel emulation
    ALLOWED_CLIENTS,
    EDGE_STANDIN,
    connector_address,
    direct,
    intruder_address,
    nginx_address,
    prod,
    tunnel_addresses,
    tunnel_subnet,
    via_cloudflare,
)
from tests.support import PROJECT_DIR

BAN_SECONDS = 8
SHORT_BANS = {"banMaxRetry": "3", "banFindTimeSeconds": "600", "banTimeSeconds": str(BAN_SECONDS)}
CLIENTS: dict[str, Any] = {"laptop": {}}
ADMINS = "127.0.0.150/31"
"""adminCidrs of the stack the module's LiteLLM serves, spared by banExemptAdmins."""
GATEWAY_ADDRESS, RESTARTED_ADDRESS = "127.0.0.27", "127.0.0.28"
WRONG = {"Authorization": "Bearer sk-not-a-key-of-this-stack"}
FORGING = ("X-Forwarded-For", "X-Real-IP", "CF-Connecting-IP", "True-Client-IP")


@pytest.fixture(scope="module")
def local(render: Callable[..., Rendered]) -> Rendered:
    return render("bans", clients=CLIENTS, adminCidrs=[ADMINS], banExemptAdmins="true", **SHORT_BANS)


@pytest.fixture(scope="module")
def litellm(local: Rendered, ollama: OllamaStandin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(local, GATEWAY_ADDRESS, tmp_path_factory.mktemp("litellm-bans")) as running:
        yield running


@pytest.fixture
def edge(edges: EdgeRunner, local: Rendered, litellm: Gateway) -> Rendered:
    return edges.serve(local, litellm.address)


def valid(stack: Rendered) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.outputs['clients']['laptop']['apiKey']}"}


def assert_banned(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]  # OpenAI's error shape, which clients' SDKs parse
    assert (error["type"], error["code"]) == ("address_banned", "403")
    assert "Too many failed authentications" in error["message"]
    assert 1 <= int(response.headers["retry-after"]) <= BAN_SECONDS
    assert response.headers["strict-transport-security"].startswith("max-age="), "the edge's headers too"


def ban(client: httpx.Client, **headers: str) -> None:
    """Three wrong keys: two plain refusals, then the third begins the ban."""
    statuses = [client.get("/v1/models", headers={**WRONG, **headers}).status_code for _ in range(3)]
    assert statuses == [401, 401, 403]


def gateway_log(gateway: Gateway) -> str:
    """What the LiteLLM process wrote (start_gateway keeps it beside the emulated keys volume)."""
    return (gateway.keys_volume.parent / "litellm.log").read_text()


def test_wrong_keys_ban_the_address_a_valid_key_included_and_no_other(edge: Rendered) -> None:
    with edge.client("127.0.0.110") as attacker, edge.client("127.0.0.111") as neighbour:
        ban(attacker)
        assert_banned(attacker.get("/v1/models", headers=valid(edge)))
        assert_banned(attacker.get("/v1/models"))  # no key at all: still the ban
        assert neighbour.get("/v1/models", headers=valid(edge)).status_code == 200


def test_the_ban_ends_after_its_time_and_both_ends_are_logged(edge: Rendered, litellm: Gateway) -> None:
    with edge.client("127.0.0.112") as client:
        ban(client)
        refused = client.get("/v1/models", headers=valid(edge))
        assert_banned(refused)
        time.sleep(int(refused.headers["retry-after"]) + 0.5)
        assert client.get("/v1/models", headers=valid(edge)).status_code == 200
    time.sleep(0.5)
    logged = [json.loads(line) for line in gateway_log(litellm).splitlines() if line.startswith("{")]
    events = [line for line in logged if line.get("address") == "127.0.0.112"]
    assert [line["event"] for line in events] == ["ban", "unban"], gateway_log(litellm)[-3000:]
    assert WRONG["Authorization"].split()[1] not in gateway_log(litellm), "the log names the address, never a key"


def test_a_revoked_key_counts_as_a_failure(edge: Rendered, litellm: Gateway, render: Callable[..., Rendered]) -> None:
    both = render("bans-with-intern", clients={**CLIENTS, "intern": {}}, **SHORT_BANS)
    assert valid(both) == valid(edge), "one seed: the same key for laptop in both renders"
    intern = {"Authorization": f"Bearer {both.outputs['clients']['intern']['apiKey']}"}
    with edge.client("127.0.0.160") as client:
        try:
            litellm.deliver_keys(both)
            assert client.get("/v1/models", headers=intern).status_code == 200
        finally:
            litellm.deliver_keys()  # intern's key is gone: revoked
        statuses = [client.get("/v1/models", headers=intern).status_code for _ in range(3)]
        assert statuses == [401, 401, 403]
        assert_banned(client.get("/v1/models", headers=valid(edge)))


def test_admin_networks_are_spared_when_asked(edge: Rendered) -> None:
    admin, outside = ADMINS.split("/")[0], "127.0.0.152"  # 127.0.0.150/31 holds .150 and .151 only
    with edge.client(admin) as spared, edge.client(outside) as other:
        assert [spared.get("/v1/models", headers=WRONG).status_code for _ in range(6)] == [401] * 6
        assert spared.get("/v1/models", headers=valid(edge)).status_code == 200
        ban(other)


@pytest.mark.parametrize("header", FORGING)
def test_forged_forwarding_headers_neither_dodge_a_ban_nor_frame_another_address(edge: Rendered, header: str) -> None:
    octet = 120 + FORGING.index(header) * 2
    attacker, victim = f"127.0.0.{octet}", f"127.0.0.{octet + 1}"
    with edge.client(attacker) as forger, edge.client(victim) as innocent:
        # Every failure claims to come from the victim: the attacker's own address is banned.
        ban(forger, **{header: victim})
        assert innocent.get("/v1/models", headers=valid(edge)).status_code == 200
        # Claiming another address does not lift the attacker's ban either.
        assert_banned(forger.get("/v1/models", headers={**valid(edge), header: "127.0.0.199"}))


def test_wrong_basic_auth_passwords_count_and_missing_credentials_do_not(
    render: Callable[..., Rendered], edges: EdgeRunner, litellm: Gateway
) -> None:
    stack = edges.serve(render("bans-basic-auth", basicAuth="true", clients=CLIENTS, **SHORT_BANS), litellm.address)
    headers = stack.outputs["clients"]["laptop"]["headers"]
    with stack.client("127.0.0.130") as guesser, stack.client("127.0.0.131") as other:
        # A client's first request comes without credentials: not a guess, however often.
        for _ in range(4):
            first = guesser.get("/v1/models")
            assert first.status_code == 401
            assert first.headers.get("content-type") == "application/json", (first.headers, first.text)
            assert first.json()["error"]["code"] == "unauthorized"
            assert first.headers["www-authenticate"].startswith("Basic")
        statuses = [guesser.get("/v1/models", auth=("llmstack", "guess")).status_code for _ in range(3)]
        assert statuses == [401, 401, 403]
        assert_banned(guesser.get("/v1/models", headers=headers))
        assert other.get("/v1/models", headers=headers).status_code == 200


class Tunnel(NamedTuple):
    """The prod stack's edge, served behind the cloudflared stand-in."""

    stack: Rendered
    cloudflared: CloudflaredStandIn
    ingress: Ingress
    nginx_address: str


@pytest.fixture
def tunnel(
    render: Callable[..., Rendered],
    edges: EdgeRunner,
    litellm: Gateway,
    docker_dns: DockerDns,
    nginx_address: str,  # noqa: F811
    connector_address: str,  # noqa: F811
    tunnel_addresses: None,  # noqa: F811
) -> Iterator[Tunnel]:
    """The prod stack (Pulumi.prod.yaml) behind the cloudflared stand-in and the module's real LiteLLM.

    The bans are the LiteLLM's, so the module's (`local`): three failures, BAN_SECONDS.
    """
    config, _ = read_stack_file("prod", PROJECT_DIR, notify=lambda _: None)
    plain = {key.removeprefix("llmstack:"): value for key, value in config.items()}
    stack = render("prod-bans", **plain, **SHORT_BANS)
    rule = stack.inputs("tunnel-config")["config"]["ingresses"][0]
    origin = rule["originRequest"]
    ingress = Ingress(
        hostname=rule["hostname"],
        service=rule["service"],
        server_name=origin["originServerName"],
        ca_file=stack.container_dir("tunnel-container") / origin["caPool"].lstrip("/"),
    )
    docker_dns.set(str(urlsplit(ingress.service).hostname), nginx_address)
    edges.serve(stack, litellm.address)
    standin = CloudflaredStandIn(
        listen=EDGE_STANDIN[0], port=EDGE_STANDIN[1], source=connector_address, ingress=ingress
    )
    yield Tunnel(stack, standin, ingress, nginx_address)
    standin.close()


def test_behind_the_tunnel_the_ban_follows_the_client_cloudflare_saw(tunnel: Tunnel) -> None:
    stack, cloudflared = tunnel.stack, tunnel.cloudflared
    attacker, other = ALLOWED_CLIENTS[0], ALLOWED_CLIENTS[1]
    with via_cloudflare(cloudflared, attacker) as banned, via_cloudflare(cloudflared, other) as neighbour:
        # The attacker claims to be its neighbour; Cloudflare's edge overwrites the claim.
        ban(banned, **{"CF-Connecting-IP": other, "X-Forwarded-For": other})
        assert_banned(banned.get("/v1/models", headers=valid(stack)))
        # Every request reaches nginx from the one connector; only the attacker is banned.
        assert neighbour.get("/v1/models", headers=valid(stack)).status_code == 200


def test_a_ban_survives_a_restart_of_litellm(
    render: Callable[..., Rendered],
    edges: EdgeRunner,
    ollama: OllamaStandin,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # The volume is the emulated container's own directory (the render's), the same for both runs.
    stack = render("bans-long", clients=CLIENTS, banMaxRetry="3", banTimeSeconds="3600")
    gateway = start_gateway(stack, RESTARTED_ADDRESS, tmp_path_factory.mktemp("litellm-bans-1"))
    try:
        edges.serve(stack, RESTARTED_ADDRESS)
        with stack.client("127.0.0.140") as client:
            ban(client)
    finally:
        stop_gateway(gateway)
    with running_gateway(stack, RESTARTED_ADDRESS, tmp_path_factory.mktemp("litellm-bans-2")) as restarted:
        edges.serve(stack, restarted.address)
        with stack.client("127.0.0.140") as client, stack.client("127.0.0.141") as other:
            refused = client.get("/v1/models", headers=valid(stack))
            assert refused.status_code == 403, refused.text
            assert 3000 < int(refused.headers["retry-after"]) <= 3600
            assert other.get("/v1/models", headers=valid(stack)).status_code == 200


def test_behind_the_tunnel_a_peer_other_than_cloudflared_can_neither_frame_nor_dodge(tunnel: Tunnel) -> None:
    # An allowed address reaching nginx itself, not through cloudflared: its forwarding headers are
    # not believed, so its failures are its own, whatever client it names.
    spoofer, victim = ALLOWED_CLIENTS[3], ALLOWED_CLIENTS[2]
    claims = {"CF-Connecting-IP": victim, "X-Forwarded-For": victim}
    sni = {"sni_hostname": tunnel.ingress.server_name}
    with direct(tunnel.ingress, tunnel.nginx_address, spoofer) as forger:
        statuses = [forger.get("/v1/models", headers={**WRONG, **claims}, extensions=sni).status_code for _ in range(3)]
        assert statuses == [401, 401, 403]
        assert_banned(forger.get("/v1/models", headers={**valid(tunnel.stack), **claims}, extensions=sni))
    with via_cloudflare(tunnel.cloudflared, victim) as innocent:
        assert innocent.get("/v1/models", headers=valid(tunnel.stack)).status_code == 200
