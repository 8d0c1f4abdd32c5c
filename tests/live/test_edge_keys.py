"""The key LiteLLM checks is the key the edge counted, however the client spells the header.

nginx's per-key limit reads `$api_key` (nginx.conf's map); uvicorn strips spaces and tabs around a
header value before the auth hook reads it. Spellings the map does not read as the key (a tab
before `Bearer`, say: HTTP/1.1 nginx strips only spaces, HTTP/2 strips nothing) each got a bucket
of their own while LiteLLM accepted the key. Headers go out byte for byte here, over raw HTTP/1.1
and raw HTTP/2: httpx and the h2 defaults refuse or trim such values.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import h2.config
import h2.connection
import h2.events
import pytest

from tests.live.conftest import GATEWAY_STANDIN_ADDRESS, EdgeRunner, Gateway, Rendered
from tests.live.gateway_standin import GatewayStandin
from tests.live.test_edge import HARDENED, allowed_at_most

Header = tuple[str, str]
SOURCES = [f"127.0.0.{n}" for n in (1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15)]
"""Inside HARDENED's allow-list; requests spread over them so no address's own limit refuses first."""


def spellings(key: str) -> list[Header]:
    """The key in every whitespace spelling around it, in both headers the edge reads it from."""
    spaces = ["\t", "\t" * 3, " \t", "\t ", " " * 2, "\t\t \t"]
    values = [f"{pad}Bearer {key}" for pad in spaces] + [f"Bearer {key}{pad}" for pad in spaces]
    values += [f"{pad}{key}" for pad in spaces] + [f"Bearer\t{key}"]
    return [(name, value) for value in values for name in ("Authorization", "x-litellm-api-key")]


@contextmanager
def tls_to(stack: Rendered, source: str, alpn: str) -> Iterator[socket.socket]:
    host, port = stack.origin.removeprefix("https://").rsplit(":", 1)
    context = stack.trust()
    context.set_alpn_protocols([alpn])
    with (
        socket.create_connection((host, int(port)), source_address=(source, 0)) as tcp,
        context.wrap_socket(tcp, server_hostname=host) as tls,
    ):
        assert tls.selected_alpn_protocol() == alpn
        yield tls


def http1(stack: Rendered, source: str, header: Header, path: str = "/v1/models") -> int:
    """GET `path` over HTTP/1.1 with `header` exactly as given (no space added after the colon)."""
    with tls_to(stack, source, "http/1.1") as tls:
        request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{header[0]}:{header[1]}\r\n\r\n"
        tls.sendall(request.encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def http2(stack: Rendered, source: str, header: Header, path: str = "/v1/models") -> int:
    """GET `path` over HTTP/2 with `header` exactly as given (h2 neither checks nor trims it)."""
    config = h2.config.H2Configuration(validate_outbound_headers=False, normalize_outbound_headers=False)
    connection = h2.connection.H2Connection(config)
    connection.initiate_connection()
    request = [(":method", "GET"), (":path", path), (":scheme", "https"), (":authority", "localhost")]
    connection.send_headers(1, [*request, (header[0].lower(), header[1])], end_stream=True)
    status = 0
    with tls_to(stack, source, "h2") as tls:
        tls.sendall(connection.data_to_send())
        while data := tls.recv(65536):
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = int(dict(event.headers)[b":status"])
                if isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                    return status
            tls.sendall(connection.data_to_send())
    return status


PROTOCOLS = {"HTTP/1.1": http1, "HTTP/2": http2}


@pytest.fixture
def before_litellm(render: Callable[..., Rendered], edges: EdgeRunner, gateway: Gateway) -> Rendered:
    """The hardened edge (5 r/s per key, burst 8) in front of the real LiteLLM."""
    return edges.serve(render("hardened", **HARDENED), gateway.address)


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_no_whitespace_spelling_of_a_key_escapes_the_per_key_limit(
    protocol: str, before_litellm: Rendered, dev: Rendered
) -> None:
    # Keys the real LiteLLM (the dev stack's) accepts, one per protocol so that each has a fresh
    # bucket: every render shares the seed, so the master key is the same in this stack.
    send = PROTOCOLS[protocol]
    key = dev.outputs["masterKey"] if protocol == "HTTP/1.1" else dev.outputs["clients"]["dev"]["apiKey"]
    # The key's bucket first, spelt plainly (burst 8 and one more): then the other spellings.
    requests = [("Authorization", f"Bearer {key}")] * 9 + spellings(key)
    started = time.monotonic()
    statuses = [send(before_litellm, SOURCES[i % len(SOURCES)], header) for i, header in enumerate(requests)]
    elapsed = time.monotonic() - started
    assert statuses[:9] == [200] * 9
    assert set(statuses) <= {200, 401, 429}, statuses
    assert statuses.count(200) <= allowed_at_most(5, 8, elapsed), (elapsed, list(zip(requests, statuses, strict=True)))


@pytest.fixture
def before_standin(render: Callable[..., Rendered], edges: EdgeRunner, gateway_standin: GatewayStandin) -> Rendered:
    return edges.serve(render("hardened", **HARDENED), GATEWAY_STANDIN_ADDRESS)


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_litellm_gets_the_key_the_edge_counted_or_none(
    protocol: str, before_standin: Rendered, gateway_standin: GatewayStandin
) -> None:
    send = PROTOCOLS[protocol]
    key = f"sk-{protocol[-1]}-counted-as-sent"
    canonical = [("Authorization", f"Bearer {key}"), ("Authorization", f"bEaReR {key}"), ("x-litellm-api-key", key)]
    for index, header in enumerate(canonical + spellings(key)):
        before = len(gateway_standin.requests)
        status = send(before_standin, SOURCES[index % len(SOURCES)], header)
        assert status in (200, 429), header
        if status == 429:  # the key's bucket, shared by every spelling nginx read the key from
            assert len(gateway_standin.requests) == before
            continue
        forwarded = {name.lower(): value for name, value in gateway_standin.requests[-1]["headers"].items()}
        assert "authorization" not in forwarded, header
        assert forwarded.get("x-litellm-api-key") in (key, None), header
        if header in canonical:
            assert forwarded["x-litellm-api-key"] == key, header
