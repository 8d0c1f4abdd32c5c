"""nginx: the TLS edge, the only container that publishes a port (none behind the tunnel)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import container_defaults as defaults
from components.edge_auth import AUTH_DIR, HTPASSWD_NAME, BasicAuth, BasicAuthArgs, deliver_basic_auth
from components.render.nginx import NginxContext, render_nginx_conf
from components.settings.model import ContainerLimits, ImageRef

RESOURCE_TYPE = "llmstack:index:Edge"
HTTPS_PORT = 8443
HEALTH_PORT = 8081
CONF_DIR = "/etc/nginx"
CERTIFICATE_FILE = "tls/server.crt"
PRIVATE_KEY_FILE = "tls/server.key"
HTPASSWD_FILE = f"{AUTH_DIR}/{HTPASSWD_NAME}"
"""Relative to CONF_DIR: a read-only volume the basic-auth writer fills (edge_auth.py)."""
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
    basic_auth: BasicAuthArgs | None = None
    """The epochs basic auth follows, when `nginx` turns it on."""
    serving: bool = True
    """False (the kill switch): no container; the password, the image and the inputs stay as they are."""


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
        image = docker.RemoteImage(f"{name}-image", name=args.image.reference, keep_locally=True, opts=child)
        self.basic_auth = None
        volumes, after = [], []
        delivered: pulumi.Output[bool] | bool = True
        if args.nginx.basic_auth_file is not None:
            if args.basic_auth is None:
                raise ValueError(f"{name}: nginx.conf names a basic-auth file but no basic-auth epochs were given")
            mount_path = f"{CONF_DIR}/{AUTH_DIR}"
            auth = deliver_basic_auth(
                name, args.basic_auth, docker_prefix=args.docker_prefix, mount_path=mount_path,
                image=image.image_id, parent=self,
            )  # fmt: skip
            self.basic_auth, delivered, after = auth.current, auth.delivered, [auth.writer]
            # Workers (user nginx) read it on every request; it holds hashes, not passwords.
            volumes.append(
                docker.ContainerVolumeArgs(volume_name=auth.volume.name, container_path=mount_path, read_only=True)
            )
        # Docker's DNS answers this name on every network nginx joins (cloudflared's ingress uses it).
        self.container_name = f"{args.docker_prefix}-nginx"
        if not args.serving:
            # The kill switch: everything but the container stays, so turning it back on changes nothing else.
            self.register_outputs({"delivered": delivered})
            return
        networks, ports = _networks_and_ports(args)
        docker.Container(
            f"{name}-container",
            name=self.container_name,
            image=image.image_id,
            envs=["NGINX_ENTRYPOINT_QUIET_LOGS=1"],
            uploads=_uploads(args),
            volumes=volumes,
            ports=ports,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name) for network in networks],
            healthcheck=defaults.healthcheck(["CMD", "bash", "-c", _HEALTH_PROBE], start_period_seconds=10),
            # The master binds, reads the key and switches workers to the nginx user. SIGQUIT is
            # nginx's graceful stop: open requests and streams finish, for up to a generation's time.
            **defaults.long_running(
                "CHOWN",
                "DAC_OVERRIDE",
                "SETGID",
                "SETUID",
                memory_mb=args.limits.memory_mb,
                wait_timeout_seconds=60,
                grace_seconds=args.grace_seconds,
                stop_signal="SIGQUIT",
            ),
            # The file exists before nginx first starts; a later rotation replaces the writer alone.
            opts=pulumi.ResourceOptions.merge(defaults.serving_options(self), pulumi.ResourceOptions(depends_on=after)),
        )
        # Registering the check makes the engine await it, so a failed delivery fails the update.
        self.register_outputs({"delivered": delivered})


def _uploads(args: EdgeArgs) -> list[docker.ContainerUploadArgs]:
    """nginx.conf, the certificate and its key."""
    return [
        docker.ContainerUploadArgs(
            file=f"{CONF_DIR}/nginx.conf", content=render_nginx_conf(args.nginx), permissions="0444"
        ),
        docker.ContainerUploadArgs(
            file=f"{CONF_DIR}/{CERTIFICATE_FILE}", content=args.certificate_pem, permissions="0444"
        ),
        # Read by the root master process only; workers never need the key.
        docker.ContainerUploadArgs(
            file=f"{CONF_DIR}/{PRIVATE_KEY_FILE}", content=args.private_key_pem, permissions="0400"
        ),
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
