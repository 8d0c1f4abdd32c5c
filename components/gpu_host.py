"""One GPU host of the pool: its own Docker engine, Ollama, and the mutual-TLS terminator in front."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import container_defaults as defaults
from components.delivered_files import DIGEST_ENV, DeliveredFile, DeliveredFiles, DeliveredFilesArgs
from components.edge import CONF_LABEL, NGINX_DIRECTIVES, NGINX_USER
from components.edge import CONFINEMENT as NGINX_CONFINEMENT
from components.model_server import OLLAMA_ALIAS, OLLAMA_PORT, ModelServer, ModelServerArgs
from components.networks import NO_OUTBOUND_NAT
from components.pool_certificates import KeyPair
from components.render.pool import TerminatorContext, render_terminator_conf
from components.settings.model import Admission, ContainerLimits, GpuHost, ImageRef, ModelSpec

RESOURCE_TYPE = "llmstack:index:GpuHostServer"
TERMINATOR_PORT = 11443
"""The one port a GPU host publishes, on its private address: TLS with a client certificate."""
TERMINATOR_HEALTH_PORT = 8081
CONF_DIR = "/etc/nginx"
CERTIFICATE_FILE = "tls/server.crt"
PRIVATE_KEY_FILE = "tls/server.key"
CLIENT_CA_FILE = "tls/pool-ca.crt"
DOCKER_DNS = "127.0.0.11"
_HEALTH_PROBE = (
    f"exec 3<>/dev/tcp/127.0.0.1/{TERMINATOR_HEALTH_PORT} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 "
    "&& head -n 1 <&3 | grep -q ' 200 '"
)


@dataclass(frozen=True, kw_only=True)
class GpuHostServerArgs:
    """Inputs of `GpuHostServer`."""

    docker_prefix: str
    """Prefix of Docker object names on this host's engine."""
    host: GpuHost
    """The host: engine, address, GPUs, models, parallelism."""
    models: tuple[ModelSpec, ...]
    """The served models this host carries."""
    ollama_image: ImageRef
    """Pinned Ollama image."""
    nginx_image: ImageRef
    """Pinned nginx image (the terminator)."""
    ollama_limits: ContainerLimits
    """Limits of its Ollama container."""
    nginx_limits: ContainerLimits
    """Limits of its terminator."""
    max_queue: int
    """Requests its Ollama queues beyond those running; more get 503."""
    context_length: int | None
    """Ollama's context window, or None for its default."""
    certificate: KeyPair
    """The host's server certificate and key (secret)."""
    ca_certificate_pem: pulumi.Input[str]
    """The pool CA: issuer of the only client certificates admitted."""
    gateway_address: str
    """The gateway host's address: the only one the terminator admits."""
    generation_timeout_seconds: int
    """How long one generation may take."""
    max_body_mb: int
    """Largest request body."""


