"""Edge protections, each over HTTP against the real nginx running a rendered hardened stack.

The gateway behind nginx is `gateway_standin.GatewayStandin` (a LiteLLM stand-in that records what
nginx forwards). Client addresses are loopback source addresses: 127.0.0.2-7 are inside the
allow-list, 127.0.0.9 is the admin network, 127.0.0.20 is outside.
"""

from __future__ import annotations

import http.client
import json
import math
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from components.render.nginx import FOREIGN_KEY_HEADERS, render_nginx_conf
from components.settings import parse_settings
from components.stack import nginx_context
from tests.live.conftest import GATEWAY_STANDIN_ADDRESS, EdgeRunner, Rendered
from tests.live.docker_dns import DockerDns
from tests.live.gateway_standin import GatewayStandin

HARDENED = {
    "exposure": "lan",
    "listenAddress": "127.0.0.1",
    "allowedCidrs": ["127.0.0.0/28"],
    "adminCidrs": ["127.0.0.8/30"],
    "clientRateLimit": "5",
    "clientRateBurst": "5",
    "keyRateLimit": "5",
    "keyRateBurst": "8",
    "connectionsPerClient": "3",
    "maxBodyMb": "1",
}
INSIDE, ADMIN, OUTSIDE = "127.0.0.2", "127.0.0.9", "127.0.0.20"
SPOOFING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "CF-Connecting-IP", "True-Client-IP", "Forwarded")


@pytest.fixture
def hardened(render: Callable[..., Rendered], edges: EdgeRunner, gateway_standin: GatewayStandin) -> Rendered:
    return edges.serve(render("hardened", **HARDENED), GATEWAY_STANDIN_ADDRESS)


def assert_json_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_clients_outside_the_allow_list_get_403(hardened: Rendered, gateway_standin: GatewayStandin) -> None:
    before = len(gateway_standin.requests)
    with hardened.client(OUTSIDE) as outside:
        assert_json_error(outside.get("/v1/models"), 403, "forbidden")
    with hardened.client(INSIDE) as inside:
        assert inside.get("/v1/models").status_code == 200
    assert len(gateway_standin.requests) == before + 1


@pytest.mark.parametrize("header", SPOOFING_HEADERS)
def test_spoofed_client_ip_headers_change_nothing(
    header: str, hardened: Rendered, gateway_standin: GatewayStandin
) -> None:
    with hardened.client(OUTSIDE) as outside:
        assert_json_error(outside.get("/v1/models", headers={header: INSIDE}), 403, "forbidden")
    with hardened.client("127.0.0.3") as inside:
        assert inside.get("/v1/models", headers={header: "203.0.113.7"}).status_code == 200
    forwarded = {k.lower(): v for k, v in gateway_standin.requests[-1]["headers"].items()}
    assert forwarded["x-forwarded-for"] == "127.0.0.3"
    assert forwarded["x-real-ip"] == "127.0.0.3"


def allowed_at_most(rate: int, burst: int, elapsed: float) -> int:
    """What nginx's leaky bucket can let through in `elapsed` seconds: the burst, and the rate."""
    return burst + 1 + math.ceil(rate * elapsed)


def test_rate_limit_per_client_ip_answers_429_json_with_retry_after(hardened: Rendered) -> None:
    with hardened.client("127.0.0.4") as client:
        started = time.monotonic()
        statuses = [client.get("/v1/models") for _ in range(15)]
        elapsed = time.monotonic() - started
    refused = [r for r in statuses if r.status_code == 429]
    assert refused, f"15 requests in {elapsed:.2f} s and none refused"
    assert 15 - len(refused) <= allowed_at_most(5, 5, elapsed)
    assert_json_error(refused[0], 429, "rate_limited")
    assert refused[0].headers["retry-after"] == "1"


def test_rate_limit_per_key_holds_across_addresses(hardened: Rendered) -> None:
    headers = {"Authorization": "Bearer sk-one-client-many-addresses"}
    sources = ["127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.10"]
    clients = [hardened.client(source) for source in sources]
    try:
        started = time.monotonic()
        statuses = [clients[i % len(clients)].get("/v1/models", headers=headers).status_code for i in range(16)]
        elapsed = time.monotonic() - started
    finally:
        for client in clients:
            client.close()
    # Four requests per address stay inside each address's burst: only the key's limit can refuse.
    assert statuses.count(200) <= allowed_at_most(5, 8, elapsed)
    assert 429 in statuses, f"16 requests in {elapsed:.2f} s and none refused"
    assert statuses[:8].count(200) == 8


