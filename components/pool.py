"""Wires the GPU pool: the pool CA, one `GpuHostServer` per host, the gateway host's egress."""

from __future__ import annotations

import pulumi

from components.gpu_host import GpuHostServer, GpuHostServerArgs
from components.monitoring import ProbedHost
from components.networks import StackNetworks
from components.pool_certificates import PoolCertificates, PoolCertificatesArgs, PoolHostAddress
from components.pool_egress import PoolEgress, PoolEgressArgs, host_url
from components.render.litellm import PoolHost
from components.settings.model import GpuPool, Settings


def pool_hosts(settings: Settings) -> tuple[PoolHost, ...]:
    """The hosts as LiteLLM's router sees them; empty for the single-host stack."""
    if settings.pool is None:
        return ()
    return tuple(
        PoolHost(
            name=host.name,
            url=host_url(host.name),
            models=host.models,
            # Never more than Ollama would take (its slots and its queue): beyond, LiteLLM answers at once.
            max_parallel_requests=host.parallel + settings.admission.max_queue,
        )
        for host in settings.pool.hosts
    )


def probed_hosts(settings: Settings) -> tuple[ProbedHost, ...]:
    """The hosts as the monitoring probe asks them (through the egress); empty for the single-host stack."""
    if settings.pool is None:
        return ()
    return tuple(
        ProbedHost(
            name=host.name, url=host_url(host.name), models=tuple(m for m in settings.models if m.name in host.models)
        )
        for host in settings.pool.hosts
    )


def build_pool(
    settings: Settings, pool: GpuPool, prefix: str, networks: StackNetworks, opts: pulumi.ResourceOptions | None
) -> None:
    """Every GPU host's resources, through its own engine, and the egress beside LiteLLM."""
    certificates = PoolCertificates(
        "pool-certificates",
        PoolCertificatesArgs(hosts=tuple(PoolHostAddress(name=h.name, address=h.address) for h in pool.hosts)),
        opts,
    )
    for host in pool.hosts:
        GpuHostServer(
            f"gpu-{host.name}",
            GpuHostServerArgs(
                docker_prefix=f"{prefix}-{host.name}",
                host=host,
                models=tuple(m for m in settings.models if m.name in host.models),
                ollama_image=settings.images.ollama,
                nginx_image=settings.images.nginx,
                ollama_limits=settings.ollama_limits,
                nginx_limits=settings.nginx_limits,
                max_queue=settings.admission.max_queue,
                context_length=settings.ollama_context_length,
                certificate=certificates.servers[host.name],
                ca_certificate_pem=certificates.ca_certificate_pem,
                gateway_address=pool.gateway_address,
                generation_timeout_seconds=settings.generation_timeout_seconds,
                max_body_mb=settings.edge.max_body_mb,
            ),
            # Not the stack's engine options: each host names its own engine.
            None,
        )
    PoolEgress(
        "pool-egress",
        PoolEgressArgs(
            docker_prefix=prefix,
            image=settings.images.nginx,
            limits=settings.nginx_limits,
            hosts=pool.hosts,
            client=certificates.client,
            ca_certificate_pem=certificates.ca_certificate_pem,
            models_network=networks.models,
            egress_network=networks.model_egress,
            generation_timeout_seconds=settings.generation_timeout_seconds,
            max_body_mb=settings.edge.max_body_mb,
        ),
        opts,
    )
