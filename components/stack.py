"""Wires settings into the components: the whole llmstack deployment for one stack."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.acme import LIVE_FILE_NAME, AcmeCertificate, AcmeCertificateArgs
from components.certificate import EdgeCertificate, EdgeCertificateArgs
from components.container_defaults import DRAIN_SECONDS
from components.edge import (
    ACME_DIR,
    CERTIFICATE_FILE,
    HEALTH_PORT,
    HTPASSWD_FILE,
    HTTPS_PORT,
    PRIVATE_KEY_FILE,
    STATUS_PORT,
    Edge,
    EdgeArgs,
    PublishedPort,
    RenewedCertificate,
)
from components.edge_auth import BasicAuth, BasicAuthArgs
from components.gateway import GATEWAY_ALIAS, GATEWAY_GRACE_SECONDS, GATEWAY_PORT, Gateway, GatewayArgs
from components.model_server import OLLAMA_ALIAS, OLLAMA_PORT, ModelServer, ModelServerArgs
from components.monitoring import Monitoring, MonitoringArgs, Secrets
from components.networks import StackNetworks, StackNetworksArgs
from components.pool import build_pool, pool_hosts, probed_hosts
from components.render.litellm import LiteLLMContext, ServedModel
from components.render.nginx import NginxContext
from components.settings import SecretConfig
from components.settings.model import Settings, TunnelSettings
from components.tunnel_watch import WATCH_ALIAS, WATCH_PORT

DOCKER_DNS = "127.0.0.11"


@dataclass(frozen=True, kw_only=True)
class BuiltStack:
    """What the program exports from a built stack."""

    endpoint_url: str
    """OpenAI-compatible base URL."""
    master_key: pulumi.Output[str]
    """The master (admin) key (secret), exported as masterKey."""
    client_keys: dict[str, pulumi.Output[str]]
    """Each client's own key (secret)."""
    model_names: tuple[str, ...]
    """Client-facing model names."""
    ca_certificate_pem: pulumi.Output[str] | None
    """CA clients must trust, when the certificate is self-signed."""
    basic_auth: BasicAuth | None
    """Edge basic-auth credentials, when basic auth is on."""
    access_headers: pulumi.Output[dict[str, str]] | None
    """Cloudflare Access service-token headers clients must send (secret), in tunnel mode with a token."""


def build_stack(settings: Settings, secrets: SecretConfig) -> BuiltStack:
    """Declare every resource of the stack described by `settings`."""
    prefix = f"llmstack-{settings.stack}"
    opts = _engine_options(settings)
    tunnel = settings.tunnel
    monitoring = settings.monitoring
    networks = StackNetworks(
        "network",
        StackNetworksArgs(
            docker_prefix=prefix,
            tunnel_subnet=tunnel.subnet if tunnel else None,
            monitoring_subnet=monitoring.subnet if monitoring else None,
        ),
        opts,
    )
    wiring = _Wiring(settings=settings, prefix=prefix, networks=networks, opts=opts)
    if settings.pool is None:
        _model_server(wiring)
    else:
        build_pool(settings, settings.pool, prefix, networks, opts)
    gateway = _gateway(wiring)
    edge, ca_certificate_pem, access_headers = _edge_and_certificate(wiring, secrets)
    if settings.monitoring is not None:
        _monitoring(wiring, edge, secrets)
    return BuiltStack(
        endpoint_url=settings.endpoint_url,
        master_key=gateway.master_key,
        client_keys=gateway.client_keys,
        model_names=tuple(m.name for m in settings.models),
        ca_certificate_pem=ca_certificate_pem,
        basic_auth=edge.basic_auth,
        access_headers=access_headers,
    )


def _edge_and_certificate(
    wiring: _Wiring, secrets: SecretConfig
) -> tuple[Edge, pulumi.Output[str] | None, pulumi.Output[dict[str, str]] | None]:
    """Nginx with its certificate; the CA clients must trust (if any); Access headers (if any)."""
    if wiring.settings.acme is not None:
        # Publicly trusted: clients trust it through their system roots, no CA to hand out.
        return _edge(wiring, None, _acme(wiring, secrets)), None, None
    tunnel = wiring.settings.tunnel
    certificate = _certificate(wiring, secrets)
    edge = _edge(wiring, certificate, None)
    access_headers = _tunnel(wiring, tunnel, edge, certificate) if tunnel is not None else None
    # Behind the tunnel clients meet Cloudflare's certificate; the stack's CA is cloudflared's alone.
    return edge, certificate.ca_certificate_pem if tunnel is None else None, access_headers


