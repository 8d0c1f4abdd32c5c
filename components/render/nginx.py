"""nginx.conf for the edge: typed context in, exact file text out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jinja2

CLIENT_API_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models")
"""The OpenAI-compatible routes clients need; everything else LiteLLM serves stays unreachable."""

INTERNAL_RESPONSE_HEADERS = (
    "x-litellm-model-api-base",
    "x-litellm-model-id",
    "x-litellm-key-spend",
    "x-litellm-version",
)
"""LiteLLM response headers that reveal internal addresses or versions."""

_ERRORS = {
    403: ("forbidden", "Your address is not allowed to use this API."),
    404: ("not_found", "Unknown route. This endpoint serves the OpenAI API under /v1/."),
    413: ("request_too_large", "The request body is larger than this endpoint accepts."),
    502: ("gateway_unavailable", "The model gateway is not reachable. Retry shortly."),
    503: ("gateway_unavailable", "The model gateway is not reachable. Retry shortly."),
    504: ("gateway_timeout", "The model did not answer in time."),
}

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,  # noqa: S701 - renders nginx config, not HTML
)


@dataclass(frozen=True, kw_only=True)
class NginxContext:
    """Everything nginx.conf depends on."""

    listen_port: int
    """Port nginx listens on inside its container."""
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
    allowed_cidrs: tuple[str, ...]
    """Client networks allowed; empty allows every client that reaches the port."""
    generation_timeout_seconds: int
    """How long a non-streamed generation may stay silent before nginx gives up."""
    health_port: int
    """Plain-HTTP port on the container's own loopback, for Docker's healthcheck only."""
    max_body_mb: int = 16
    """Largest request body accepted (prompts with long context)."""


@dataclass(frozen=True)
class _ErrorPage:
    status: int
    body: str


def render_nginx_conf(context: NginxContext) -> str:
    """The exact nginx.conf text for `context`."""
    api_location = "~ ^(" + "|".join(p.replace(".", r"\.") for p in CLIENT_API_PATHS) + ")$"
    return _TEMPLATES.get_template("nginx.conf.j2").render(
        ctx=context,
        api_location=api_location,
        hidden_headers=INTERNAL_RESPONSE_HEADERS,
        error_pages=[_ErrorPage(status, _error_body(status)) for status in sorted(_ERRORS)],
    )


def _error_body(status: int) -> str:
    """An OpenAI-style error body, so SDKs surface a readable message."""
    code, message = _ERRORS[status]
    body = json.dumps({"error": {"message": message, "type": "llmstack_edge_error", "code": code}})
    if "'" in body:
        raise ValueError(f"error body for {status} would break nginx quoting: {body}")
    return body
