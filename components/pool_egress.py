"""The gateway host's way to the GPU pool: an nginx that adds mutual TLS, unpublished."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import container_defaults as defaults
from components.delivered_files import DIGEST_ENV, DeliveredFile, DeliveredFiles, DeliveredFilesArgs
from components.edge import CONF_LABEL, NGINX_DIRECTIVES, NGINX_USER
from components.edge import CONFINEMENT as NGINX_CONFINEMENT
from components.gpu_host import TERMINATOR_PORT
from components.pool_certificates import KeyPair, host_server_name
from components.render.pool import EgressContext, PoolRoute, render_egress_conf
from components.settings.model import ContainerLimits, GpuHost, ImageRef

RESOURCE_TYPE = "llmstack:index:PoolEgress"
EGRESS_PORT = 11434
"""Where LiteLLM sends each host's Ollama API calls, as if to Ollama itself."""
EGRESS_HEALTH_PORT = 8081
CONF_DIR = "/etc/nginx"
CERTIFICATE_FILE = "tls/gateway.crt"
PRIVATE_KEY_FILE = "tls/gateway.key"
CA_FILE = "tls/pool-ca.crt"
_HEALTH_PROBE = (
    f"exec 3<>/dev/tcp/127.0.0.1/{EGRESS_HEALTH_PORT} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 "
    "&& head -n 1 <&3 | grep -q ' 200 '"
)


def host_alias(host: str) -> str:
    """LiteLLM's name for a GPU host on the internal models network."""
    return f"ollama-{host}"


def host_url(host: str) -> str:
    """The Ollama API base LiteLLM uses for `host`."""
    return f"http://{host_alias(host)}:{EGRESS_PORT}"


@dataclass(frozen=True, kw_only=True)
class PoolEgressArgs:
    """Inputs of `PoolEgress`."""

    docker_prefix: str
    """Prefix of Docker object names."""
    image: ImageRef
    """Pinned nginx image."""
    limits: ContainerLimits
    """Container limits."""
    hosts: tuple[GpuHost, ...]
    """The GPU hosts it reaches."""
    client: KeyPair
    """The gateway's client certificate and key (secret)."""
    ca_certificate_pem: pulumi.Input[str]
    """The pool CA: the only issuer of host certificates trusted."""
    models_network: docker.Network
    """Internal network shared with LiteLLM, where it answers as `ollama-<host>`."""
    egress_network: docker.Network
    """Its route out to the hosts' private addresses, shared with no other container."""
    generation_timeout_seconds: int
    """How long one generation may take."""
    max_body_mb: int
    """Largest request body."""


class PoolEgress(pulumi.ComponentResource):
    """nginx on the gateway host that carries LiteLLM's calls to the GPU hosts over mutual TLS.

    Reachable only by LiteLLM on the internal models network (as `ollama-<host>`, one name per GPU
    host), it publishes nothing. It carries each call to that
    host's terminator over TLS 1.3, presenting the gateway's client certificate and accepting only a
    certificate of the pool CA for that host's name. LiteLLM holds no key.
    """

    def __init__(self, name: str, args: PoolEgressArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RESOURCE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        image = docker.RemoteImage(f"{name}-image", name=args.image.reference, keep_locally=True, opts=child)
        conf = render_egress_conf(egress_context(args))
        files = DeliveredFiles(
            f"{name}-files",
            DeliveredFilesArgs(
                docker_name=f"{args.docker_prefix}-pool-egress-nginx-files",
                image=image.image_id,
                user=NGINX_USER,
                mount_path=CONF_DIR,
                files=_files(conf, args),
            ),
            opts=child,
        )
        docker.Container(
            f"{name}-container",
            name=f"{args.docker_prefix}-pool-egress-nginx",
            image=image.image_id,
            # As the edge: nginx itself as uid 101, its pid file on the tmpfs.
            entrypoints=["nginx"],
            command=["-g", NGINX_DIRECTIVES],
            envs=["NGINX_ENTRYPOINT_QUIET_LOGS=1", pulumi.Output.concat(f"{DIGEST_ENV}=", files.digest)],
            volumes=[files.mount()],
            # Also as a label: the policy rules judge the egress config per container.
            labels=[docker.ContainerLabelArgs(label=CONF_LABEL, value=conf)],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(
                    name=args.models_network.name, aliases=[host_alias(h.name) for h in args.hosts]
                ),
                docker.ContainerNetworksAdvancedArgs(name=args.egress_network.name),
            ],
            healthcheck=defaults.healthcheck(["CMD", "bash", "-c", _HEALTH_PROBE], start_period_seconds=10),
            **defaults.long_running(
                confinement=NGINX_CONFINEMENT,
                memory_mb=args.limits.memory_mb,
                wait_timeout_seconds=60,
                grace_seconds=defaults.DRAIN_SECONDS,
                stop_signal="SIGQUIT",
            ),
            opts=defaults.serving_options(self, depends_on=[files.carrier]),
        )
        self.register_outputs({})


def egress_context(args: PoolEgressArgs) -> EgressContext:
    """The egress nginx.conf inputs."""
    return EgressContext(
        listen_port=EGRESS_PORT,
        health_port=EGRESS_HEALTH_PORT,
        routes=tuple(
            PoolRoute(
                alias=host_alias(host.name),
                address=host.address,
                port=TERMINATOR_PORT,
                server_name=host_server_name(host.name),
            )
            for host in args.hosts
        ),
        certificate_file=CERTIFICATE_FILE,
        private_key_file=PRIVATE_KEY_FILE,
        ca_file=CA_FILE,
        generation_timeout_seconds=args.generation_timeout_seconds,
        max_body_mb=args.max_body_mb,
    )


def _files(conf: str, args: PoolEgressArgs) -> tuple[DeliveredFile, ...]:
    """nginx.conf, the gateway's client certificate and key, the pool CA; the key 0444 as the edge's (edge.py)."""
    return (
        DeliveredFile(path=f"{CONF_DIR}/nginx.conf", content=conf),
        DeliveredFile(path=f"{CONF_DIR}/{CERTIFICATE_FILE}", content=args.client.certificate_pem),
        DeliveredFile(path=f"{CONF_DIR}/{CA_FILE}", content=args.ca_certificate_pem),
        DeliveredFile(path=f"{CONF_DIR}/{PRIVATE_KEY_FILE}", content=args.client.private_key_pem),
    )
