"""Who can open connections off the host: the networks a publishing container sits on (a stack check).

A published port needs a non-internal bridge, and Docker masquerades such a bridge's outbound
connections by default: a container that publishes would then reach the Internet as the host. The
stack creates those bridges with masquerade off (components/networks.py NO_OUTBOUND_NAT). A rule
over one container cannot see its networks' options, so this one reads the whole stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from policy.containers import CONTAINER
from policy.exposure import published
from policy.props import Props, entries, field, known_text, mapping, value

NETWORK = "docker:index/network:Network"
MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"


@dataclass(frozen=True)
class StackResource:
    """One resource of the stack as a stack check sees it."""

    name: str
    """Its logical name (the audit's) or URN (the engine's)."""
    type: str
    """Its Pulumi type token."""
    props: Props
    """Its inputs in wire form."""


def publishers_without_nat_out(resources: Sequence[StackResource]) -> list[tuple[str, str]]:
    """(resource, message) for each container that publishes a port from a network that masquerades."""
    networks = {known_text(r.props, "name"): r.props for r in resources if r.type == NETWORK}
    found = []
    for resource in resources:
        if resource.type != CONTAINER or not published(resource.props):
            continue
        found += [(resource.name, message) for message in _nat_problems(resource.props, networks)]
    return found


def _nat_problems(container: Props, networks: dict[str, Props]) -> list[str]:
    attached = [known_text(mapping(entry), "name") for entry in entries(field(container, "networksAdvanced"))]
    if not attached:
        return ["publishes a port from Docker's default bridge, which masquerades its outbound connections"]
    problems = []
    for name in filter(None, attached):  # a name unknown during preview is judged on `up`
        network = networks.get(name)
        if network is None:
            problems.append(f"publishes a port from network {name!r}, which the stack does not declare")
        elif _masquerades(network):
            problems.append(
                f"publishes a port from network {name!r}, which masquerades its outbound connections: "
                f"create it with options {{{MASQUERADE!r}: 'false'}} (the host's address would carry its traffic out)"
            )
    return problems


def _masquerades(network: Props) -> bool:
    """Whether Docker NATs the network's outbound connections (every non-internal bridge, unless told not to)."""
    if field(network, "internal") is True:
        return False
    return bool(value(mapping(field(network, "options")).get(MASQUERADE)) != "false")
