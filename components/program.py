"""The Pulumi program: load settings, build the stack, export what clients need."""

from __future__ import annotations

import pulumi

from components.client_configs import ca_file_in_home, client_configs
from components.settings import load_settings
from components.stack import build_stack


def run() -> None:
    """Everything `pulumi up` (and the offline render) executes."""
    settings, secrets = load_settings()
    stack = build_stack(settings, secrets)
    pulumi.export("endpoint", stack.endpoint_url)
    pulumi.export("models", list(stack.model_names))
    pulumi.export("masterKey", stack.master_key)
    pulumi.export("caCertificate", stack.ca_certificate_pem)
    ca_file = f"~/{ca_file_in_home(settings.stack)}" if stack.ca_certificate_pem is not None else None
    pulumi.export("caCertificateFile", ca_file)
    pulumi.export("clients", client_configs(settings, stack))
    if stack.basic_auth:
        pulumi.export("basicAuthUser", stack.basic_auth.user)
        pulumi.export("basicAuthPassword", stack.basic_auth.password)
    if stack.access_headers is not None:
        pulumi.export("accessHeaders", stack.access_headers)
