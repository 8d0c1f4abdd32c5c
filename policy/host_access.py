"""CIS Docker Benchmark §5 host isolation: host paths, namespaces, devices, profiles, propagation, ports."""

from __future__ import annotations

from policy.containers import CONTAINER
from policy.props import Props, each, entries, field, mapping, text, value

DOCKER_SOCKETS = frozenset({"/var/run/docker.sock", "/run/docker.sock"})
HOST_NAMESPACES = ("pidMode", "ipcMode", "usernsMode", "cgroupnsMode")
"""Namespace modes whose value `host` shares the host's (network mode has its own rule)."""
UNCONFINED = frozenset(
    f"{option}{separator}{setting}"
    for option, setting in (("seccomp", "unconfined"), ("apparmor", "unconfined"), ("label", "disable"))
    for separator in ("=", ":")
)
"""securityOpts that switch off the default seccomp, AppArmor or SELinux confinement."""
SHARED_PROPAGATION = frozenset({"shared", "rshared"})
"""Propagation modes through which a container's mounts reach the host (CIS 5.19)."""
FIRST_UNPRIVILEGED_PORT = 1024
TUNNEL_WATCH_SUFFIX = "-cloudflared-watch"
"""The Docker name of the one container that joins another's network namespace (components/tunnel_watch.py)."""


def host_paths(resource_type: str, props: Props) -> list[str]:
    """No host directory, file or Docker socket inside a container: named volumes and uploads only."""
    if resource_type != CONTAINER:
        return []

    def volume(entry: object) -> list[str]:
        path = value(mapping(entry).get("hostPath"))
        return [_host_path_problem("volumes", path)] if isinstance(path, str) and path else []

    def mount(entry: object) -> list[str]:
        spec = mapping(entry)
        if value(spec.get("type")) != "bind":
            return []
        return [_host_path_problem("mounts (type bind)", str(value(spec.get("source")) or "(unset source)"))]

    return each(entries(field(props, "volumes")), volume) + each(entries(field(props, "mounts")), mount)


def host_namespaces(resource_type: str, props: Props) -> list[str]:
    """No host PID, IPC, user or cgroup namespace."""
    if resource_type != CONTAINER:
        return []
    shared = [key for key in HOST_NAMESPACES if text(props, key) == "host"]
    return [f"{key} is host: the container shares the host's namespace" for key in shared]


def network_namespace(resource_type: str, props: Props) -> list[str]:
    """A network namespace of its own: never the host's; another container's only for the tunnel watch.

    The tunnel watch (`container:<id>`) publishes nothing and joins no network. The joined container
    is not checked: an engine id names no role. The program sets it to the stack's own cloudflared
    (tests/mocks/test_tunnel_watch.py, tests/docker/test_tunnel.py).
    """
    if resource_type != CONTAINER:
        return []
    mode = text(props, "networkMode")
    if mode == "host":
        return ["networkMode host: the container shares the host's network namespace, every address and port"]
    if not mode.startswith("container:"):
        return []
    name = text(props, "name")
    if not name.endswith(TUNNEL_WATCH_SUFFIX):
        return [
            f"networkMode {mode} ({name or 'unnamed'}): only the tunnel watch (…{TUNNEL_WATCH_SUFFIX}) "
            "joins another container's network namespace, cloudflared's"
        ]
    problems = []
    if entries(field(props, "ports")) or field(props, "publishAllPorts") is True:
        problems.append(f"{name} joins cloudflared's network namespace and publishes ports")
    if entries(field(props, "networksAdvanced")):
        problems.append(f"{name} joins cloudflared's network namespace and networks of its own")
    return problems


def host_devices(resource_type: str, props: Props) -> list[str]:
    """No host device nodes passed in (GPUs go through `gpus`, which the NVIDIA runtime scopes)."""
    if resource_type != CONTAINER:
        return []

    def device(entry: object) -> list[str]:
        path = value(mapping(entry).get("hostPath"))
        return [f"devices passes the host device {path or '(unset)'} into the container"]

    return [*each(entries(field(props, "devices")), device), *host_device_requests(props)]


def host_device_requests(props: Props) -> list[str]:
    """Device requests only ask the NVIDIA runtime for GPUs (what a GPU list becomes).

    Another driver, such as `cdi` with `vendor.com/dev=all`, hands the container any host device.
    """

    def request(entry: object) -> list[str]:
        fields = mapping(entry)
        driver = value(fields.get("driver"))
        capabilities = [value(c) for group in entries(fields.get("capabilities")) for c in entries(group)]
        if driver == "nvidia" and capabilities == ["gpu"]:
            return []
        return [f"deviceRequests asks driver {driver!r} for {capabilities}: only the nvidia driver's gpu is allowed"]

    return each(entries(field(props, "deviceRequests")), request)


def default_confinement(resource_type: str, props: Props) -> list[str]:
    """The default seccomp, AppArmor and SELinux confinement stay on."""
    if resource_type != CONTAINER:
        return []

    def option(entry: object) -> list[str]:
        setting = value(entry)
        normalised = "".join(setting.split()).lower() if isinstance(setting, str) else ""
        return [f"securityOpts {setting!r} switches off the default confinement"] if normalised in UNCONFINED else []

    return each(entries(field(props, "securityOpts")), option)


def mount_propagation(resource_type: str, props: Props) -> list[str]:
    """No mount is shared with the host (shared or rshared propagation)."""
    if resource_type != CONTAINER:
        return []

    def mount(entry: object) -> list[str]:
        spec = mapping(entry)
        propagation = value(mapping(spec.get("bindOptions")).get("propagation"))
        if propagation in SHARED_PROPAGATION:
            target = value(spec.get("target"))
            return [f"mount {target} has {propagation} propagation: the container's mounts reach the host"]
        return []

    return each(entries(field(props, "mounts")), mount)


def privileged_ports(resource_type: str, props: Props) -> list[str]:
    """Host ports below 1024 are for system services (advice: the stack's httpsPort may be 443)."""
    if resource_type != CONTAINER:
        return []

    def port(entry: object) -> list[str]:
        external = value(mapping(entry).get("external"))
        is_number = isinstance(external, int | float) and not isinstance(external, bool)
        if is_number and 0 < external < FIRST_UNPRIVILEGED_PORT:
            return [f"publishes privileged host port {external:.0f}: use a port from {FIRST_UNPRIVILEGED_PORT} up"]
        return []

    return each(entries(field(props, "ports")), port)


def _host_path_problem(key: str, path: str) -> str:
    if path.rstrip("/") in DOCKER_SOCKETS:
        return f"{key} mounts the Docker socket {path}: whoever controls the container controls the host"
    return f"{key} mounts the host path {path}: use a named volume or an upload"