def test_connections_per_client_are_limited(hardened: Rendered, gateway_standin: GatewayStandin) -> None:
    gateway_standin.chunk_delay = 0.5
    statuses: list[int] = []

    def stream() -> None:
        with hardened.client("127.0.0.11") as client:
            body = {"model": "m", "stream": True}
            with client.stream("POST", "/v1/chat/completions", json=body) as response:
                statuses.append(response.status_code)
                response.read()

    threads = [threading.Thread(target=stream) for _ in range(5)]
    try:
        for thread in threads:
            thread.start()
            time.sleep(0.05)
        for thread in threads:
            thread.join(timeout=10)
    finally:
        gateway_standin.chunk_delay = 0.0
    assert sorted(statuses) == [200, 200, 200, 429, 429]


def test_streamed_events_pass_as_they_are_sent(hardened: Rendered, gateway_standin: GatewayStandin) -> None:
    gateway_standin.chunk_delay = 0.3
    lags = []
    try:
        with (
            hardened.client("127.0.0.12") as client,
            client.stream("POST", "/v1/chat/completions", json={"stream": True}) as response,
        ):
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    lags.append(time.time() - json.loads(line[6:])["sent_at"])
    finally:
        gateway_standin.chunk_delay = 0.0
    assert len(lags) == 4
    assert max(lags) < 0.15, f"events were held back: {lags}"


def test_admin_routes_only_from_the_admin_network(hardened: Rendered, gateway_standin: GatewayStandin) -> None:
    with hardened.client(ADMIN) as admin:
        response = admin.get("/key/info")
        assert response.status_code == 200
        assert response.json() == {"echo": "/key/info"}
    with hardened.client(INSIDE) as client:
        assert_json_error(client.get("/key/info"), 403, "forbidden")
    for source in (INSIDE, ADMIN):  # LiteLLM answers these without a key: nobody gets them
        with hardened.client(source) as client:
            for path in ("/", "/openapi.json", "/ui/", "/metrics", "/metrics/"):
                assert_json_error(client.get(path), 404, "not_found")


def test_bodies_over_the_limit_get_413_json(hardened: Rendered) -> None:
    with hardened.client("127.0.0.13") as client:
        assert_json_error(
            client.post("/v1/chat/completions", content=b"x" * (1024 * 1024 + 1)), 413, "request_too_large"
        )
        assert client.post("/v1/chat/completions", json={"model": "m", "pad": "x" * 500_000}).status_code == 200


def test_overlong_uris_get_414_json(hardened: Rendered) -> None:
    with hardened.client("127.0.0.14") as client:
        assert_json_error(client.get("/v1/models?" + "a" * 20_000), 414, "uri_too_long")


def test_internal_response_headers_are_stripped(hardened: Rendered) -> None:
    with hardened.client(INSIDE) as client:
        response = client.get("/v1/models")
    assert response.status_code == 200
    assert "x-litellm-model-api-base" not in response.headers
    assert "x-litellm-version" not in response.headers
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "nginx/" not in response.headers.get("server", "")


def test_health_needs_no_backend_and_touches_none(hardened: Rendered, gateway_standin: GatewayStandin) -> None:
    before = len(gateway_standin.requests)
    with hardened.client(INSIDE) as client:
        response = client.get("/healthz")
    assert response.json() == {"status": "ok"}
    assert len(gateway_standin.requests) == before


def test_access_log_is_json_with_the_real_client_and_no_key(hardened: Rendered, edges: EdgeRunner) -> None:
    key = "sk-never-log-me-0123456789"
    with hardened.client("127.0.0.6") as client:
        client.get("/v1/models", headers={"Authorization": f"Bearer {key}", "X-Forwarded-For": "198.51.100.1"})
    time.sleep(0.2)  # nginx writes the log line after the response
    lines = [json.loads(line) for line in edges.logs["access"].read_text().splitlines() if line.startswith("{")]
    mine = [line for line in lines if line["client"] == "127.0.0.6" and line["path"] == "/v1/models"]
    assert mine
    assert {"status", "request_time", "upstream_time", "request_id", "user"} <= set(mine[-1])
    assert key not in edges.logs["access"].read_text()
    assert "198.51.100.1" not in edges.logs["access"].read_text()