@dataclass(frozen=True, kw_only=True)
class _Wiring:
    """What every component of one stack is built from."""

    settings: Settings
    prefix: str
    """Prefix of Docker object names."""
    networks: StackNetworks
    opts: pulumi.ResourceOptions | None
    """The stack's engine options (an explicit Docker provider, or none)."""


def _model_server(wiring: _Wiring) -> ModelServer:
    """Ollama, its model volume and one pull per model."""
    settings = wiring.settings
    return ModelServer(
        "ollama",
        ModelServerArgs(
            docker_prefix=wiring.prefix,
            image=settings.images.ollama,
            gpus=settings.gpus,
            models=settings.models,
            limits=settings.ollama_limits,
            admission=settings.admission,
            context_length=settings.ollama_context_length,
            models_network=wiring.networks.models,
            egress_network=wiring.networks.model_egress,
        ),
        wiring.opts,
    )


def _gateway(wiring: _Wiring) -> Gateway:
    """LiteLLM in front of Ollama, with the clients' keys."""
    settings = wiring.settings
    return Gateway(
        "gateway",
        GatewayArgs(
            docker_prefix=wiring.prefix,
            image=settings.images.litellm,
            config=LiteLLMContext(
                models=tuple(ServedModel(name=m.name, ollama_tag=m.tag, kind=m.kind) for m in settings.models),
                ollama_url=f"http://{OLLAMA_ALIAS}:{OLLAMA_PORT}",
                generation_timeout_seconds=settings.generation_timeout_seconds,
                pool=pool_hosts(settings),
                metrics=settings.monitoring is not None,
            ),
            clients=settings.clients,
            rotation=settings.rotation,
            limits=settings.litellm_limits,
            workers=settings.litellm_workers,
            models_network=wiring.networks.models,
            gateway_network=wiring.networks.gateway,
            monitoring_network=wiring.networks.monitoring,
            grace_seconds=GATEWAY_GRACE_SECONDS,
            bans=settings.bans,
        ),
        wiring.opts,
    )


def _certificate(wiring: _Wiring, secrets: SecretConfig) -> EdgeCertificate:
    """The edge's certificate: the stack's own CA, or the operator's."""
    dns_names, ip_addresses = wiring.settings.certificate_names
    return EdgeCertificate(
        "certificate",
        EdgeCertificateArgs(
            source=wiring.settings.tls_source,
            dns_names=dns_names,
            ip_addresses=ip_addresses,
            provided_certificate=secrets.tls_certificate,
            provided_private_key=secrets.tls_private_key,
        ),
        wiring.opts,
    )


def _acme(wiring: _Wiring, secrets: SecretConfig) -> RenewedCertificate:
    """Lego's container, which keeps the edge's publicly trusted certificate renewed."""
    acme = wiring.settings.acme
    if acme is None:
        raise ValueError("tlsSource acme needs its settings")
    issuer = AcmeCertificate(
        "acme",
        AcmeCertificateArgs(docker_prefix=wiring.prefix, acme=acme, dns_token=secrets.acme_dns_api_token),
        wiring.opts,
    )
    return RenewedCertificate(volume=issuer.live_volume, file_name=LIVE_FILE_NAME, issuer=issuer.container)


def _edge(wiring: _Wiring, certificate: EdgeCertificate | None, renewed: RenewedCertificate | None) -> Edge:
    """nginx, the only container clients reach."""
    settings, networks = wiring.settings, wiring.networks
    publish = None
    if networks.publish is not None:
        publish = PublishedPort(address=settings.listen_address, port=settings.https_port, network=networks.publish)
    return Edge(
        "edge",
        EdgeArgs(
            docker_prefix=wiring.prefix,
            image=settings.images.nginx,
            nginx=nginx_context(settings),
            certificate_pem=certificate.certificate_pem if certificate else None,
            private_key_pem=certificate.private_key_pem if certificate else None,
            renewed=renewed,
            limits=settings.nginx_limits,
            gateway_network=networks.gateway,
            publish=publish,
            tunnel_network=networks.tunnel,
            monitoring_network=networks.monitoring,
            grace_seconds=DRAIN_SECONDS,
            basic_auth=BasicAuthArgs(
                stack_epoch=settings.rotation.stack_epoch,
                epoch=settings.rotation.basic_auth_epoch,
                previous_epoch=settings.rotation.basic_auth_previous_epoch,
            ),
            serving=not settings.paused,
        ),
        wiring.opts,
    )


