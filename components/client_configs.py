"""Ready-to-use configuration for each API client, as secret stack outputs."""

from __future__ import annotations

from typing import Any

import pulumi

from components.render.clients import (
    ClientContext,
    client_headers,
    render_continue_config,
    render_curl_example,
    render_openai_env,
)
from components.settings.model import Settings
from components.stack import BuiltStack


def ca_file_in_home(stack: str) -> str:
    """Where the generated client configs expect the stack's CA certificate, under the home directory."""
    return f".config/llmstack/{stack}-ca.pem"


def client_configs(settings: Settings, stack: BuiltStack) -> pulumi.Output[dict[str, dict[str, Any]]]:
    """Per client: its key, a Continue config, OpenAI SDK environment, extra headers and a curl test.

    Extra headers are what the edge in front needs besides the key: basic auth (the key then moves
    to x-litellm-api-key) and, behind Cloudflare Access, the service token's headers.
    """
    ca_file = ca_file_in_home(settings.stack) if stack.ca_certificate_pem is not None else None
    basic_auth = (
        pulumi.Output.concat(stack.basic_auth.user, ":", stack.basic_auth.password) if stack.basic_auth else None
    )
    clients = {client.name: client for client in settings.clients}
    embedding_models = frozenset(model.name for model in settings.models if model.kind == "embedding")

    def configs(values: list[Any]) -> dict[str, dict[str, Any]]:
        credentials, access, ca_pem, *keys = values
        rendered = {}
        for (name, client), key in zip(clients.items(), keys, strict=True):
            models = client.models or stack.model_names
            context = ClientContext(
                stack=settings.stack,
                endpoint_url=stack.endpoint_url,
                api_key=key,
                models=models,
                ca_file_in_home=ca_file,
                ca_certificate_pem=ca_pem,
                apis=client.apis,
                embedding_models=embedding_models,
                basic_auth=credentials,
                extra_headers=tuple(sorted((access or {}).items())),
            )
            rendered[name] = {
                "apiKey": key,
                "models": list(models),
                "continueConfig": render_continue_config(context),
                "openaiEnv": render_openai_env(context),
                "headers": client_headers(context),
                "curl": render_curl_example(context),
            }
        return rendered

    keys = [stack.client_keys[name] for name in clients]
    values = pulumi.Output.all(basic_auth, stack.access_headers, stack.ca_certificate_pem, *keys)
    return pulumi.Output.secret(values.apply(configs))
