"""Ready-to-use client configuration: VS Code Continue and the OpenAI SDK environment."""

from __future__ import annotations

import base64
import json
import shlex
from dataclasses import dataclass

import yaml

from components.settings.model import API_FAMILIES

HEADERS_ENV = "LLMSTACK_DEFAULT_HEADERS"
"""Environment variable holding the extra headers a basic-auth edge needs, as JSON."""


@dataclass(frozen=True, kw_only=True)
class ClientContext:
    """What a client needs to reach the stack."""

    stack: str
    """Stack name, to tell several deployments apart in one editor."""
    endpoint_url: str
    """OpenAI-compatible base URL (ends in /v1)."""
    api_key: str
    """The key the client presents to LiteLLM."""
    models: tuple[str, ...]
    """Client-facing model names."""
    ca_file_in_home: str | None
    """Where the user saves the stack's CA certificate, relative to their home directory; None
    when the certificate is publicly trusted."""
    ca_certificate_pem: str | None
    """The stack's CA certificate itself (None when publicly trusted), for configs that carry it."""
    apis: tuple[str, ...] = API_FAMILIES
    """API families the key may call: what the configs and the curl test use."""
    embedding_models: frozenset[str] = frozenset()
    """Which of `models` are embedding models (the rest are chat models)."""
    basic_auth: str | None = None
    """`user:password` for the edge's basic auth, when it is on."""
    extra_headers: tuple[tuple[str, str], ...] = ()
    """Further headers every request needs (e.g. a Cloudflare Access service token)."""


def client_headers(context: ClientContext) -> dict[str, str]:
    """Headers a client must add to the SDK's own; empty unless basic auth is on.

    Basic auth and the API key both want `Authorization`: basic auth takes it, and the key moves
    to `x-litellm-api-key`, which LiteLLM reads first. nginx drops `Authorization` before LiteLLM.
    """
    headers = dict(context.extra_headers)
    if context.basic_auth is not None:
        token = base64.b64encode(context.basic_auth.encode()).decode()
        headers.update({"Authorization": f"Basic {token}", "x-litellm-api-key": context.api_key})
    return headers


class _NoAliasDumper(yaml.SafeDumper):
    """Writes shared values out in full: a user editing one model's block changes only that one."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def continue_roles(context: ClientContext, model: str) -> list[str]:
    """Continue roles `model` serves for this key.

    Chat, edit and apply for a chat model with the chat API; embed for an embedding model with the
    embeddings API; else none.
    """
    if model in context.embedding_models:
        return ["embed"] if "embeddings" in context.apis else []
    return ["chat", "edit", "apply"] if "chat" in context.apis else []


def render_continue_config(context: ClientContext) -> str | None:
    """A Continue `config.yaml` listing the client's models that Continue can use.

    None when there is none: Continue would have nothing to use.
    """
    usable = [(name, roles) for name in context.models if (roles := continue_roles(context, name))]
    if not usable:
        return None
    request_options: dict[str, object] = {}
    if context.ca_certificate_pem is not None:
        # Inline: Continue reads a path literally (no `~`), and a data URI needs no file at all.
        encoded = base64.b64encode(context.ca_certificate_pem.encode()).decode()
        request_options["caBundlePath"] = f"data:application/x-pem-file;base64,{encoded}"
    headers = client_headers(context)
    if headers:
        request_options["headers"] = headers
    # With basic auth the key travels in the headers; Continue must not also send it as a bearer token.
    send_api_key = context.basic_auth is None
    models = []
    for name, roles in usable:
        model: dict[str, object] = {
            "name": f"{name} ({context.stack})",
            "provider": "openai",
            "model": name,
            "apiBase": context.endpoint_url,
        }
        if send_api_key:
            model["apiKey"] = context.api_key
        model["roles"] = roles
        if request_options:
            model["requestOptions"] = request_options
        models.append(model)
    document = {"name": f"llmstack-{context.stack}", "version": "1.0.0", "schema": "v1", "models": models}
    return yaml.dump(document, Dumper=_NoAliasDumper, sort_keys=False, default_flow_style=False)


def render_openai_env(context: ClientContext) -> str:
    """Environment lines for the OpenAI SDKs (Python reads SSL_CERT_FILE, Node NODE_EXTRA_CA_CERTS)."""
    lines = [
        f"export OPENAI_BASE_URL={shlex.quote(context.endpoint_url)}",
        f"export OPENAI_API_KEY={shlex.quote(context.api_key)}",
    ]
    if context.ca_file_in_home:
        # Double quotes so the shell expands $HOME; the path itself is ours and shell-safe.
        ca_file = f'"${{HOME}}/{context.ca_file_in_home}"'
        lines += [
            "# SSL_CERT_FILE replaces the CA list of Python, curl and Go tools with the stack's CA alone:",
            "# source this file only where the stack is all you call, e.g. ( . ./this.env && python app.py ).",
            f"export SSL_CERT_FILE={ca_file}",
            f"export NODE_EXTRA_CA_CERTS={ca_file}",
        ]
    headers = client_headers(context)
    if headers:
        lines += [
            "# The edge needs these headers too: pass them as the SDK's default_headers, e.g.",
            f"# OpenAI(default_headers=json.loads(os.environ['{HEADERS_ENV}']))",
            f"export {HEADERS_ENV}={shlex.quote(json.dumps(headers))}",
        ]
    return "".join(line + "\n" for line in lines)


def render_curl_example(context: ClientContext) -> str:
    """A one-request smoke test with curl, on an API the key may call."""
    # --fail-with-body (curl >= 7.76): a refusal shows its JSON and fails the shell pipeline.
    arguments = ["curl", "-sS", "--fail-with-body"]
    if context.ca_file_in_home:
        arguments += ["--cacert", f'"$HOME/{context.ca_file_in_home}"']
    headers = client_headers(context)
    if "Authorization" not in headers:
        headers = {"Authorization": f"Bearer {context.api_key}", **headers}
    for name, value in headers.items():
        arguments += ["-H", shlex.quote(f"{name}: {value}")]
    path, body = _smoke_request(context)
    if body is not None:
        arguments += ["-H", shlex.quote("Content-Type: application/json"), "-d", shlex.quote(json.dumps(body))]
    arguments.append(shlex.quote(f"{context.endpoint_url}/{path}"))
    return " ".join(arguments) + "\n"


def _smoke_request(context: ClientContext) -> tuple[str, dict[str, object] | None]:
    """Path and JSON body (None: a GET) of a request the key is allowed.

    A chat, else an embedding, else the model list.
    """
    chat_models = [name for name in context.models if name not in context.embedding_models]
    embedding_models = [name for name in context.models if name in context.embedding_models]
    if "chat" in context.apis and chat_models:
        messages = [{"role": "user", "content": "Say hello."}]
        return "chat/completions", {"model": chat_models[0], "messages": messages}
    if "embeddings" in context.apis and embedding_models:
        return "embeddings", {"model": embedding_models[0], "input": "Say hello."}
    return "models", None
