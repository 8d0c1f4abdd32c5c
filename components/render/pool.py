"""The GPU pool's two nginx configs: typed context in, exact file text out.

On each GPU host a terminator admits the gateway host's address with a client certificate of the
pool CA and passes Ollama's serving API on to Ollama; on the gateway host one egress nginx gives
LiteLLM a plain-HTTP name per host (`ollama-<host>`) and carries each request to that host over
mutual TLS. LiteLLM never holds a private key, and its router, not nginx, picks the host.
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


@dataclass(frozen=True, kw_only=True)
class PoolRoute:
    """One GPU host as the egress reaches it."""

    alias: str
    """LiteLLM's name for the host on the internal network (`ollama-<host>`)."""
    address: str
    """The host's private address."""
    port: int
    """Its terminator's published port."""
    server_name: str
    """The DNS name in the host's server certificate, checked on every connection."""


@dataclass(frozen=True, kw_only=True)
class EgressContext:
    """Everything the gateway host's egress config depends on."""

    listen_port: int
    """Plain-HTTP port on the internal network, where LiteLLM sends Ollama API calls."""
    health_port: int
    """Plain-HTTP port on the container's own loopback, for Docker's healthcheck only."""
    routes: tuple[PoolRoute, ...]
    """One per GPU host."""
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
    """The exact nginx.conf text of the gateway host's egress."""
    return NGINX_TEMPLATES.get_template("pool_egress.conf.j2").render(
        ctx=context,
        unreachable_body=json.dumps({"error": POOL_HOST_UNREACHABLE}, separators=(",", ":")),
        read_timeout_seconds=context.generation_timeout_seconds + READ_TIMEOUT_MARGIN_SECONDS,
    )