def test_nginx_follows_a_moved_gateway_without_restarting(
    hardened: Rendered, edges: EdgeRunner, docker_dns: DockerDns
) -> None:
    moved = GatewayStandin("127.0.0.42", 4000)
    nginx_pid = edges.process.pid if edges.process else None
    try:
        docker_dns.set("litellm", "127.0.0.42")
        time.sleep(5.5)  # the resolver's valid= window
        with hardened.client(INSIDE) as client:
            assert client.get("/v1/models").status_code == 200
        assert [r["path"] for r in moved.requests] == ["/v1/models"]
        assert edges.process is not None
        assert edges.process.pid == nginx_pid
        assert edges.process.poll() is None
    finally:
        docker_dns.set("litellm", GATEWAY_STANDIN_ADDRESS)
        moved.close()
        edges.stop()  # the next test starts from a fresh DNS cache


CONNECTOR = "127.0.0.50"
"""Where the tunnel connector (cloudflared) would connect from: the only trusted real-IP source."""


@pytest.fixture
def behind_connector(hardened: Rendered, edges: EdgeRunner, tmp_path: Path) -> Rendered:
    """The hardened edge as the tunnel mode will render it: trusting CF-Connecting-IP from the connector."""
    settings = parse_settings(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in HARDENED.items()},
        stack="connector",
        secret_keys=frozenset(),
    )
    context = replace(nginx_context(settings), trusted_proxy_cidrs=(f"{CONNECTOR}/32",))
    directory = tmp_path / "render"
    shutil.copytree(hardened.directory, directory)
    directory.chmod(0o755)
    tmp_path.chmod(0o755)
    (directory / "containers/edge-container/etc/nginx/nginx.conf").write_text(render_nginx_conf(context))
    return edges.serve(Rendered(directory, hardened.result), GATEWAY_STANDIN_ADDRESS)


def test_real_client_ip_comes_from_the_connector_only(
    behind_connector: Rendered, gateway_standin: GatewayStandin
) -> None:
    with behind_connector.client(CONNECTOR) as connector:
        relayed = connector.get("/v1/models", headers={"CF-Connecting-IP": INSIDE})
        assert relayed.status_code == 200
        forwarded = {k.lower(): v for k, v in gateway_standin.requests[-1]["headers"].items()}
        assert forwarded["x-forwarded-for"] == INSIDE
        assert_json_error(connector.get("/v1/models", headers={"CF-Connecting-IP": OUTSIDE}), 403, "forbidden")
    with behind_connector.client(OUTSIDE) as direct:
        spoofed = direct.get("/v1/models", headers={"CF-Connecting-IP": INSIDE, "X-Forwarded-For": INSIDE})
        assert_json_error(spoofed, 403, "forbidden")


def test_rate_limits_follow_the_relayed_client_not_the_connector(behind_connector: Rendered) -> None:
    with behind_connector.client(CONNECTOR) as connector:
        first = [connector.get("/v1/models", headers={"CF-Connecting-IP": "127.0.0.3"}) for _ in range(12)]
        other = connector.get("/v1/models", headers={"CF-Connecting-IP": "127.0.0.7"})
    assert 429 in [r.status_code for r in first], "one relayed client exhausts its own limit"
    assert other.status_code == 200, "another client behind the same connector is unaffected"


def raw_get(stack: Rendered, path: str, source: str = INSIDE) -> int:
    """GET `path` exactly as written (httpx would resolve `..` itself); the status."""
    host, port = stack.origin.removeprefix("https://").rsplit(":", 1)
    connection = http.client.HTTPSConnection(host, int(port), context=stack.trust(), source_address=(source, 0))
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("path", ["/files/../v1/models", "/v1/%6dodels", "//v1//models", "/v1/./models"])
def test_the_gateway_gets_the_path_nginx_checked(
    path: str, hardened: Rendered, gateway_standin: GatewayStandin
) -> None:
    # LiteLLM resolves neither `..` nor escapes: forwarded as sent, /files/../v1/models would pass
    # nginx's allow-list as /v1/models and reach LiteLLM's files route.
    assert raw_get(hardened, path) == 200
    assert gateway_standin.requests[-1]["path"] == "/v1/models"


