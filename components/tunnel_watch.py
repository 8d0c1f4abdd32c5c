"""The tunnel watch: cloudflared's `/metrics` for Prometheus, without cloudflared's pprof.

cloudflared's metrics server serves `/metrics`, `/ready` and Go's `/debug/pprof` on one listener; a
heap profile holds the tunnel token, and whoever holds the token can run a connector for the tunnel
and receive its clients' traffic. So that listener stays on cloudflared's 127.0.0.1, and a small
nginx (the stack's nginx image) joins cloudflared's network namespace and passes `GET /metrics`
alone to it. Prometheus reaches the watch on a network it shares with cloudflared only: not the
monitoring network, where cloudflared could reach LiteLLM around the edge.
"""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from components import container_defaults as defaults
from components.delivered_files import DIGEST_ENV, DeliveredFile, DeliveredFiles, DeliveredFilesArgs
from components.edge import CONF_LABEL, NGINX_DIRECTIVES, NGINX_USER
from components.edge import CONFINEMENT as EDGE_CONFINEMENT
from components.render.tunnel_watch import TunnelWatchContext, render_tunnel_watch_conf

WATCH_ALIAS = "tunnel-watch"
"""cloudflared's name on the watch network: where Prometheus finds the watch (same namespace)."""
WATCH_PORT = 9104
CONF_DIR = "/etc/nginx"
MEMORY_MB = 32
CONFINEMENT = defaults.Confinement(
    user=NGINX_USER,
    writable={"/tmp": 8},  # noqa: S108 - the pid file and nginx's temp paths, on the container's own tmpfs
    nproc=EDGE_CONFINEMENT.nproc,  # the edge's uid too: RLIMIT_NPROC counts per uid across the host
    cpu_shares=256,
)
_PROBE = (
    f"exec 3<>/dev/tcp/127.0.0.1/{WATCH_PORT} && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 "
    "&& head -n 1 <&3 | grep -q ' 200 '"
)
HEALTH_PROBE = f"{_PROBE} || {{ kill -QUIT 1; exit 1; }}"
"""/metrics through the watch. On failure nginx stops, and its restart policy starts it again in
cloudflared's *current* namespace: a restarted cloudflared gets a new one, and a container that
joined the old one is left with a loopback and nothing behind it (Docker does not move it)."""


def tunnel_watch(
    name: str,
    *,
    parent: pulumi.Resource,
    docker_prefix: str,
    image: pulumi.Input[str],
    connector: docker.Container | None,
    metrics_address: str,
) -> docker.Container | None:
    """The watch container in `connector`'s network namespace, and its config volume.

    No connector (the kill switch): the volume stays, the container goes, as for the connector.

    `network_mode` is `container:<connector id>`: the engine stores the full id (a name would be
    stored as the id, a diff on every `up`), and a new connector has a new id, which replaces the
    watch (a changed network mode always does).
    """
    conf = render_tunnel_watch_conf(TunnelWatchContext(listen_port=WATCH_PORT, metrics_address=metrics_address))
    files = DeliveredFiles(
        f"{name}-files",
        DeliveredFilesArgs(
            docker_name=f"{docker_prefix}-cloudflared-watch-files",
            image=image,
            user=NGINX_USER,
            mount_path=CONF_DIR,
            files=(DeliveredFile(path=f"{CONF_DIR}/nginx.conf", content=conf),),
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    if connector is None:
        return None
    return docker.Container(
        name,
        name=f"{docker_prefix}-cloudflared-watch",
        image=image,
        entrypoints=["nginx"],
        command=["-g", NGINX_DIRECTIVES],
        envs=["NGINX_ENTRYPOINT_QUIET_LOGS=1", pulumi.Output.concat(f"{DIGEST_ENV}=", files.digest)],
        volumes=[files.mount()],
        network_mode=pulumi.Output.concat("container:", connector.id),
        labels=[docker.ContainerLabelArgs(label=CONF_LABEL, value=conf)],
        healthcheck=defaults.healthcheck(["CMD", "bash", "-c", HEALTH_PROBE], start_period_seconds=10),
        **defaults.long_running(
            confinement=CONFINEMENT,
            memory_mb=MEMORY_MB,
            wait_timeout_seconds=60,
            grace_seconds=5,
            stop_signal="SIGQUIT",
        ),
        opts=defaults.serving_options(parent, depends_on=[files.carrier, connector]),
    )
