"""The Pulumi program: load settings, build the stack, export what clients need."""

from __future__ import annotations

import pulumi

from components.render.clients import ClientContext, render_continue_config, render_openai_env
from components.settings import load_settings
from components.stack import build_stack


def run() -> None:
    """Everything `pulumi up` (and the offline render) executes."""
    settings, secrets = load_settings()
    stack = build_stack(settings, secrets)
    ca_file = f".config/llmstack/{settings.stack}-ca.pem" if stack.ca_certificate_pem is not None else None

    def clients(api_key: str) -> ClientContext:
        return ClientContext(
            stack=settings.stack,
            endpoint_url=stack.endpoint_url,
            api_key=api_key,
            models=stack.model_names,
            ca_file_in_home=ca_file,
        )

    pulumi.export("endpoint", stack.endpoint_url)
    pulumi.export("models", list(stack.model_names))
    pulumi.export("apiKey", stack.api_key)
    pulumi.export("caCertificate", stack.ca_certificate_pem)
    pulumi.export("caCertificateFile", f"~/{ca_file}" if ca_file else None)
    pulumi.export(
        "continueConfig",
        pulumi.Output.secret(stack.api_key.apply(lambda key: render_continue_config(clients(key)))),
    )
    pulumi.export(
        "openaiEnv",
        pulumi.Output.secret(stack.api_key.apply(lambda key: render_openai_env(clients(key)))),
    )
