"""The stack's private Docker networks: who can talk to whom is decided here."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.settings.model import MonitoringSubnet, TunnelSubnet

RESOURCE_TYPE = "llmstack:index:StackNetworks"
NO_OUTBOUND_NAT = {"com.docker.network.bridge.enable_ip_masquerade": "false"}
"""Options of a network that exists only to publish a port: no masquerade for connections out of it.

Publishing needs a non-internal bridge, so its containers keep a default route; without NAT a
connection they open leaves with its private source address, which no Internet host routes back
(docs/LEAST_PRIVILEGE.md, Egress). Published ports are DNAT and unaffected; tests/docker/test_egress.py.
"""


@dataclass(frozen=True, kw_only=True)
class StackNetworksArgs:
    """Inputs of `StackNetworks`."""

    docker_prefix: str
    """Prefix of Docker object names, so several stacks can share one engine."""
    tunnel_subnet: TunnelSubnet | None = None
    """In tunnel mode, the pinned subnet of the network cloudflared and nginx share."""
    monitoring_subnet: MonitoringSubnet | None = None
    """With monitoring on, the pinned subnet of the network Prometheus and what it scrapes share."""


class StackNetworks(pulumi.ComponentResource):
    """Four bridge networks, each shared only by the containers that must talk.

    - `models` (internal): Ollama and LiteLLM. Nothing else can reach Ollama.
    - `gateway` (internal): LiteLLM and nginx.
    - `publish`: nginx alone; the only network with a published port (local and lan modes), no NAT out.
    - `model_egress`: Ollama alone; its way out for model pulls, shared with no container.
    In tunnel mode `publish` gives way to two networks, so cloudflared reaches nginx and nothing else:
    - `tunnel` (internal, pinned subnet): cloudflared, at a fixed address, and nginx.
    - `tunnel_egress`: cloudflared alone; its way out to Cloudflare, shared with no container.
    With monitoring on, three more:
    - `monitoring` (internal, pinned subnet): Prometheus, its exporters, Alertmanager, and the
      containers they scrape (nginx, LiteLLM). nginx shows its status page to it alone.
    - `monitoring_publish`: Prometheus alone; its port is published on the host's 127.0.0.1, no NAT out.
    - `alert_egress`: Alertmanager alone; its way out to the webhook and mail server.
    - `tunnel_watch` (internal, tunnel mode): cloudflared and Prometheus alone (tunnel_watch.py).
    Internal networks have no route off the host and cannot publish ports.
    """

    models: docker.Network
    gateway: docker.Network
    publish: docker.Network | None
    model_egress: docker.Network
    tunnel: docker.Network | None
    tunnel_egress: docker.Network | None
    monitoring: docker.Network | None
    monitoring_publish: docker.Network | None
    alert_egress: docker.Network | None
    tunnel_watch: docker.Network | None

    def __init__(self, name: str, args: StackNetworksArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RESOURCE_TYPE, name, None, opts)
        # Docker refuses a second network of the same name, so a replacement must delete the old one
        # first (Pulumi then replaces the containers attached to it first).
        child = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        prefix = args.docker_prefix
        self.models = _bridge(name, prefix, "models", child, internal=True)
        self.gateway = _bridge(name, prefix, "gateway", child, internal=True)
        self.publish = self.tunnel = self.tunnel_egress = None
        if args.tunnel_subnet is None:
            self.publish = _bridge(name, prefix, "publish", child, options=NO_OUTBOUND_NAT)
        else:
            self.tunnel, self.tunnel_egress = _tunnel_networks(name, prefix, args.tunnel_subnet, child)
        self.model_egress = _bridge(name, prefix, "model-egress", child)
        self.monitoring = self.monitoring_publish = self.alert_egress = None
        if args.monitoring_subnet is not None:
            self.monitoring, self.monitoring_publish, self.alert_egress = _monitoring_networks(
                name, prefix, args.monitoring_subnet, child
            )
        self.tunnel_watch = None
        if args.monitoring_subnet is not None and args.tunnel_subnet is not None:
            self.tunnel_watch = _bridge(name, prefix, "tunnel-watch", child, internal=True)
        self.register_outputs({})


def _bridge(
    name: str,
    prefix: str,
    role: str,
    child: pulumi.ResourceOptions,
    *,
    internal: bool = False,
    options: dict[str, str] | None = None,
) -> docker.Network:
    """A bridge network `<prefix>-<role>`, resource `<name>-<role>`."""
    return docker.Network(
        f"{name}-{role}",
        name=f"{prefix}-{role}",
        driver="bridge",
        internal=internal,
        options=options,
        opts=child,
    )


def _monitoring_networks(
    name: str, prefix: str, subnet: MonitoringSubnet, child: pulumi.ResourceOptions
) -> tuple[docker.Network, docker.Network, docker.Network]:
    """The monitoring network (pinned subnet), Prometheus's published one and Alertmanager's way out."""
    monitoring = docker.Network(
        f"{name}-monitoring",
        name=f"{prefix}-monitoring",
        driver="bridge",
        internal=True,
        ipam_configs=[docker.NetworkIpamConfigArgs(subnet=subnet.cidr, gateway=subnet.gateway)],
        opts=child,
    )
    publish = _bridge(name, prefix, "monitoring-publish", child, options=NO_OUTBOUND_NAT)
    egress = _bridge(name, prefix, "alert-egress", child)
    return monitoring, publish, egress


def _tunnel_networks(
    name: str, prefix: str, subnet: TunnelSubnet, child: pulumi.ResourceOptions
) -> tuple[docker.Network, docker.Network]:
    """The tunnel's internal network (pinned subnet) and cloudflared's own way out.

    `child` deletes before replacing, which the pinned subnet needs as much as the names do.
    """
    tunnel = docker.Network(
        f"{name}-tunnel",
        name=f"{prefix}-tunnel",
        driver="bridge",
        internal=True,
        # Docker hands out addresses from the upper half only, so cloudflared's fixed one stays free.
        ipam_configs=[
            docker.NetworkIpamConfigArgs(subnet=subnet.cidr, gateway=subnet.gateway, ip_range=subnet.dynamic_range)
        ],
        opts=child,
    )
    return tunnel, _bridge(name, prefix, "tunnel-egress", child)
