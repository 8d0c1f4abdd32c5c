"""nginx.conf for the edge: typed context in, exact file text out. Every decision is made here."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

from components.settings.model import RateLimit, TlsProfile
from components.shipped.litellm.llmstack_contract import (
    ADMIN_PATH_PREFIXES,
    API_ROUTES,
    EDGE_CHECK_HEADER,
    MODEL_LIST_ROUTES,
)

CLIENT_API_PATHS = tuple(route for routes in API_ROUTES.values() for route in routes if route.startswith("/v1/"))
"""The OpenAI-compatible routes clients need; everything else LiteLLM serves stays unreachable."""


EDGE_ADMIN_PREFIXES = tuple(prefix for prefix in ADMIN_PATH_PREFIXES if prefix != "metrics")
"""The admin prefixes the edge proxies for `admin_cidrs`: not LiteLLM's `/metrics`, which it serves
without a key for Prometheus on the monitoring network (monitoring on)."""


PROXIED_PATH = "proxied_path"
"""The location's capture of the path it matched; LiteLLM gets that path, never the one sent.
The match runs on nginx's normalized path (`..`, `//` and escapes resolved), which LiteLLM does not
normalize itself: forwarded as sent, /files/../v1/models would pass as /v1/models and reach its
files route. The captures admit no control characters, so no escaped CR/LF reaches a request line."""

_SAFE_PATH_CHARACTERS = r"[\w./~:@+,=-]"
"""What an admin route's path may contain after its prefix (ids, names, dates)."""

FOREIGN_KEY_HEADERS = ("API-Key", "x-api-key", "x-goog-api-key", "Ocp-Apim-Subscription-Key")
"""Headers LiteLLM also takes a key from (Azure, Anthropic, Google, APIM clients). The edge drops
them: its per-key rate limit reads the key from `Authorization` and `x-litellm-api-key` only, and a
key in any other header would get a fresh, unlimited budget."""

_LITELLM_HEADER_NAMES = (
    "adaptive-router-model", "agent-id", "api-key", "applied-guardrails", "applied-policies",
    "attempted-fallbacks", "attempted-retries", "cache-key", "call-id", "callback-duration-ms", "classifier-cost",
    "cli-poll-secret", "customer-id", "disable-callbacks", "enable-message-redaction", "end-user-id",
    "fallback-errors", "guardrail-scan-id", "guardrail-scan-metadata", "keepalive-seconds", "key-max-budget",
    "key-rpm-limit", "key-spend", "key-tpm-limit", "max-retries", "mcp-debug", "metrics-pid", "min-quality-tier",
    "model", "model-api-base", "model-group", "model-id", "model-name", "model-region", "num-retries",
    "overhead-duration-ms", "policy-sources", "priority", "quality-router-complexity", "quality-router-keyword",
    "quality-router-model", "quality-router-tier", "quality-router-via", "rate-limiter-version",
    "request-prioritization-used", "response-cost", "response-cost-cache-creation", "response-cost-cache-read",
    "response-cost-discount-amount", "response-cost-input", "response-cost-margin-amount",
    "response-cost-margin-percent", "response-cost-original", "response-cost-output", "response-cost-reasoning",
    "response-cost-tool-usage", "response-duration-ms", "rust", "saturation", "semantic-filter",
    "semantic-filter-tools", "semantic-similarity", "session-id", "spend-logs-metadata", "spend-logs-truncated",
    "stream-timeout", "tags", "team-id", "timeout", "timing-llm-api-ms", "timing-message-copy-ms",
    "timing-post-processing-ms", "timing-pre-processing-ms", "total-tokens", "trace-id", "user-email", "user-id",
    "user-role", "version",
)  # fmt: skip
"""Every `x-litellm-<name>` LiteLLM 1.108.7 names in its source (tests/unit/test_edge_headers.py re-reads it)."""
OLLAMA_RESPONSE_HEADERS = ("content-length", "content-type", "date", "server", "transfer-encoding")
"""What Ollama's HTTP server answers with; LiteLLM passes each on as `llm_provider-<name>`."""
INTERNAL_RESPONSE_HEADERS = tuple(f"x-litellm-{name}" for name in _LITELLM_HEADER_NAMES) + tuple(
    f"llm_provider-{name}" for name in OLLAMA_RESPONSE_HEADERS
)
"""Response headers the edge drops: calls, deployments, internal addresses, versions, costs, timings.
nginx can drop headers only by name, so this lists them; the live test of what reaches a client
(tests/live/test_gateway.py) fails on any other header the real LiteLLM starts sending."""

# Mozilla server-side TLS guidelines (v5.7): modern is TLS 1.3 only; intermediate adds TLS 1.2 with
# forward-secret AEAD suites. The DHE suites are left out: no dhparam, and the key is ECDSA.
_TLS = {
    "modern": ("TLSv1.3", None),
    "intermediate": (
        "TLSv1.2 TLSv1.3",
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
    ),
}

