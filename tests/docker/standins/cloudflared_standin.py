#!/usr/bin/env python3
"""Stand-in for the `cloudflared` binary of cloudflare/cloudflared (test double: no Cloudflare here).

Installed as /usr/local/bin/cloudflared; answers the verbs the stack runs:
- `cloudflared tunnel --no-autoupdate --metrics ADDR run` (token in TUNNEL_TOKEN_FILE or TUNNEL_TOKEN): reads
  the remotely managed ingress of the token's tunnel (delivered by the applier as
  /etc/cloudflared/standin-remote-config.json, standing in for Cloudflare's API), serves `/ready` on
  ADDR, and runs `tests/live/cloudflared_standin.CloudflaredStandIn`: Cloudflare's edge (plain HTTP
  on 127.0.0.1:8080 inside this container; the address a client connects from becomes its
  `CF-Connecting-IP`) plus the connector (forwards to the ingress origin from this container's own
  address, verifying nginx with the rule's `caPool` and `originServerName`); on ADDR, cloudflared's
  metrics server (`MetricsServerStandIn`: `/metrics`, `/ready`, and a pprof heap holding a marker).
- `cloudflared tunnel --metrics ADDR ready`: exit 0 when ADDR/ready answers 200 (the healthcheck).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, "/opt/standin")
from tests.live.cloudflared_standin import CloudflaredStandIn, Ingress, MetricsServerStandIn

REMOTE_CONFIG = Path("/etc/cloudflared/standin-remote-config.json")
EDGE = ("127.0.0.1", 8080)
"""Where the Cloudflare-edge half listens, inside this container (clients: `docker exec`)."""


def _metrics(argv: list[str]) -> tuple[str, int]:
    host, _, port = argv[argv.index("--metrics") + 1].rpartition(":")
    return host, int(port)


def run(argv: list[str]) -> int:
    # cloudflared reads the token from TUNNEL_TOKEN_FILE (trimmed), else from TUNNEL_TOKEN.
    token_file = os.environ.get("TUNNEL_TOKEN_FILE")
    raw = Path(token_file).read_text().strip() if token_file else os.environ["TUNNEL_TOKEN"]
    token = json.loads(base64.b64decode(raw))
    config = json.loads(REMOTE_CONFIG.read_text())[token["t"]]
    rule = config["ingresses"][0]
    origin = rule.get("originRequest") or {}
    ingress = Ingress(
        hostname=rule["hostname"],
        service=rule["service"],
        server_name=origin["originServerName"],
        ca_file=Path(origin["caPool"]),
    )
    standin = CloudflaredStandIn(listen=EDGE[0], port=EDGE[1], source="0.0.0.0", ingress=ingress)  # noqa: S104 - the kernel picks the source, as for cloudflared
    MetricsServerStandIn(*_metrics(argv))
    print(f"cloudflared stand-in: tunnel {token['t']} → {ingress.service}; edge on {EDGE}", flush=True)
    standin._thread.join()
    return 0


def ready(argv: list[str]) -> int:
    host, port = _metrics(argv)
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/ready", timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"not ready: {error}", file=sys.stderr)
        return 1


def main(argv: list[str]) -> int:
    if argv[:1] == ["tunnel"] and argv[-1:] == ["run"]:
        return run(argv)
    if argv[:1] == ["tunnel"] and argv[-1:] == ["ready"]:
        return ready(argv)
    print(f"cloudflared stand-in: unsupported arguments {argv}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    # As PID 1 a process ignores SIGTERM unless it handles it; cloudflared drains, then exits.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main(sys.argv[1:]))
