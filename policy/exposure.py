"""Who can reach what: published ports, bind addresses and the tunnel's ingress."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from policy.containers import CONTAINER, role
from policy.nginx_conf import allow_list_problems, config_files
from policy.props import Props, entries, field, mapping, strings, text, value

TUNNEL_CONFIGS = frozenset(
    {
        "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig",
        # The v5 name, still served by pulumi-cloudflare 6.x: the same ingress, the same risk.
        "cloudflare:index/tunnelConfig:TunnelConfig",
    }
)
EDGE_ROLE = "nginx"
"""The one container that may be reachable from the host's addresses."""
LOOPBACK_ROLE = "prometheus"
"""The one other container that may publish: on the host's loopback only, for the operator."""

_FIXED_STATUS = re.compile(r"^http_status:[1-5][0-9]{2}$")


@dataclass(frozen=True)
class Binding:
    """One way a container is reachable from the host's addresses."""

    port: str
    """Host port, or a description when Docker chooses."""
    address: str
    """Host address it is bound to."""
    everywhere: bool
    """Whether it is bound to every host address."""

    def __str__(self) -> str:
        return f"port {self.port} on {self.address}"


def _edge_shaped(props: Props, exposures: list[str]) -> list[str]:
    """A container that publishes as nginx must carry an nginx configuration.

    The TLS and allow-list rules then judge that configuration. Under the engine the name is all
    that says "nginx", and a name is anyone's to choose (an Ollama called `evil-nginx`).
    """
    if not exposures:
        return []
    configs = config_files(props)
    problems = (
        []
        if configs.files
        else [
            f"container {text(props, 'name') or '(unnamed)'!r} {exposures[0]}"
            " but carries no nginx configuration: it is not the nginx edge"
        ]
    )
    return configs.judged(problems)


def internal_services_unpublished(resource_type: str, props: Props) -> list[str]:
    """Only the nginx edge is reachable from outside Docker: every other container publishes nothing.

    Fail-closed: a container the pack cannot tell is nginx (by a readable image, else by its
    Docker name, which is all the engine shows) must not publish, so an Ollama renamed
    `llm-backend` fails although its image is just a `sha256:` ID.
    """
    if resource_type != CONTAINER:
        return []
    exposures = [f"publishes {binding}" for binding in published(props)]
    if text(props, "networkMode") == "host":
        exposures.append("shares the host's network: every port it listens on is on every host address")
    who = role(props) if exposures else EDGE_ROLE
    if who == EDGE_ROLE:
        return _edge_shaped(props, exposures)
    if who == LOOPBACK_ROLE:
        return _loopback_prometheus(props)
    what = who or f"container {text(props, 'name') or '(unnamed)'!r}"
    return [
        f"{what} {exposure}: only the nginx edge (…-nginx) may be reachable from the host" for exposure in exposures
    ]


def _loopback_prometheus(props: Props) -> list[str]:
    """Prometheus may publish on the host's loopback and nowhere else, and only if it is Prometheus.

    Its name is anyone's to choose, so it must carry a Prometheus configuration too: uploaded, or
    (read-only since #22) named by its `--config.file` in a volume a carrier filled.
    """
    problems = [
        f"prometheus publishes {binding}: only on the host's loopback (127.0.0.1), reached over ssh -L"
        for binding in published(props)
        if not _is_loopback(binding.address)
    ]
    if text(props, "networkMode") == "host":
        problems.append("prometheus shares the host's network: every port it listens on is on every host address")
    files = [str(value(mapping(u).get("file")) or "") for u in entries(field(props, "uploads"))]
    flag = "--config.file="
    files += [arg.removeprefix(flag) for arg in strings(field(props, "command")) if arg.startswith(flag)]
    if not any(path.endswith("/prometheus.yml") for path in files):
        problems.append(f"container {text(props, 'name')!r} publishes but carries no prometheus.yml: not Prometheus")
    return problems


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def wildcard_publish(resource_type: str, props: Props) -> list[str]:
    """A port published on every host address (0.0.0.0, ::) needs an nginx allow-list in front.

    Exposure is not a resource property; the honest signal is what nginx enforces: its uploaded
    configuration admits named networks only, in every location that proxies. Without it, only an
    explicit address (loopback, or one LAN interface) may be published.
    """
    if resource_type != CONTAINER:
        return []
    if text(props, "networkMode") == "host":
        return ["networkMode host: every port the container listens on is on every host address"]
    everywhere = [binding for binding in published(props) if binding.everywhere]
    if not everywhere:
        return []
    known = config_files(props)
    if not known.files and known.pending is not None:
        raise known.pending
    reasons = allow_list_problems(known.files)
    return known.judged([f"publishes {binding}, but {'; '.join(reasons)}" for binding in everywhere] if reasons else [])


def published(props: Props) -> list[Binding]:
    """Every host binding of a container."""
    bindings = []
    for entry in entries(field(props, "ports")):
        port = mapping(entry)
        ip = value(port.get("ip"))
        # The provider publishes on 0.0.0.0 when `ip` is unset.
        address = ip if isinstance(ip, str) and ip else "0.0.0.0"  # noqa: S104 - names the address, binds nothing
        bindings.append(Binding(port=_host_port(port), address=address, everywhere=_is_unspecified(address)))
    if field(props, "publishAllPorts") is True:
        bindings.append(Binding(port="every exposed port (publishAllPorts)", address="0.0.0.0", everywhere=True))  # noqa: S104
    return bindings


def tunnel_ingress(resource_type: str, props: Props) -> list[str]:
    """The Cloudflare tunnel reaches nginx only, never LiteLLM or Ollama directly."""
    if resource_type not in TUNNEL_CONFIGS:
        return []
    problems = []
    for rule in entries(mapping(field(props, "config")).get("ingresses")):
        service = str(value(mapping(rule).get("service")) or "")
        if not (_FIXED_STATUS.match(service) or _targets_nginx(service)):
            problems.append(f"ingress service {service or '(unset)'!r} bypasses nginx: point it at the nginx container")
    return problems


def _targets_nginx(service: str) -> bool:
    # cloudflared reaches nginx by Docker DNS: its alias `nginx` or its container name `<prefix>-nginx`.
    parts = urlsplit(service)
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and (host == "nginx" or host.endswith("-nginx"))


def _is_unspecified(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_unspecified
    except ValueError:
        return False


def _host_port(port: Mapping[str, object]) -> str:
    external, internal = value(port.get("external")), value(port.get("internal"))
    if isinstance(external, int | float):
        return f"{external:.0f}"
    # Without `external` Docker picks a free host port.
    return f"(random) for {internal:.0f}" if isinstance(internal, int | float) else "(random)"
