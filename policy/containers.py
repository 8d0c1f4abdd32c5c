"""Container hardening checks: privileges, capabilities, limits, restart, health, logs."""

from __future__ import annotations

from policy.image_refs import is_image_id, parse
from policy.props import Props, field, known_text, mapping, strings, text

CONTAINER = "docker:index/container:Container"

ROLES = ("ollama", "litellm", "nginx", "acme-volume-setup", "litellm-bans-setup")
"""Containers the checks tell apart, by Docker name suffix or readable image reference."""
MONITORING_ROLES = {
    "nginx-prometheus-exporter": "nginx-exporter",
    "prometheus": "prometheus",
    "alertmanager": "alertmanager",
}
"""Monitoring images (last part of the repository, exactly) → role; the Docker name ends `-<role>`.
Matched before ROLES: the nginx exporter's repository contains "nginx" but it is not the edge."""
NO_SHELL_ROLES = frozenset({"nginx-exporter"})
"""Images FROM scratch that cannot run a healthcheck; Prometheus's `up` and its TargetDown alert watch them."""

ALLOWED_CAPABILITIES: dict[str, frozenset[str]] = {
    # The one-shot jobs that hand new volumes (root-owned) to an unprivileged user: lego's, LiteLLM's.
    "acme-volume-setup": frozenset({"CHOWN"}),
    "litellm-bans-setup": frozenset({"CHOWN"}),
}
"""The named allow-list: capabilities a role may add back after dropping ALL. Since #22 every serving
container, nginx included (non-root on ports above 1024), runs with none. A new need is named here."""

NO_NEW_PRIVILEGES = frozenset({"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"})
RESTART_POLICIES = frozenset({"always", "unless-stopped", "on-failure"})
ROTATING_LOG_DRIVERS = frozenset({"json-file", "local"})
ROTATION_OPTIONS = ("max-size", "max-file")
SELF_ROTATING_LOG_DRIVERS = frozenset({"local"})
"""Drivers that rotate without options (`local`: 20 MB x 5 files unless told otherwise)."""


def role(props: Props) -> str | None:
    """Which llmstack container this is, from what the engine passes at every preview.

    The image, when it is a readable reference, names what runs and wins. Under the engine it is
    not: a container's `image` is `RemoteImage.image_id` (`sha256:…`, unknown on a first preview).
    Then the Docker name decides (`…-ollama`), which the program sets and Docker DNS relies on.
    """
    reference = known_text(props, "image")
    if reference and not is_image_id(reference):
        repository = parse(reference).repository.rsplit("/", 1)[-1]
        if repository in MONITORING_ROLES:
            return MONITORING_ROLES[repository]
        by_image = next((candidate for candidate in ROLES if candidate in repository), None)
        if by_image is not None:
            return by_image
    name = known_text(props, "name")
    # Longest first: `…-nginx-exporter` is not `…-nginx`.
    candidates = sorted((*ROLES, *MONITORING_ROLES.values()), key=len, reverse=True)
    return next((c for c in candidates if name == c or name.endswith(f"-{c}")), None)


def is_one_shot(props: Props) -> bool:
    """A container Pulumi does not keep running: a job it waits for, or a carrier never started.

    A job runs to completion while Pulumi waits (`mustRun: false`, `attach: true`); a file carrier
    is created and never started (`start: false`, `mustRun: false`).
    """
    return field(props, "mustRun") is False and (field(props, "attach") is True or is_never_started(props))


def is_never_started(props: Props) -> bool:
    """A container created only to receive uploads into its volumes (`start: false`): nothing of it runs."""
    return field(props, "start") is False and field(props, "mustRun") is False


def privileged(resource_type: str, props: Props) -> list[str]:
    """Containers must not run privileged."""
    if resource_type == CONTAINER and field(props, "privileged") is True:
        return ["privileged is true: the container gets every capability and every host device"]
    return []


def capabilities(resource_type: str, props: Props) -> list[str]:
    """Every capability dropped; only the role's named needs added back."""
    if resource_type != CONTAINER:
        return []
    caps = mapping(field(props, "capabilities"))
    problems = []
    if "ALL" not in capability_names(caps.get("drops")):
        problems.append('capabilities.drops does not contain "ALL": the container keeps Docker\'s default set')
    adds = capability_names(caps.get("adds"))
    # The role is read only when something is added: it may read `image`, unknown during preview.
    who = role(props) if adds else None
    allowed = ALLOWED_CAPABILITIES.get(who or "", frozenset())
    if adds - allowed:
        problems.append(
            f"capabilities.adds {sorted(adds - allowed)} beyond what {who or 'this container'} needs "
            f"({', '.join(sorted(allowed)) or 'nothing'})"
        )
    return problems


def no_new_privileges(resource_type: str, props: Props) -> list[str]:
    """Containers set no-new-privileges, so setuid binaries cannot raise privileges."""
    if resource_type != CONTAINER or NO_NEW_PRIVILEGES & set(strings(field(props, "securityOpts"))):
        return []
    return ['securityOpts does not contain "no-new-privileges:true"']


def memory_limit(resource_type: str, props: Props) -> list[str]:
    """A hard memory limit, so one container cannot starve the host."""
    if resource_type != CONTAINER:
        return []
    memory = field(props, "memory")
    if isinstance(memory, int | float) and not isinstance(memory, bool) and memory > 0:
        return []
    return [f"memory is {'unset' if memory is None else repr(memory)}: set a hard limit in MB"]


def restart_policy(resource_type: str, props: Props) -> list[str]:
    """Long-running containers come back after a crash or a reboot."""
    if resource_type != CONTAINER or is_one_shot(props):
        return []
    problems = []
    if field(props, "mustRun") is False:
        problems.append("mustRun is false on a long-running container: a stopped container would go unnoticed")
    restart = text(props, "restart")
    if restart not in RESTART_POLICIES:
        problems.append(f"restart is {restart or 'unset (no)'!r}: use one of {sorted(RESTART_POLICIES)}")
    return problems


def healthcheck(resource_type: str, props: Props) -> list[str]:
    """Long-running containers declare how Docker tells they work."""
    if resource_type != CONTAINER or is_one_shot(props) or role(props) in NO_SHELL_ROLES:
        return []
    tests = strings(mapping(field(props, "healthcheck")).get("tests"))
    if not tests or tests[0].upper() == "NONE":
        return ["no healthcheck: Docker cannot tell a hung service from a working one"]
    return []


def log_rotation(resource_type: str, props: Props) -> list[str]:
    """Logs are rotated, so a chatty container cannot fill the disk."""
    if resource_type != CONTAINER:
        return []
    problems = []
    driver = text(props, "logDriver")
    if driver not in ROTATING_LOG_DRIVERS:
        problems.append(f"logDriver is {driver or 'unset'!r}: use one of {sorted(ROTATING_LOG_DRIVERS)}")
    options = mapping(field(props, "logOpts"))
    missing = [option for option in ROTATION_OPTIONS if not options.get(option)]
    if missing and driver not in SELF_ROTATING_LOG_DRIVERS:
        problems.append(f"logOpts lacks {missing}: logs grow without bound")
    return problems


def capability_names(value: object) -> set[str]:
    """Capability names without the `CAP_` prefix: Docker accepts both spellings."""
    return {name.upper().removeprefix("CAP_") for name in strings(value)}
