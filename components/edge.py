"""nginx: the TLS edge, the only container that publishes a port (none behind the tunnel)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_docker as docker

from components import container_defaults as defaults
from components.delivered_files import DIGEST_ENV, DeliveredFile, DeliveredFiles, DeliveredFilesArgs
from components.edge_auth import AUTH_DIR, HTPASSWD_NAME, BasicAuth, BasicAuthArgs, deliver_basic_auth
from components.render.nginx import NginxContext, render_nginx_conf
from components.settings.model import ContainerLimits, ImageRef

RESOURCE_TYPE = "llmstack:index:Edge"
HTTPS_PORT = 8443
HEALTH_PORT = 8081
STATUS_PORT = 8082
"""nginx's status page, for the monitoring network's exporter only (monitoring on)."""
CONF_DIR = "/etc/nginx"
CERTIFICATE_FILE = "tls/server.crt"
PRIVATE_KEY_FILE = "tls/server.key"
HTPASSWD_FILE = f"{AUTH_DIR}/{HTPASSWD_NAME}"
"""Relative to CONF_DIR: a read-only volume the basic-auth writer fills (edge_auth.py)."""
ACME_DIR = "acme"
"""Where nginx mounts the renewed-certificate volume, relative to its config directory."""
RELOAD_SCRIPT = (Path(__file__).parent / "shipped" / "nginx" / "reload_on_change.sh").read_text()
"""The watcher run beside nginx that reloads it gracefully when a watched file changes."""
RELOAD_SCRIPT_FILE = "llmstack/reload-on-renewal.sh"
RELOAD_CHECK_SECONDS = 60
"""How often nginx's container looks for a renewed certificate."""
NGINX_USER = "101:101"
"""The official image's `nginx` user (docker-nginx Dockerfile: useradd --uid 101, groupadd --gid 101)."""
PID_FILE = "/tmp/nginx.pid"  # noqa: S108 - the container's own tmpfs
CONF_LABEL = "llmstack.nginx.conf"
"""The rendered nginx.conf, also as a label: the policy rules judge the edge's config per container."""
MOUNT_POINT_FILE = ".mount-point"
"""A file the carrier puts in each directory another volume is mounted on: the runtime cannot create
a mount point inside the read-only configuration volume (docker/for-linux#128)."""
CONFINEMENT = defaults.Confinement(
    user=NGINX_USER,
    # The pid file and the five *_temp_path of nginx.conf.
    writable={"/tmp": 64},  # noqa: S108 - the container's own tmpfs
    nproc=512,
    cpu_shares=1024,
)
NGINX_DIRECTIVES = f"daemon off; pid {PID_FILE};"
"""nginx's global directives from the command line: the pid file on the tmpfs (/var/run is root's)."""
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
class RenewedCertificate:
    """A certificate another container keeps renewed: nginx mounts its volume read-only and reloads on change."""

    volume: docker.Volume
    """The volume holding the PEM (key and chain in one file)."""
    file_name: str
    """The PEM's name on that volume."""
    issuer: pulumi.Resource
    """The container that writes it: nginx is created once it is healthy (a certificate exists)."""