def test_api_routes_forward_no_query_string_admin_routes_do(
    hardened: Rendered, gateway_standin: GatewayStandin
) -> None:
    # LiteLLM takes `model` from the query string over the body's: past the model allow-list.
    with hardened.client(INSIDE) as client:
        assert client.get("/v1/models?model=other").status_code == 200
    assert gateway_standin.requests[-1]["path"] == "/v1/models"
    with hardened.client(ADMIN) as admin:
        assert admin.get("/key/info?key=a%20b").status_code == 200
    assert gateway_standin.requests[-1]["path"] == "/key/info?key=a%20b"


def test_admin_networks_get_the_checked_path_too(hardened: Rendered, gateway_standin: GatewayStandin) -> None:
    assert raw_get(hardened, "/files/../key/info", source=ADMIN) == 200
    assert gateway_standin.requests[-1]["path"] == "/key/info"
    # An escaped line break would end up in the request line to LiteLLM: not a path nginx proxies.
    assert raw_get(hardened, "/key/info%0d%0aX-Injected:%20yes", source=ADMIN) == 404


def test_keys_in_other_headers_never_reach_the_gateway(hardened: Rendered, gateway_standin: GatewayStandin) -> None:
    with hardened.client(INSIDE) as client:
        assert client.get("/v1/models", headers=dict.fromkeys(FOREIGN_KEY_HEADERS, "sk-elsewhere")).status_code == 200
    forwarded = {name.lower() for name in gateway_standin.requests[-1]["headers"]}
    assert not forwarded & {name.lower() for name in FOREIGN_KEY_HEADERS}


def test_rate_limit_per_key_holds_for_every_spelling_of_the_key(hardened: Rendered) -> None:
    key = "sk-one-key-many-spellings"
    # Every form the auth hook accepts (tests/live/test_gateway.py: other forms get 401 there).
    spellings = [
        {"Authorization": f"Bearer {key}"},
        {"Authorization": f"bearer {key}"},
        {"Authorization": key},
        {"x-litellm-api-key": f"Bearer {key}"},
    ]
    sources = ["127.0.0.3", "127.0.0.8", "127.0.0.13", "127.0.0.14"]
    clients = [hardened.client(source) for source in sources]
    try:
        started = time.monotonic()
        statuses = [clients[i % 4].get("/v1/models", headers=spellings[i // 4]).status_code for i in range(16)]
        elapsed = time.monotonic() - started
    finally:
        for client in clients:
            client.close()
    # Four requests per address and per spelling: only one bucket for the key can refuse them.
    assert statuses.count(200) <= allowed_at_most(5, 8, elapsed)
    assert statuses[:8].count(200) == 8


@pytest.mark.parametrize(
    ("header", "value", "source"),
    [
        ("X-Accel-Redirect", "/healthz", "127.0.0.11"),
        ("X-Accel-Buffering", "yes", "127.0.0.12"),
        ("X-Accel-Limit-Rate", "1", "127.0.0.15"),
    ],
)
def test_the_gateway_cannot_steer_nginx_with_x_accel_headers(
    header: str, value: str, source: str, hardened: Rendered, gateway_standin: GatewayStandin
) -> None:
    # Honoured, X-Accel-Redirect would answer with any internal location nginx serves instead.
    gateway_standin.extra_headers = {header: value}
    try:
        with hardened.client(source) as client:
            started = time.monotonic()
            response = client.get("/v1/models")
            elapsed = time.monotonic() - started
    finally:
        gateway_standin.extra_headers = {}
    assert response.status_code == 200
    assert response.json()["data"][0]["id"] == "standin-model", "the gateway's answer, not a redirect's"
    assert header.lower() not in response.headers
    assert elapsed < 1, "not throttled to a byte a second"


def test_only_the_last_relayed_address_counts(behind_connector: Rendered) -> None:
    # `real_ip_recursive off`: with it on, a list ending in a trusted address would let the
    # address before it (which the client wrote) through the allow-list.
    with behind_connector.client(CONNECTOR) as connector:
        listed = connector.get("/v1/models", headers={"CF-Connecting-IP": f"{INSIDE}, {CONNECTOR}"})
        assert_json_error(listed, 403, "forbidden")
        assert connector.get("/v1/models", headers={"CF-Connecting-IP": f"{OUTSIDE}, {INSIDE}"}).status_code == 200
