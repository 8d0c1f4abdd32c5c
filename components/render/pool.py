"""The GPU pool's two nginx configs: typed context in, exact file text out.

On each GPU host a terminator admits the gateway host's address with a client certificate of the
pool CA and passes Ollama's serving API on to Ollama; on the gateway host one egress nginx gives
LiteLLM a plain-HTTP base URL per host (`/hosts/<host>` on one name) and carries each request to
that host over mutual TLS. LiteLLM never holds a private key, and its router, not nginx, picks the
host. Which hosts exist is a file of its own (`render_egress_routes`), which the egress reloads in
place: adding or removing a host changes no other file, so it restarts nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from components.render.nginx import NGINX_TEMPLATES
from components.shipped.litellm.llmstack_contract import POOL_HOST_UNREACHABLE

READ_TIMEOUT_MARGIN_SECONDS = 5
"""Each proxy waits a little longer than LiteLLM, which bounds a generation itself."""

OLLAMA_SERVING_PATHS = ("/api/chat", "/api/embed", "/api/show", "/api/tags", "/api/version")
"""What LiteLLM's `ollama_chat/` and `ollama/` providers call (chat, embeddings, model info) and
two read-only probes. Pulls, deletes, copies and model creation never cross the pool link."""


@dataclass(frozen=True, kw_only=True)
class TerminatorContext:
    """Everything a GPU host's terminator config depends on."""

    listen_port: int
    """TLS port inside the container (published on the host's private address only)."""
    health_port: int
    """Plain-HTTP port on the container's own loopback, for Docker's healthcheck only."""
    ollama_host: str
    """Ollama's name on the host's private network."""
    ollama_port: int
    """Ollama's port."""
    dns_resolver: str
    """Docker's embedded DNS, so a replaced Ollama container is found again."""
    certificate_file: str
    """The host's server certificate, relative to nginx.conf."""
    private_key_file: str
    """Its private key, relative to nginx.conf."""
    client_ca_file: str
    """The pool CA: the only issuer of client certificates admitted."""
    allowed_addresses: tuple[str, ...]
    """Addresses that may connect (the gateway host's); everyone else gets 403."""
    generation_timeout_seconds: int
    """How long one generation may take (LiteLLM's limit); nginx waits a margin longer."""
    max_body_mb: int
    """Largest request body accepted."""


HOSTS_PATH = "/hosts/"
"""The egress's path prefix: `/hosts/<host>/api/chat` goes to `<host>`'s Ollama as `/api/chat`."""


@dataclass(frozen=True, kw_only=True)
class PoolRoute:
    """One GPU host as the egress reaches it."""

    host: str
    """The host's name in the stack (`/hosts/<host>` in LiteLLM's base URL for it)."""
    address: str
    """The host's private address."""
    port: int
    """Its terminator's published port."""


@dataclass(frozen=True, kw_only=True)
class EgressContext:
    """Everything the gateway host's egress config depends on."""

    listen_port: int
    """Plain-HTTP port on the internal network, where LiteLLM sends Ollama API calls."""
    health_port: int
    """Plain-HTTP port on the container's own loopback, for Docker's healthcheck only."""
    routes_file: str
    """The hosts (`render_egress_routes`), relative to nginx.conf: delivered apart and reloaded in place."""
    server_name_domain: str
    """Each host's certificate names it `<host>.<domain>`; checked on every connection."""
    certificate_file: str
    """The gateway's client certificate, relative to nginx.conf."""
    private_key_file: str
    """Its private key, relative to nginx.conf."""
    ca_file: str
    """The pool CA, the only issuer of GPU hosts' server certificates trusted."""
    generation_timeout_seconds: int
    """How long one generation may take (LiteLLM's limit); nginx waits a margin longer."""
    max_body_mb: int
    """Largest request body accepted."""


def render_terminator_conf(context: TerminatorContext) -> str:
    """The exact nginx.conf text of one GPU host's terminator."""
    if not context.allowed_addresses:
        raise ValueError("a terminator admits at least the gateway host's address")
    return NGINX_TEMPLATES.get_template("pool_terminator.conf.j2").render(
        ctx=context,
        # The path nginx matched (normalized), never the one sent, and no query string: see PROXIED_PATH
        # in render/nginx.py for why a proxy must not forward what it did not check.
        api_location="~ ^(?<ollama_path>" + "|".join(re.escape(p) for p in OLLAMA_SERVING_PATHS) + ")$",
        read_timeout_seconds=context.generation_timeout_seconds + READ_TIMEOUT_MARGIN_SECONDS,
    )


def render_egress_conf(context: EgressContext) -> str:
    """The exact nginx.conf text of the gateway host's egress: the same whichever hosts exist."""
    return NGINX_TEMPLATES.get_template("pool_egress.conf.j2").render(
        ctx=context,
        # Only Ollama's serving paths (the terminator's list), matched on the normalized path and
        # forwarded from the match: nothing the egress did not check reaches a host.
        api_location=(
            f"~ ^{re.escape(HOSTS_PATH)}(?<pool_host>[a-z0-9-]+)"
            "(?<ollama_path>" + "|".join(re.escape(p) for p in OLLAMA_SERVING_PATHS) + ")$"
        ),
        unreachable_body=json.dumps({"error": POOL_HOST_UNREACHABLE}, separators=(",", ":")),
        read_timeout_seconds=context.generation_timeout_seconds + READ_TIMEOUT_MARGIN_SECONDS,
    )


def upstream_name(host: str) -> str:
    """The egress's upstream block for `host`."""
    return f"pool-host-{host}"


def render_egress_routes(routes: tuple[PoolRoute, ...]) -> str:
    """The exact text of the egress's hosts file: one upstream per host and the name that leads to it."""
    names = [route.host for route in routes]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"a GPU host is routed twice: {', '.join(duplicates)}")
    return NGINX_TEMPLATES.get_template("pool_egress_routes.conf.j2").render(routes=routes, upstream_name=upstream_name)