@dataclass(frozen=True, kw_only=True)
class EdgeArgs:
    """Inputs of `Edge`."""

    docker_prefix: str
    """Prefix of Docker object names."""
    image: ImageRef
    """Pinned nginx image."""
    nginx: NginxContext
    """What the rendered nginx.conf contains."""
    certificate_pem: pulumi.Input[str] | None
    """Certificate chain served to clients; None with a renewed certificate."""
    private_key_pem: pulumi.Input[str] | None
    """Private key of the certificate (secret); None with a renewed certificate."""
    renewed: RenewedCertificate | None = None
    """A certificate renewed outside `pulumi up` (tlsSource acme), instead of the two PEMs above."""
    limits: ContainerLimits
    """Container limits."""
    gateway_network: docker.Network
    """Internal network shared with LiteLLM."""
    publish: PublishedPort | None
    """The host port; None behind the tunnel, where nothing is published."""
    tunnel_network: docker.Network | None = None
    """In tunnel mode, the internal network shared with cloudflared only."""
    monitoring_network: docker.Network | None = None
    """With monitoring on, the internal network Prometheus scrapes on."""
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
        conf = render_nginx_conf(args.nginx)
        # The files outlive a pause: unpausing finds them unchanged. The htpasswd file is not among
        # them: nginx rereads it per request from its own volume, so a rotation replaces its writer only.
        files = DeliveredFiles(
            f"{name}-files",
            DeliveredFilesArgs(
                docker_name=f"{args.docker_prefix}-nginx-files",
                image=image.image_id,
                user=NGINX_USER,
                mount_path=CONF_DIR,
                files=tuple(_files(args, conf)),
            ),
            opts=child,
        )
        self.basic_auth = None
        volumes: list[docker.ContainerVolumeArgs] = []
        after: list[pulumi.Resource] = []
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
        renewal = _renewal(args.renewed)
        if args.renewed is not None:
            # nginx is created once lego has installed a first certificate (its healthcheck).
            after.append(args.renewed.issuer)
        docker.Container(
            f"{name}-container",
            name=self.container_name,
            image=image.image_id,
            # nginx itself, not the image's entrypoint (its scripts would edit /etc/nginx); the pid
            # file on the tmpfs: the compiled-in /var/run/nginx.pid is root's and read-only.
            entrypoints=renewal.pop("entrypoints", ["nginx"]),
            command=renewal.pop("command", ["-g", NGINX_DIRECTIVES]),
            envs=["NGINX_ENTRYPOINT_QUIET_LOGS=1", pulumi.Output.concat(f"{DIGEST_ENV}=", files.digest)],
            volumes=[files.mount(), *volumes, *renewal.pop("volumes", [])],
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
            # The file exists before nginx first starts; a later rotation replaces the writer alone.
            opts=defaults.serving_options(self, depends_on=[files.carrier, *after]),
        )
        # Registering the check makes the engine await it, so a failed delivery fails the update.
        self.register_outputs({"delivered": delivered})


def nginx_with_watcher(script_file: str, seconds: int, watched: str) -> tuple[list[str], list[str]]:
    """Entrypoints and command of nginx with the reload watcher (RELOAD_SCRIPT, at `script_file`) beside it.

    nginx stays PID 1 (`exec`), so Docker's stop signal still reaches it; the watcher is its child
    and signals it with SIGHUP, nginx's graceful reload. Nothing gets the Docker socket.
    """
    watcher = f"sh {CONF_DIR}/{script_file} {seconds} 1 {watched}"
    return ["sh", "-c"], [f"{watcher} & exec nginx -g '{NGINX_DIRECTIVES}'"]


def mount_point(directory: str, what: str) -> DeliveredFile:
    """The file that makes `directory` (under CONF_DIR) a mount point for another volume (MOUNT_POINT_FILE)."""
    return DeliveredFile(path=f"{CONF_DIR}/{directory}/{MOUNT_POINT_FILE}", content=f"Mount point of {what}.\n")


def _renewal(renewed: RenewedCertificate | None) -> dict[str, Any]:
    """With a renewed certificate: its volume, read-only, and the watcher started beside nginx."""
    if renewed is None:
        return {}
    entrypoints, command = nginx_with_watcher(
        RELOAD_SCRIPT_FILE, RELOAD_CHECK_SECONDS, f"{CONF_DIR}/{ACME_DIR}/{renewed.file_name}"
    )
    return {
        "entrypoints": entrypoints,
        "command": command,
        "volumes": [
            docker.ContainerVolumeArgs(
                volume_name=renewed.volume.name, container_path=f"{CONF_DIR}/{ACME_DIR}", read_only=True
            )
        ],
    }


def _files(args: EdgeArgs, conf: str) -> list[DeliveredFile]:
    """nginx.conf, and the certificate and its key (or the watcher that reloads a renewed one).

    The key is 0444 root in a volume only nginx mounts: master and workers share uid 101, so an
    owner-only mode would add nothing inside the container, and uploads cannot set an owner.
    """
    files = [DeliveredFile(path=f"{CONF_DIR}/nginx.conf", content=conf)]
    if args.nginx.basic_auth_file is not None:
        files.append(mount_point(AUTH_DIR, "the basic-auth volume (edge_auth.py)"))
    if args.renewed is not None:
        return [
            *files,
            DeliveredFile(path=f"{CONF_DIR}/{RELOAD_SCRIPT_FILE}", content=RELOAD_SCRIPT, permissions="0555"),
            mount_point(ACME_DIR, "the renewed-certificate volume (acme.py)"),
        ]
    if args.certificate_pem is None or args.private_key_pem is None:
        raise ValueError("the edge needs a certificate and its key, or a renewed certificate")
    return [
        *files,
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
    if args.monitoring_network is not None:
        networks.append(args.monitoring_network)
    return networks, ports
