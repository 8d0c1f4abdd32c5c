"""Least privilege inside the host (#22, CIS Docker §5): non-root, read-only root, capped tmpfs, ceilings.

Every check reads a container's own properties (never its name), so a container added later is
judged by what it is: one that runs to completion (`attach`, `mustRun: false`) or is never started
(`start: false`) is told apart from a serving one by its inputs alone.
"""

from __future__ import annotations

from policy.containers import ALLOWED_CAPABILITIES, CONTAINER, capability_names, is_never_started, is_one_shot, role
from policy.host_access import DOCKER_SOCKETS
from policy.props import Props, each, entries, field, mapping, value

ROOT_USERS = frozenset({"", "0", "root"})
TMPFS_HARDENING = ("noexec", "nosuid", "nodev")
CEILING_ULIMITS = ("nofile", "nproc")


def non_root(resource_type: str, props: Props) -> list[str]:
    """A container runs as a non-root uid; uid 0 only for a one-shot job with a read-only root.

    Such a job adds no capability beyond its role's named allow-list (a volume setup's CHOWN).
    """
    if resource_type != CONTAINER:
        return []
    raw = field(props, "user")
    user = raw if isinstance(raw, str) else None
    uid = (user or "").split(":", 1)[0].strip()
    if uid not in ROOT_USERS:
        return []
    runs_once = is_one_shot(props) and field(props, "attach") is True
    adds = capability_names(mapping(field(props, "capabilities")).get("adds"))
    # The role is read only when something is added: it may read `image`, unknown during preview.
    allowed = ALLOWED_CAPABILITIES.get(role(props) or "", frozenset()) if adds else frozenset()
    if runs_once and adds <= allowed and field(props, "readOnly") is True:
        return []
    shown = "unset (the image's user, root for Ollama, LiteLLM and nginx)" if user is None else repr(user)
    return [
        f"user is {shown}: set a non-root uid:gid (uid 0 is allowed only for a one-shot job with "
        "a read-only root and no capability beyond its named allow-list)"
    ]


def read_only_root(resource_type: str, props: Props) -> list[str]:
    """The root filesystem is read-only; a container that is never started (a file carrier) is exempt."""
    if resource_type != CONTAINER or is_never_started(props) or field(props, "readOnly") is True:
        return []
    return ["readOnly is not true: the process could rewrite its own programs; give it tmpfs for what it writes"]


def tmpfs_capped(resource_type: str, props: Props) -> list[str]:
    """Every tmpfs has a size and is mounted noexec,nosuid,nodev."""
    if resource_type != CONTAINER:
        return []
    problems = []
    for path, options in mapping(field(props, "tmpfs")).items():
        settings = str(value(options) or "").replace(" ", "").split(",")
        if not any(setting.startswith("size=") for setting in settings):
            problems.append(f"tmpfs {path} has no size=: it could fill the host's memory")
        missing = [option for option in TMPFS_HARDENING if option not in settings]
        if missing:
            problems.append(f"tmpfs {path} lacks {', '.join(missing)}")
    return problems


def no_docker_socket(resource_type: str, props: Props) -> list[str]:
    """The Docker socket is never inside a container, by volume, mount or upload (CIS Docker 5.31)."""
    if resource_type != CONTAINER:
        return []

    def socket_in(entry: object, keys: tuple[str, ...]) -> list[str]:
        fields = mapping(entry)
        found = [value(fields.get(key)) for key in keys]
        paths = [path.rstrip("/") for path in found if isinstance(path, str)]
        hit = next((path for path in paths if path in DOCKER_SOCKETS), None)
        return [f"the Docker socket {hit} is in the container: whoever controls it controls the host"] if hit else []

    return [
        *each(entries(field(props, "volumes")), lambda e: socket_in(e, ("hostPath", "containerPath"))),
        *each(entries(field(props, "mounts")), lambda e: socket_in(e, ("source", "target"))),
        *each(entries(field(props, "uploads")), lambda e: socket_in(e, ("file",))),
    ]


def resource_ceilings(resource_type: str, props: Props) -> list[str]:
    """A container that runs has nofile and nproc ulimits and CPU shares (memory has its own rule)."""
    if resource_type != CONTAINER or is_never_started(props):
        return []
    limits = {str(value(mapping(u).get("name"))): mapping(u) for u in entries(field(props, "ulimits"))}
    problems = []
    for name in CEILING_ULIMITS:
        hard = value(limits.get(name, {}).get("hard"))
        if not (isinstance(hard, int | float) and not isinstance(hard, bool) and hard > 0):
            problems.append(f"ulimits has no {name} with a hard limit")
    shares = field(props, "cpuShares")
    if not (isinstance(shares, int | float) and not isinstance(shares, bool) and shares > 0):
        problems.append("cpuShares is unset: under contention this container weighs as much as any other")
    return problems