SECURITY_HEADERS = (
    ("Strict-Transport-Security", "max-age=63072000"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
)
"""Sent on every response, errors included (`always`)."""

RETRY_AFTER_SECONDS = 1
"""Rates are at least 1 r/s, so a refused client may retry after a second."""
BUSY_RETRY_AFTER_SECONDS = 5
"""Sent with 502 and 503 (gateway restarting, Ollama's queue full): try again shortly."""

READ_TIMEOUT_MARGIN_SECONDS = 5
"""nginx waits this much longer than generationTimeoutSeconds for LiteLLM, whose own limits end a
generation first (its answer names the timeout, and it closes Ollama's call)."""

BASIC_AUTH_CHALLENGE = 'Basic realm="llmstack"'
"""What a 401 from the edge asks for (the realm of `auth_basic`)."""

KEEPALIVE_SECONDS = 65
"""How long nginx keeps an idle client connection; a proxy in front must give up on it sooner."""

_ERRORS = {
    401: ("unauthorized", "Authentication required."),
    403: ("forbidden", "Your address is not allowed to use this endpoint."),
    404: ("not_found", "Unknown route. This endpoint serves the OpenAI API under /v1/."),
    413: ("request_too_large", "The request body is larger than this endpoint accepts."),
    414: ("uri_too_long", "The request URI is too long."),
    429: ("rate_limited", "Too many requests or connections. Retry after the Retry-After delay."),
    502: ("gateway_unavailable", "The model gateway is not reachable. Retry shortly."),
    503: ("gateway_unavailable", "The model gateway is not reachable. Retry shortly."),
    504: ("gateway_timeout", "The model did not answer in time."),
}

NGINX_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,  # noqa: S701 - renders nginx config, not HTML
)
"""The nginx config templates (components/render/templates), shared by every nginx the stack runs."""


@dataclass(frozen=True, kw_only=True)
class NginxContext:
    """Everything nginx.conf depends on."""

    listen_port: int
    """Port nginx listens on inside its container."""
    health_port: int
    """Plain-HTTP port on the container's own loopback, for Docker's healthcheck only."""
    gateway_host: str
    """DNS name of the LiteLLM container on the shared network."""
    gateway_port: int
    """LiteLLM's port."""
    dns_resolver: str
    """Docker's embedded DNS, so a replaced gateway container is found again."""
    certificate_file: str
    """Certificate chain path, relative to the directory holding nginx.conf."""
    private_key_file: str
    """Private key path, relative to the directory holding nginx.conf."""
    tls_profile: TlsProfile
    """Mozilla TLS profile."""
    allowed_cidrs: tuple[str, ...]
    """Client networks allowed; empty allows every client that reaches the port."""
    admin_cidrs: tuple[str, ...]
    """Networks that may reach LiteLLM's admin routes; empty: nobody."""
    trusted_proxy_cidrs: tuple[str, ...] = ()
    """Addresses of a connector (the tunnel's) whose `real_ip_header` names the real client."""
    real_ip_header: str = "CF-Connecting-IP"
    """Header carrying the real client address, trusted only from `trusted_proxy_cidrs`."""
    basic_auth_file: str | None
    """htpasswd path relative to nginx.conf when basic auth is on."""
    client_rate: RateLimit
    """Per client IP."""
    key_rate: RateLimit
    """Per API key."""
    connections_per_client: int
    """Concurrent connections per client IP."""
    generation_timeout_seconds: int
    """How long a generation may take; nginx's read timeout (a gap between two reads from LiteLLM)
    is a margin longer, a safety net behind LiteLLM's own limits."""
    max_body_mb: int
    """Largest request body accepted."""
    status_port: int | None = None
    """Port of nginx's status page (connection and request counts) for the monitoring network's
    exporter; None: no status page (monitoring off)."""
    status_cidrs: tuple[str, ...] = ()
    """The networks the status page answers; every other address gets 403."""


@dataclass(frozen=True)
class _ErrorPage:
    status: int
    body: str


def render_nginx_conf(context: NginxContext) -> str:
    """The exact nginx.conf text for `context`."""
    protocols, ciphers = _TLS[context.tls_profile]
    return NGINX_TEMPLATES.get_template("nginx.conf.j2").render(
        ctx=context,
        tls_protocols=protocols,
        tls_ciphers=ciphers,
        security_headers=[(name, _quoted(value)) for name, value in SECURITY_HEADERS],
        retry_after=RETRY_AFTER_SECONDS,
        busy_retry_after=BUSY_RETRY_AFTER_SECONDS,
        keepalive_seconds=KEEPALIVE_SECONDS,
        read_timeout_seconds=context.generation_timeout_seconds + READ_TIMEOUT_MARGIN_SECONDS,
        # Each captures the path nginx matched, which is what LiteLLM gets (see PROXIED_PATH).
        api_location=f"~ ^(?<{PROXIED_PATH}>" + "|".join(re.escape(p) for p in CLIENT_API_PATHS) + ")$",
        admin_location=f"~ ^(?<{PROXIED_PATH}>/(?:"
        + "|".join(re.escape(p) for p in EDGE_ADMIN_PREFIXES)  # proxied only for `admin_cidrs`
        + f")(?:/{_SAFE_PATH_CHARACTERS}*)?)$",
        hidden_headers=INTERNAL_RESPONSE_HEADERS,
        foreign_key_headers=FOREIGN_KEY_HEADERS,
        proxied_path=PROXIED_PATH,
        error_pages=[_ErrorPage(status, _error_body(status)) for status in sorted(_ERRORS)],
        basic_auth_header=EDGE_CHECK_HEADER,
        # A route whose every request goes through the auth hook, which answers before any key.
        basic_auth_route=MODEL_LIST_ROUTES[0],
        basic_auth_challenge=BASIC_AUTH_CHALLENGE,
    )


def _quoted(value: str) -> str:
    if '"' in value:
        raise ValueError(f"header value would break nginx quoting: {value}")
    return f'"{value}"'


def _error_body(status: int) -> str:
    """An OpenAI-style error body, so SDKs surface a readable message."""
    code, message = _ERRORS[status]
    body = json.dumps({"error": {"message": message, "type": "llmstack_edge_error", "code": code}})
    if "'" in body:
        raise ValueError(f"error body for {status} would break nginx quoting: {body}")
    return body