def nginx_context(settings: Settings) -> NginxContext:
    """The nginx.conf inputs for `settings`."""
    return NginxContext(
        listen_port=HTTPS_PORT,
        health_port=HEALTH_PORT,
        gateway_host=GATEWAY_ALIAS,
        gateway_port=GATEWAY_PORT,
        dns_resolver=DOCKER_DNS,
        # A renewed certificate is one file (key and chain), replaced whole: never a mismatched pair.
        certificate_file=f"{ACME_DIR}/{LIVE_FILE_NAME}" if settings.acme else CERTIFICATE_FILE,
        private_key_file=f"{ACME_DIR}/{LIVE_FILE_NAME}" if settings.acme else PRIVATE_KEY_FILE,
        tls_profile=settings.edge.tls_profile,
        allowed_cidrs=settings.allowed_cidrs,
        admin_cidrs=settings.edge.admin_cidrs,
        basic_auth_file=HTPASSWD_FILE if settings.edge.basic_auth else None,
        client_rate=settings.edge.client_rate,
        key_rate=settings.edge.key_rate,
        connections_per_client=settings.edge.connections_per_client,
        generation_timeout_seconds=settings.generation_timeout_seconds,
        max_body_mb=settings.edge.max_body_mb,
        # Behind the tunnel every connection comes from cloudflared: the client is in CF-Connecting-IP,
        # believed from cloudflared's fixed address only.
        trusted_proxy_cidrs=(f"{settings.tunnel.subnet.connector}/32",) if settings.tunnel else (),
        status_port=STATUS_PORT if settings.monitoring else None,
        status_cidrs=(settings.monitoring.subnet.cidr,) if settings.monitoring else (),
    )


def _monitoring(wiring: _Wiring, edge: Edge, secrets: SecretConfig) -> Monitoring:
    """Prometheus, its exporters and Alertmanager, on the monitoring network."""
    settings, networks = wiring.settings, wiring.networks
    if (
        settings.monitoring is None
        or networks.monitoring is None
        or networks.monitoring_publish is None
        or networks.alert_egress is None
    ):
        raise ValueError("monitoring needs its settings and networks")
    return Monitoring(
        "monitoring",
        MonitoringArgs(
            docker_prefix=wiring.prefix,
            settings=settings.monitoring,
            probe_image=settings.images.litellm,
            monitoring_network=networks.monitoring,
            publish_network=networks.monitoring_publish,
            alert_egress_network=networks.alert_egress,
            models_network=networks.models,
            nginx_status_url=f"http://{edge.container_name}:{STATUS_PORT}/stub_status",
            gateway_target=f"{GATEWAY_ALIAS}:{GATEWAY_PORT}",
            edge_target=f"{edge.container_name}:{HTTPS_PORT}",
            ollama_url=f"http://{OLLAMA_ALIAS}:{OLLAMA_PORT}",
            models=settings.models,
            pool=probed_hosts(settings),
            tunnel_target=f"{WATCH_ALIAS}:{WATCH_PORT}" if networks.tunnel_watch is not None else None,
            tunnel_watch_network=networks.tunnel_watch,
            secrets=Secrets(webhook_url=secrets.alert_webhook_url, smtp_password=secrets.alert_smtp_password),
        ),
        wiring.opts,
    )


def _tunnel(
    wiring: _Wiring, tunnel: TunnelSettings, edge: Edge, certificate: EdgeCertificate
) -> pulumi.Output[dict[str, str]] | None:
    """The Cloudflare Tunnel to nginx; its Access service-token headers, if any."""
    from components.tunnel import Tunnel, TunnelArgs, TunnelWatchArgs  # imports pulumi_cloudflare: seconds

    settings, networks = wiring.settings, wiring.networks
    if networks.tunnel is None or networks.tunnel_egress is None:
        raise ValueError("tunnel mode needs the tunnel networks")
    built = Tunnel(
        "tunnel",
        TunnelArgs(
            docker_prefix=wiring.prefix,
            cloudflare=tunnel,
            hostname=settings.hostname,
            origin_url=f"https://{edge.container_name}:{HTTPS_PORT}",
            origin_ca_pem=certificate.ca_certificate_pem,
            tunnel_network=networks.tunnel,
            egress_network=networks.tunnel_egress,
            secret_keepers={
                "rotationEpoch": settings.rotation.stack_epoch,
                "tunnelSecretEpoch": settings.rotation.tunnel_secret_epoch,
            },
            serving=not settings.paused,
            watch=TunnelWatchArgs(network=networks.tunnel_watch, image=settings.images.nginx)
            if networks.tunnel_watch is not None
            else None,
        ),
        wiring.opts,
    )
    return built.access_headers


def _engine_options(settings: Settings) -> pulumi.ResourceOptions | None:
    """An explicit Docker provider when the stack names an engine (e.g. a GPU host over SSH)."""
    if not settings.docker_host:
        return None
    provider = docker.Provider("docker-engine", host=settings.docker_host)
    return pulumi.ResourceOptions(providers={"docker": provider})
