"""The Pulumi program: load settings, build the stack, export what clients need."""

from __future__ import annotations

import pulumi

from components.render.clients import ClientContext, client_headers, render_continue_config, render_openai_env
from components.settings import load_settings
from components.stack import build_stack


def run() -> None:
    """Everything `pulumi up` (and the offline render) executes."""
    settings, secrets = load_settings()
    stack = build_stack(settings, secrets)
    ca_file = f".config/llmstack/{settings.stack}-ca.pem" if stack.ca_certificate_pem is not None else None

    basic_auth = (
        pulumi.Output.concat(stack.basic_auth.user, ":", stack.basic_auth.password) if stack.basic_auth else None
    )

    def clients(secrets: list[str | None]) -> ClientContext:
        api_key, credentials = secrets
        return ClientContext(
            stack=settings.stack,
            endpoint_url=stack.endpoint_url,
            api_key=str(api_key),
            models=stack.model_names,
            ca_file_in_home=ca_file,
            basic_auth=credentials,
        )

    client = pulumi.Output.all(stack.api_key, basic_auth)

    pulumi.export("endpoint", stack.endpoint_url)
    pulumi.export("models", list(stack.model_names))
    pulumi.export("apiKey", stack.api_key)
    pulumi.export("caCertificate", stack.ca_certificate_pem)
    pulumi.export("caCertificateFile", f"~/{ca_file}" if ca_file else None)
    pulumi.export(
        "continueConfig",
        pulumi.Output.secret(client.apply(lambda secrets: render_continue_config(clients(secrets)))),
    )
    pulumi.export(
        "openaiEnv",
        pulumi.Output.secret(client.apply(lambda secrets: render_openai_env(clients(secrets)))),
    )
    pulumi.export(
        "clientHeaders",
        pulumi.Output.secret(client.apply(lambda secrets: client_headers(clients(secrets)))),
    )
    if stack.basic_auth:
        pulumi.export("basicAuthUser", stack.basic_auth.user)
        pulumi.export("basicAuthPassword", stack.basic_auth.password)