class GpuHostServer(pulumi.ComponentResource):
    """Everything on one GPU host, deployed through its own `docker.Provider`.

    Ollama (with its protected model volume and one pull per model) sits on an internal network
    shared with the terminator alone, unpublished. The terminator (nginx) publishes one port, on the
    host's private address only: TLS 1.3 with a client certificate of the pool CA required, the
    gateway host's address allowed and every other refused, and only Ollama's serving routes.
    """

    def __init__(self, name: str, args: GpuHostServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RESOURCE_TYPE, name, None, opts)
        engine = docker.Provider(f"{name}-engine", host=args.host.docker_host, opts=pulumi.ResourceOptions(parent=self))
        # Children inherit the provider from this component (the providers map passes down to them).
        child = pulumi.ResourceOptions(parent=self, providers={"docker": engine})
        prefix = args.docker_prefix
        models = docker.Network(f"{name}-models", name=f"{prefix}-models", driver="bridge", internal=True, opts=child)
        egress = docker.Network(f"{name}-model-egress", name=f"{prefix}-model-egress", driver="bridge", opts=child)
        publish = docker.Network(
            f"{name}-publish", name=f"{prefix}-publish", driver="bridge", options=NO_OUTBOUND_NAT, opts=child
        )
        ModelServer(
            f"{name}-ollama",
            ModelServerArgs(
                docker_prefix=prefix,
                image=args.ollama_image,
                gpus=args.host.gpus,
                models=args.models,
                limits=args.ollama_limits,
                admission=Admission(num_parallel=args.host.parallel, max_queue=args.max_queue),
                context_length=args.context_length,
                models_network=models,
                egress_network=egress,
            ),
            child,
        )
        self._terminator(name, args, models, publish, child)
        self.register_outputs({})

    def _terminator(
        self,
        name: str,
        args: GpuHostServerArgs,
        models: docker.Network,
        publish: docker.Network,
        child: pulumi.ResourceOptions,
    ) -> None:
        image = docker.RemoteImage(
            f"{name}-nginx-image", name=args.nginx_image.reference, keep_locally=True, opts=child
        )
        conf = render_terminator_conf(terminator_context(args))
        files = DeliveredFiles(
            f"{name}-terminator-files",
            DeliveredFilesArgs(
                docker_name=f"{args.docker_prefix}-mtls-nginx-files",
                image=image.image_id,
                user=NGINX_USER,
                mount_path=CONF_DIR,
                files=_terminator_files(args, conf),
            ),
            opts=child,
        )
        docker.Container(
            f"{name}-terminator",
            name=f"{args.docker_prefix}-mtls-nginx",
            image=image.image_id,
            # As the edge: nginx itself as uid 101, its pid file on the tmpfs.
            entrypoints=["nginx"],
            command=["-g", NGINX_DIRECTIVES],
            envs=["NGINX_ENTRYPOINT_QUIET_LOGS=1", pulumi.Output.concat(f"{DIGEST_ENV}=", files.digest)],
            volumes=[files.mount()],
            # Also as a label: the policy rules judge the terminator's config per container.
            labels=[docker.ContainerLabelArgs(label=CONF_LABEL, value=conf)],
            ports=[
                docker.ContainerPortArgs(
                    internal=TERMINATOR_PORT, external=TERMINATOR_PORT, ip=args.host.address, protocol="tcp"
                )
            ],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=models.name),
                docker.ContainerNetworksAdvancedArgs(name=publish.name),
            ],
            healthcheck=defaults.healthcheck(["CMD", "bash", "-c", _HEALTH_PROBE], start_period_seconds=10),
            **defaults.long_running(
                confinement=NGINX_CONFINEMENT,
                memory_mb=args.nginx_limits.memory_mb,
                wait_timeout_seconds=60,
                grace_seconds=defaults.DRAIN_SECONDS,
                stop_signal="SIGQUIT",
            ),
            opts=pulumi.ResourceOptions.merge(child, defaults.serving_options(self, depends_on=[files.carrier])),
        )


def terminator_context(args: GpuHostServerArgs) -> TerminatorContext:
    """The terminator's nginx.conf inputs."""
    return TerminatorContext(
        listen_port=TERMINATOR_PORT,
        health_port=TERMINATOR_HEALTH_PORT,
        ollama_host=OLLAMA_ALIAS,
        ollama_port=OLLAMA_PORT,
        dns_resolver=DOCKER_DNS,
        certificate_file=CERTIFICATE_FILE,
        private_key_file=PRIVATE_KEY_FILE,
        client_ca_file=CLIENT_CA_FILE,
        allowed_addresses=(args.gateway_address,),
        generation_timeout_seconds=args.generation_timeout_seconds,
        max_body_mb=args.max_body_mb,
    )


def _terminator_files(args: GpuHostServerArgs, conf: str) -> tuple[DeliveredFile, ...]:
    """nginx.conf, the host's certificate and key, the pool CA; the key 0444 as the edge's (edge.py)."""
    return (
        DeliveredFile(path=f"{CONF_DIR}/nginx.conf", content=conf),
        DeliveredFile(path=f"{CONF_DIR}/{CERTIFICATE_FILE}", content=args.certificate.certificate_pem),
        DeliveredFile(path=f"{CONF_DIR}/{CLIENT_CA_FILE}", content=args.ca_certificate_pem),
        DeliveredFile(path=f"{CONF_DIR}/{PRIVATE_KEY_FILE}", content=args.certificate.private_key_pem),
    )
