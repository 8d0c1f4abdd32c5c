"""Wires settings into the components: the whole llmstack deployment for one stack."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.certificate import EdgeCertificate, EdgeCertificateArgs
from components.edge import (
    CERTIFICATE_FILE,
    HEALTH_PORT,
    HTPASSWD_FILE,
    HTTPS_PORT,
    PRIVATE_KEY_FILE,
    BasicAuth,
    Edge,
    EdgeArgs,
)
from components.gateway import GATEWAY_ALIAS, GATEWAY_PORT, Gateway, GatewayArgs
from components.model_server import OLLAMA_ALIAS, OLLAMA_PORT, ModelServer, ModelServerArgs
from components.networks import StackNetworks, StackNetworksArgs
from components.render.litellm import LiteLLMContext, ServedModel
from components.render.nginx import NginxContext
from components.settings import SecretConfig
from components.settings_model import Settings

DOCKER_DNS = "127.0.0.11"


@dataclass(frozen=True, kw_only=True)
class BuiltStack:
    """What the program exports from a built stack."""

    endpoint_url: str
    """OpenAI-compatible base URL."""
    api_key: pulumi.Output[str]
    """The master (admin) key (secret)."""
    client_keys: dict[str, pulumi.Output[str]]
    """Each client's own key (secret)."""
    model_names: tuple[str, ...]
    """Client-facing model names."""
    ca_certificate_pem: pulumi.Output[str] | None
    """CA clients must trust, when the certificate is self-signed."""
    basic_auth: BasicAuth | None
    """Edge basic-auth credentials, when basic auth is on."""


def build_stack(settings: Settings, secrets: SecretConfig) -> BuiltStack:
    """Declare every resource of the stack described by `settings`."""
    prefix = f"llmstack-{settings.stack}"
    opts = _engine_options(settings)
    networks = StackNetworks("network", StackNetworksArgs(docker_prefix=prefix), opts)
    ModelServer(
        "ollama",
        ModelServerArgs(
            docker_prefix=prefix,
            image=settings.images.ollama,
            gpus=settings.gpus,
            models=settings.models,
            limits=settings.ollama_limits,
            models_network=networks.models,
            egress_network=networks.model_egress,
        ),
        opts,
    )
    gateway = Gateway(
        "gateway",
        GatewayArgs(
            docker_prefix=prefix,
            image=settings.images.litellm,
            config=LiteLLMContext(
                models=tuple(ServedModel(name=m.name, ollama_tag=m.tag) for m in settings.models),
                ollama_url=f"http://{OLLAMA_ALIAS}:{OLLAMA_PORT}",
                generation_timeout_seconds=settings.generation_timeout_seconds,
            ),
            clients=settings.clients,
            limits=settings.litellm_limits,
            models_network=networks.models,
            gateway_network=networks.gateway,
        ),
        opts,
    )
    dns_names, ip_addresses = settings.certificate_names
    certificate = EdgeCertificate(
        "certificate",
        EdgeCertificateArgs(
            source=settings.tls_source,
            dns_names=dns_names,
            ip_addresses=ip_addresses,
            provided_certificate=secrets.tls_certificate,
            provided_private_key=secrets.tls_private_key,
        ),
    )
    edge = Edge(
        "edge",
        EdgeArgs(
            docker_prefix=prefix,
            image=settings.images.nginx,
            nginx=nginx_context(settings),
            publish_address=settings.listen_address,
            publish_port=settings.https_port,
            certificate_pem=certificate.certificate_pem,
            private_key_pem=certificate.private_key_pem,
            limits=settings.nginx_limits,
            gateway_network=networks.gateway,
            publish_network=networks.publish,
        ),
        opts,
    )
    return BuiltStack(
        endpoint_url=settings.endpoint_url,
        api_key=gateway.master_key,
        client_keys=gateway.client_keys,
        model_names=tuple(m.name for m in settings.models),
        ca_certificate_pem=certificate.ca_certificate_pem,
        basic_auth=edge.basic_auth,
    )


def nginx_context(settings: Settings) -> NginxContext:
    """The nginx.conf inputs for `settings`."""
    return NginxContext(
        listen_port=HTTPS_PORT,
        health_port=HEALTH_PORT,
        gateway_host=GATEWAY_ALIAS,
        gateway_port=GATEWAY_PORT,
        dns_resolver=DOCKER_DNS,
        certificate_file=CERTIFICATE_FILE,
        private_key_file=PRIVATE_KEY_FILE,
        tls_profile=settings.edge.tls_profile,
        allowed_cidrs=settings.allowed_cidrs,
        admin_cidrs=settings.edge.admin_cidrs,
        basic_auth_file=HTPASSWD_FILE if settings.edge.basic_auth else None,
        client_rate=settings.edge.client_rate,
        key_rate=settings.edge.key_rate,
        connections_per_client=settings.edge.connections_per_client,
        generation_timeout_seconds=settings.generation_timeout_seconds,
        max_body_mb=settings.edge.max_body_mb,
    )


def _engine_options(settings: Settings) -> pulumi.ResourceOptions | None:
    """An explicit Docker provider when the stack names an engine (e.g. a GPU host over SSH)."""
    if not settings.docker_host:
        return None
    provider = docker.Provider("docker-engine", host=settings.docker_host)
    return pulumi.ResourceOptions(providers={"docker": provider})
