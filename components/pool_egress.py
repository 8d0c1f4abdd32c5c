"""The gateway host's way to the GPU pool: an nginx that adds mutual TLS, unpublished.

Which hosts exist is a file of its own on a volume of its own (`routes.conf`), watched beside nginx,
which reloads gracefully when it changes: adding, moving or removing a host replaces its carrier
only, never this container, and streams in flight finish on the old workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import container_defaults as defaults
from components.delivered_files import DIGEST_ENV, DeliveredFile, DeliveredFiles, DeliveredFilesArgs
from components.edge import CONF_DIR, CONF_LABEL, NGINX_USER, RELOAD_SCRIPT, mount_point, nginx_with_watcher
from components.edge import CONFINEMENT as NGINX_CONFINEMENT
from components.gpu_host import TERMINATOR_PORT
from components.pool_certificates import POOL_DOMAIN, KeyPair
from components.render.pool import HOSTS_PATH, EgressContext, PoolRoute, render_egress_conf, render_egress_routes
from components.settings.model import ContainerLimits, GpuHost, ImageRef

RESOURCE_TYPE = "llmstack:index:PoolEgress"
EGRESS_ALIAS = "pool-egress"
"""Its one name on the internal models network, whichever hosts exist."""
EGRESS_PORT = 11434
"""Where LiteLLM sends each host's Ollama API calls, as if to Ollama itself."""
EGRESS_HEALTH_PORT = 8081
CERTIFICATE_FILE = "tls/gateway.crt"
PRIVATE_KEY_FILE = "tls/gateway.key"
CA_FILE = "tls/pool-ca.crt"
ROUTES_DIR = "pool"
"""Where the hosts' volume is mounted, relative to CONF_DIR."""
ROUTES_FILE = f"{ROUTES_DIR}/routes.conf"
RELOAD_SCRIPT_FILE = "llmstack/reload-on-change.sh"
ROUTES_CHECK_SECONDS = 2
"""How often the watcher looks at the hosts file: a new host serves within about this long."""
DEAD_PEER_SYSCTLS = {
    # A request the host never acknowledges fails after about 6 s of retransmissions (0.2 s doubling,
    # 4 retries), not Linux's 15 minutes: a host gone from the network (no RST, no FIN) over a pooled
    # connection is then as quick to give up on as one refusing connections (proxy_connect_timeout).
    # Only unacknowledged data counts: a healthy host acknowledges at once, however long it generates.
    "net.ipv4.tcp_retries2": "4",
    # An answer under way whose host vanished: after 30 s of silence, three probes 5 s apart
    # (`proxy_socket_keepalive on`), which the host's kernel answers while Ollama is quiet (loading a model).
    "net.ipv4.tcp_keepalive_time": "30",
    "net.ipv4.tcp_keepalive_intvl": "5",
    "net.ipv4.tcp_keepalive_probes": "3",
}
"""The egress's own network namespace only (namespaced sysctls): how soon a vanished GPU host is noticed."""
_HEALTH_PROBE = (
    f"exec 3<>/dev/tcp/127.0.0.1/{EGRESS_HEALTH_PORT} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 "
    "&& head -n 1 <&3 | grep -q ' 200 '"
)


