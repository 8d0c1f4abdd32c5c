"""nginx: the TLS edge, the only container that publishes a port (none behind the tunnel)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components import container_defaults as defaults
from components.delivered_files import DIGEST_ENV, DeliveredFile, DeliveredFiles, DeliveredFilesArgs
from components.render.htpasswd import htpasswd_line
from components.render.nginx import NginxContext, render_nginx_conf
from components.settings.model import ContainerLimits, ImageRef

RESOURCE_TYPE = "llmstack:index:Edge"
HTTPS_PORT = 8443
HEALTH_PORT = 8081
CONF_DIR = "/etc/nginx"
CERTIFICATE_FILE = "tls/server.crt"
PRIVATE_KEY_FILE = "tls/server.key"
HTPASSWD_FILE = "htpasswd"
BASIC_AUTH_USER = "llmstack"
NGINX_USER = "101:101"
"""The official image's `nginx` user (docker-nginx Dockerfile: useradd --uid 101, groupadd --gid 101)."""
PID_FILE = "/tmp/nginx.pid"  # noqa: S108 - the container's own tmpfs
CONF_LABEL = "llmstack.nginx.conf"
"""The rendered nginx.conf, also as a label: the policy rules judge the edge's config per container."""
CONFINEMENT = defaults.Confinement(
    user=NGINX_USER,
    # The pid file and the five *_temp_path of nginx.conf.
    writable={"/tmp": 64},  # noqa: S108 - the container's own tmpfs
    nproc=512,
    cpu_shares=1024,
)
_HEALTH_PROBE = (
    f"exec 3<>/dev/tcp/127.0.0.1/{HEALTH_PORT} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 "
    "&& head -n 1 <&3 | grep -q ' 200 '"
)


@dataclass(frozen=True, kw_only=True)
class PublishedPort:
    """Where the edge's HTTPS port is published on the Docker host."""

    address: str
    """Host address the HTTPS port is published on."""
    port: int
    """Host port the HTTPS port is published on."""
    network: docker.Network
    """nginx's own network, the one its port is published from."""


@dataclass(frozen=True, kw_only=True)
class EdgeArgs:
    """Inputs of `Edge`."""

    docker_prefix: str
    """Prefix of Docker object names."""
    image: ImageRef
    """Pinned nginx image."""
    nginx: NginxContext
    """What the rendered nginx.conf contains."""
    certificate_pem: pulumi.Input[str]
    """Certificate chain served to clients."""
    private_key_pem: pulumi.Input[str]
    """Private key of the certificate (secret)."""
    limits: ContainerLimits
    """Container limits."""
    gateway_network: docker.Network
    """Internal network shared with LiteLLM."""
    publish: PublishedPort | None
    """The host port; None behind the tunnel, where nothing is published."""
    tunnel_network: docker.Network | None = None
    """In tunnel mode, the internal network shared with cloudflared only."""
    grace_seconds: int
    """How long a stop waits for open requests and streams before SIGKILL."""
    basic_auth_keepers: dict[str, str] = field(default_factory=dict)
    """Rotation epochs the basic-auth password follows (pulumi-random keepers)."""
    serving: bool = True
    """False (the kill switch): no container; the password, the image and the inputs stay as they are."""


@dataclass(frozen=True)
class BasicAuth:
    """Basic-auth credentials generated for the edge."""

    user: str
    password: pulumi.Output[str]


