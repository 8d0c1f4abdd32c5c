"""Ready-to-use client configuration: VS Code Continue and the OpenAI SDK environment."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import yaml


@dataclass(frozen=True, kw_only=True)
class ClientContext:
    """What a client needs to reach the stack."""

    stack: str
    """Stack name, to tell several deployments apart in one editor."""
    endpoint_url: str
    """OpenAI-compatible base URL (ends in /v1)."""
    api_key: str
    """The key the client sends as a bearer token."""
    models: tuple[str, ...]
    """Client-facing model names."""
    ca_file_in_home: str | None
    """Where the user saves the stack's CA certificate, relative to their home directory; None
    when the certificate is publicly trusted."""


def render_continue_config(context: ClientContext) -> str:
    """A Continue `config.yaml` listing every served model."""
    request_options = {"caBundlePath": f"~/{context.ca_file_in_home}"} if context.ca_file_in_home else None
    models = []
    for name in context.models:
        model: dict[str, object] = {
            "name": f"{name} ({context.stack})",
            "provider": "openai",
            "model": name,
            "apiBase": context.endpoint_url,
            "apiKey": context.api_key,
            "roles": ["chat", "edit", "apply"],
        }
        if request_options:
            model["requestOptions"] = request_options
        models.append(model)
    document = {"name": f"llmstack-{context.stack}", "version": "1.0.0", "schema": "v1", "models": models}
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def render_openai_env(context: ClientContext) -> str:
    """Environment lines for the OpenAI SDKs (Python reads SSL_CERT_FILE, Node NODE_EXTRA_CA_CERTS)."""
    lines = [
        f"export OPENAI_BASE_URL={shlex.quote(context.endpoint_url)}",
        f"export OPENAI_API_KEY={shlex.quote(context.api_key)}",
    ]
    if context.ca_file_in_home:
        # Double quotes so the shell expands $HOME; the path itself is ours and shell-safe.
        ca_file = f'"${{HOME}}/{context.ca_file_in_home}"'
        lines += [f"export SSL_CERT_FILE={ca_file}", f"export NODE_EXTRA_CA_CERTS={ca_file}"]
    return "".join(line + "\n" for line in lines)
