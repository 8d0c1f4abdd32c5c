"""Stand-in for Cloudflare's edge and cloudflared, for tunnel-mode tests against the real nginx.

The real path: a client connects to Cloudflare's edge, which sets `CF-Connecting-IP` to the address
the client connected from (replacing whatever the client sent) and hands the request down the
tunnel; cloudflared sends it to the origin its ingress rule names, over TLS verified as the rule
says. This stand-in does both in one process: it listens on a loopback address for plain HTTP
(standing in for Cloudflare's edge), and forwards each request from the connector's own address
(the one source nginx trusts) to the ingress origin, verifying nginx's certificate with the rule's
`caPool` and `originServerName`. It reads whole bodies before forwarding: no streaming.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
)


@dataclass(frozen=True, kw_only=True)
class Ingress:
    """What cloudflared's first ingress rule tells it (from the rendered tunnel config)."""

    hostname: str
    """The public hostname the rule matches."""
    service: str
    """The origin, e.g. `https://llmstack-prod-nginx:8443`."""
    server_name: str
    """`originServerName`: the name nginx's certificate must carry."""
    ca_file: Path
    """`caPool`, as a file on this machine."""


class CloudflaredStandIn:
    """Cloudflare's edge plus cloudflared: listens on `listen:port`, connects to nginx from `source`."""

    def __init__(self, *, listen: str, port: int, source: str, ingress: Ingress) -> None:
        self.ingress = ingress
        trust = ssl.create_default_context(cafile=str(ingress.ca_file))
        self._origin = httpx.Client(
            transport=httpx.HTTPTransport(verify=trust, local_address=source), base_url=ingress.service, timeout=30
        )
        handler = type("Handler", (_Handler,), {"standin": self})
        self._server = ThreadingHTTPServer((listen, port), handler)
        self._server.daemon_threads = True
        self.url = f"http://{listen}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="cloudflared-standin", daemon=True)
        self._thread.start()

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes, client: str) -> httpx.Response:
        """Send one request down the tunnel as the edge and cloudflared would."""
        sent = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "cf-connecting-ip"}
        sent |= {"Host": self.ingress.hostname, "CF-Connecting-IP": client, "X-Forwarded-Proto": "https"}
        return self._origin.request(
            method, path, headers=sent, content=body, extensions={"sni_hostname": self.ingress.server_name}
        )

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._origin.close()


class _Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes; with Nagle on, keep-alive clients wait ~40 ms.
    disable_nagle_algorithm = True
    standin: CloudflaredStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: nginx's access log and the gateway stand-in record what matters."""

    def do_GET(self) -> None:
        self._relay(b"")

    def do_POST(self) -> None:
        self._relay(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

    def _relay(self, body: bytes) -> None:
        try:
            response = self.standin.forward(
                self.command, self.path, dict(self.headers), body, client=self.client_address[0]
            )
        except httpx.HTTPError as error:
            # What Cloudflare answers when cloudflared cannot reach or verify the origin.
            self._send(502, {"content-type": "text/plain"}, f"origin unreachable: {error}".encode())
            return
        self._send(response.status_code, dict(response.headers), response.content)

    def _send(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-encoding":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)


PPROF_MARKER = "standin-heap-profile:TUNNEL-TOKEN-eyJhIjoiMDEyMyIsInQiOiJ0dW5uZWwiLCJzIjoic2VjcmV0In0"
"""What the stand-in's heap profile holds: in the real one, the tunnel token. It must never leave."""
HA_CONNECTIONS = "cloudflared_tunnel_ha_connections"


class MetricsServerStandIn:
    """cloudflared's metrics server (`--metrics ADDR`): `/metrics`, `/ready` and Go's `/debug/pprof`, one listener.

    As in cloudflared (metrics/metrics.go): `/metrics` is Prometheus's handler with the gauge
    `cloudflared_tunnel_ha_connections`; `/ready` answers 200 with at least one connection, else 503;
    `/debug/pprof/` is net/http/pprof, whose heap profile here holds `PPROF_MARKER`. `paths` records
    every request target it received, as sent.
    """

    def __init__(self, host: str, port: int, connections: int = 4) -> None:
        self.connections = connections
        self.paths: list[str] = []
        handler = type("Handler", (_MetricsHandler,), {"standin": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-standin", daemon=True)
        self._thread.start()

    def answer(self, path: str) -> tuple[int, bytes]:
        """Status and body for a GET of `path` (with its query string)."""
        self.paths.append(path)
        route = path.split("?", 1)[0]
        if route == "/metrics":
            gauge = f"# HELP {HA_CONNECTIONS} Number of active ha connections\n# TYPE {HA_CONNECTIONS} gauge\n"
            return 200, f"{gauge}{HA_CONNECTIONS} {self.connections}\n".encode()
        if route == "/ready":
            status = 200 if self.connections > 0 else 503
            return status, f'{{"status":{status},"readyConnections":{self.connections}}}'.encode()
        if route.startswith("/debug/pprof/heap"):
            return 200, PPROF_MARKER.encode()
        if route.startswith("/debug/pprof"):
            return 200, b"/debug/pprof/ profiles: heap goroutine allocs"
        return 404, b"404 page not found\n"

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


class _MetricsHandler(BaseHTTPRequestHandler):
    standin: MetricsServerStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: `paths` records what matters."""

    def do_GET(self) -> None:
        status, body = self.standin.answer(self.path)
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.do_GET()