def host_url(host: str) -> str:
    """The Ollama API base LiteLLM uses for `host`: LiteLLM appends `/api/chat` and the like."""
    return f"http://{EGRESS_ALIAS}:{EGRESS_PORT}{HOSTS_PATH}{host}"


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

    Reachable only by LiteLLM on the internal models network (as `pool-egress`, a base URL per GPU
    host), it publishes nothing. It carries each call to that
    host's terminator over TLS 1.3, presenting the gateway's client certificate and accepting only a
    certificate of the pool CA for that host's name. LiteLLM holds no key.
    """

    def __init__(self, name: str, args: PoolEgressArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RESOURCE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        image = docker.RemoteImage(f"{name}-image", name=args.image.reference, keep_locally=True, opts=child)
        conf = render_egress_conf(egress_context(args))
        start = nginx_with_watcher(RELOAD_SCRIPT_FILE, ROUTES_CHECK_SECONDS, f"{CONF_DIR}/{ROUTES_FILE}")
        # Not in the container's environment: a new host list replaces this carrier, and the
        # watcher makes nginx reload it.
        routes = DeliveredFiles(
            f"{name}-routes",
            DeliveredFilesArgs(
                docker_name=f"{args.docker_prefix}-pool-egress-routes",
                image=image.image_id,
                user=NGINX_USER,
                mount_path=f"{CONF_DIR}/{ROUTES_DIR}",
                files=(DeliveredFile(path=f"{CONF_DIR}/{ROUTES_FILE}", content=render_egress_routes(routes_of(args))),),
            ),
            opts=child,
        )
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
            # As the edge: nginx itself as uid 101 and PID 1, its pid file on the tmpfs; the watcher
            # beside it reloads it gracefully when the hosts file changes.
            entrypoints=start[0],
            command=start[1],
            envs=["NGINX_ENTRYPOINT_QUIET_LOGS=1", pulumi.Output.concat(f"{DIGEST_ENV}=", files.digest)],
            volumes=[files.mount(), routes.mount()],
            # Also as a label: the policy rules judge the egress config per container.
            labels=[docker.ContainerLabelArgs(label=CONF_LABEL, value=conf)],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.models_network.name, aliases=[EGRESS_ALIAS]),
                docker.ContainerNetworksAdvancedArgs(name=args.egress_network.name),
            ],
            sysctls=DEAD_PEER_SYSCTLS,
            healthcheck=defaults.healthcheck(["CMD", "bash", "-c", _HEALTH_PROBE], start_period_seconds=10),
            **defaults.long_running(
                confinement=NGINX_CONFINEMENT,
                memory_mb=args.limits.memory_mb,
                wait_timeout_seconds=60,
                grace_seconds=defaults.DRAIN_SECONDS,
                stop_signal="SIGQUIT",
            ),
            opts=defaults.serving_options(self, depends_on=[files.carrier, routes.carrier]),
        )
        self.register_outputs({})


def egress_context(args: PoolEgressArgs) -> EgressContext:
    """The egress nginx.conf inputs: none of them names a host."""
    return EgressContext(
        listen_port=EGRESS_PORT,
        health_port=EGRESS_HEALTH_PORT,
        routes_file=ROUTES_FILE,
        server_name_domain=POOL_DOMAIN,
        certificate_file=CERTIFICATE_FILE,
        private_key_file=PRIVATE_KEY_FILE,
        ca_file=CA_FILE,
        generation_timeout_seconds=args.generation_timeout_seconds,
        max_body_mb=args.max_body_mb,
    )


def routes_of(args: PoolEgressArgs) -> tuple[PoolRoute, ...]:
    """One route per GPU host: its private address and its terminator's port."""
    return tuple(PoolRoute(host=host.name, address=host.address, port=TERMINATOR_PORT) for host in args.hosts)


def _files(conf: str, args: PoolEgressArgs) -> tuple[DeliveredFile, ...]:
    """nginx.conf, the watcher, the hosts volume's mount point, the gateway's certificate and key, the CA.

    The key is 0444 as the edge's (edge.py).
    """
    return (
        DeliveredFile(path=f"{CONF_DIR}/nginx.conf", content=conf),
        DeliveredFile(path=f"{CONF_DIR}/{RELOAD_SCRIPT_FILE}", content=RELOAD_SCRIPT, permissions="0555"),
        mount_point(ROUTES_DIR, "the GPU hosts' volume"),
        DeliveredFile(path=f"{CONF_DIR}/{CERTIFICATE_FILE}", content=args.client.certificate_pem),
        DeliveredFile(path=f"{CONF_DIR}/{CA_FILE}", content=args.ca_certificate_pem),
        DeliveredFile(path=f"{CONF_DIR}/{PRIVATE_KEY_FILE}", content=args.client.private_key_pem),
    )
