"""The tunnel watch's nginx.conf: cloudflared's `/metrics`, and nothing else, for Prometheus."""

from __future__ import annotations

from dataclasses import dataclass

from components.render.nginx import NGINX_TEMPLATES


@dataclass(frozen=True, kw_only=True)
class TunnelWatchContext:
    """Everything the watch's nginx.conf depends on."""

    listen_port: int
    """Where Prometheus scrapes, on every address of cloudflared's network namespace."""
    metrics_address: str
    """cloudflared's metrics server, `127.0.0.1:port` (shared loopback): `/metrics`, `/ready`, pprof."""


def render_tunnel_watch_conf(context: TunnelWatchContext) -> str:
    """The exact nginx.conf text of the tunnel watch."""
    host, _, port = context.metrics_address.rpartition(":")
    if host != "127.0.0.1" or not port.isdigit():
        # The watch exists to keep the metrics server on loopback: anything else defeats it.
        raise ValueError(f"cloudflared's metrics address must be 127.0.0.1:<port>, not {context.metrics_address!r}")
    return NGINX_TEMPLATES.get_template("tunnel_watch.conf.j2").render(ctx=context)