class Edge(pulumi.ComponentResource):
    """The nginx container: HTTPS on `publish.address:publish.port` (or to cloudflared only) and nothing else.

    It proxies only the OpenAI client routes to LiteLLM, re-resolving `litellm` through Docker's
    DNS so a replaced gateway is followed without a restart.
    """

    container_name: str
    basic_auth: BasicAuth | None

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RESOURCE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        conf = render_nginx_conf(args.nginx)
        files = _files(args, conf)
        self.basic_auth = None
        if args.nginx.basic_auth_file is not None:
            self.basic_auth, htpasswd = self._basic_auth(name, args.basic_auth_keepers, child)
            # nginx reads it on every request; it holds a hash, not the password.
            files.append(DeliveredFile(path=f"{CONF_DIR}/{HTPASSWD_FILE}", content=htpasswd))
        image = docker.RemoteImage(f"{name}-image", name=args.image.reference, keep_locally=True, opts=child)
        # The files outlive a pause: unpausing finds them unchanged.
        delivered = DeliveredFiles(
            f"{name}-files",
            DeliveredFilesArgs(
                docker_name=f"{args.docker_prefix}-nginx-files",
                image=image.image_id,
                user=NGINX_USER,
                mount_path=CONF_DIR,
                files=tuple(files),
            ),
            opts=child,
        )
        # Docker's DNS answers this name on every network nginx joins (cloudflared's ingress uses it).
        self.container_name = f"{args.docker_prefix}-nginx"
        if not args.serving:
            # The kill switch: everything but the container stays, so turning it back on changes nothing else.
            self.register_outputs({})
            return
        networks, ports = _networks_and_ports(args)
        docker.Container(
            f"{name}-container",
            name=self.container_name,
            image=image.image_id,
            # nginx itself, not the image's entrypoint (its scripts would edit /etc/nginx); the pid
            # file on the tmpfs: the compiled-in /var/run/nginx.pid is root's and read-only.
            entrypoints=["nginx"],
            command=["-g", f"daemon off; pid {PID_FILE};"],
            envs=["NGINX_ENTRYPOINT_QUIET_LOGS=1", pulumi.Output.concat(f"{DIGEST_ENV}=", delivered.digest)],
            volumes=[delivered.mount()],
            labels=[docker.ContainerLabelArgs(label=CONF_LABEL, value=conf)],
            ports=ports,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name) for network in networks],
            healthcheck=defaults.healthcheck(["CMD", "bash", "-c", _HEALTH_PROBE], start_period_seconds=10),
            # Master and workers run as nginx (101) with no capability: ports 8443/8081 need none.
            # SIGQUIT is nginx's graceful stop: open requests and streams finish, for up to a generation's time.
            **defaults.long_running(
                confinement=CONFINEMENT,
                memory_mb=args.limits.memory_mb,
                wait_timeout_seconds=60,
                grace_seconds=args.grace_seconds,
                stop_signal="SIGQUIT",
            ),
            opts=defaults.serving_options(self, depends_on=[delivered.carrier]),
        )
        self.register_outputs({})

    def _basic_auth(
        self, name: str, keepers: dict[str, str], child: pulumi.ResourceOptions
    ) -> tuple[BasicAuth, pulumi.Output[str]]:
        password = random.RandomPassword(
            f"{name}-basic-auth-password", length=32, special=False, keepers=keepers or None, opts=child
        )
        # A salt kept in state makes the hash stable: no new hash, no nginx replacement, per update.
        salt = random.RandomString(f"{name}-basic-auth-salt", length=8, special=False, opts=child)
        htpasswd = pulumi.Output.all(password=password.result, salt=salt.result).apply(
            lambda values: htpasswd_line(BASIC_AUTH_USER, values["password"], values["salt"])
        )
        return BasicAuth(BASIC_AUTH_USER, pulumi.Output.secret(password.result)), pulumi.Output.secret(htpasswd)


def _files(args: EdgeArgs, conf: str) -> list[DeliveredFile]:
    """nginx.conf, the certificate and its key.

    The key is 0444 root in a volume only nginx mounts: master and workers share uid 101, so an
    owner-only mode would add nothing inside the container, and uploads cannot set an owner.
    """
    return [
        DeliveredFile(path=f"{CONF_DIR}/nginx.conf", content=conf),
        DeliveredFile(path=f"{CONF_DIR}/{CERTIFICATE_FILE}", content=args.certificate_pem),
        DeliveredFile(path=f"{CONF_DIR}/{PRIVATE_KEY_FILE}", content=args.private_key_pem),
    ]


def _networks_and_ports(args: EdgeArgs) -> tuple[list[docker.Network], list[docker.ContainerPortArgs] | None]:
    """The networks nginx joins and the one port it publishes, if any."""
    networks = [args.gateway_network]
    ports = None
    if args.publish is not None:
        networks.append(args.publish.network)
        ports = [
            docker.ContainerPortArgs(
                internal=args.nginx.listen_port, external=args.publish.port, ip=args.publish.address, protocol="tcp"
            )
        ]
    if args.tunnel_network is not None:
        networks.append(args.tunnel_network)
    return networks, ports
