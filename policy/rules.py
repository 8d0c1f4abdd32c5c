"""The llmstack security checklist: every rule, as a pure function over (resource type, inputs).

A check returns violation messages ([] when the resource complies or the rule does not apply to
its type). Checks read inputs through `policy.props`, so the same function runs under the policy
engine (`pulumi preview --policy-pack policy`, see `pack.py`) and over the offline render
(`python -m policy.audit`). Nothing here imports Pulumi.

Secretness: the engine sends secret inputs marked as secret, but pulumi-policy (1.21, Python)
unwraps them before a validation callback runs, so under the engine a rule cannot tell a secret
input from a plaintext one. `plaintext-secrets` therefore needs the offline audit, where the
render keeps the markers (`offline.engine.is_secret`, turned into `props.Secret`); the pack reports
it as not applicable, with that reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from policy import (
    containers,
    egress,
    exposure,
    host_access,
    images,
    least_privilege,
    mutual_tls,
    nginx_conf,
    plaintext,
    tokens,
)
from policy.props import Props

Check = Callable[[str, Props], list[str]]
"""(resource type, inputs) → violation messages."""
StackCheck = Callable[[Sequence[egress.StackResource]], list[tuple[str, str]]]
"""Every resource of the stack → (resource, message) for each violation."""


def _per_stack(resource_type: str, props: Props) -> list[str]:
    """The per-resource check of a rule that reads the whole stack: nothing to say about one resource."""
    return []


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One item of the checklist."""

    name: str
    """Policy name (unique, kebab-case), as `pulumi preview` and the audit print it."""
    title: str
    """The checklist line."""
    description: str
    """What the rule demands and why."""
    check: Check
    """The check itself."""
    check_stack: StackCheck | None = None
    """For a rule that needs several resources at once (a container and its networks): the check
    over the whole stack, run by the engine after every resource is known (`check` says nothing)."""
    mandatory: bool = True
    """Whether a violation blocks the update (else it is advice)."""
    needs_secret_markers: bool = False
    """Whether the check must know which inputs are secret: only the offline audit can tell."""


RULES: tuple[Rule, ...] = (
    Rule(
        name="no-privileged-containers",
        title="No privileged containers",
        description="Containers never run privileged (all capabilities and host devices).",
        check=containers.privileged,
    ),
    Rule(
        name="capabilities-dropped",
        title="All capabilities dropped, only named needs added",
        description='capabilities.drops contains "ALL"; adds stay within the named allow-list '
        "(policy/containers.py ALLOWED_CAPABILITIES: CHOWN for the ACME and ban-list volume setups; "
        "every other container: none).",
        check=containers.capabilities,
    ),
    Rule(
        name="no-new-privileges",
        title="no-new-privileges set",
        description='securityOpts contains "no-new-privileges:true", so setuid binaries cannot raise privileges.',
        check=containers.no_new_privileges,
    ),
    Rule(
        name="memory-limit",
        title="Memory limit set",
        description="Every container has a hard memory limit (memory > 0 MB). pulumi-docker 5 has no pids limit: "
        "process counts are bounded by ulimits nproc (resource-ceilings).",
        check=containers.memory_limit,
    ),
    Rule(
        name="restart-policy",
        title="Long-running containers restart",
        description="Long-running containers have restart always/unless-stopped/on-failure and mustRun not false. "
        "One-shot containers (mustRun false, attach true) are exempt.",
        check=containers.restart_policy,
    ),
    Rule(
        name="healthcheck",
        title="Long-running containers have a healthcheck",
        description="Long-running containers declare a healthcheck; one-shot containers are exempt, and so is "
        "the nginx exporter (its image is FROM scratch: no program to probe with; Prometheus watches it).",
        check=containers.healthcheck,
    ),
    Rule(
        name="log-rotation",
        title="Logs rotated",
        description="logDriver is json-file with logOpts max-size and max-file, or local (which rotates by itself).",
        check=containers.log_rotation,
    ),
    Rule(
        name="image-tag-pinned",
        title="Images pinned to a tag, never latest",
        description="Container images and RemoteImage names carry an explicit tag other than latest, or an "
        "@sha256 digest (a container's sha256 image ID, which names exact content, also passes).",
        check=images.pinned_tag,
    ),
    Rule(
        name="image-digest-pinned",
        title="Images pinned by digest (advice)",
        description="Image references also carry @sha256:<digest>, so a re-pushed tag cannot change what runs.",
        check=images.pinned_digest,
        mandatory=False,
    ),
    Rule(
        name="internal-services-unpublished",
        title="Only the nginx edge publishes (Prometheus on loopback); Ollama and LiteLLM never",
        description="A container publishes ports or uses the host's network only if it is the nginx edge: its "
        "image, when readable, is nginx, else its Docker name is nginx or …-nginx (under the engine a "
        "container's image is a sha256 ID). Prometheus (image prometheus, or …-prometheus carrying a "
        "prometheus.yml) may publish on the host's loopback only. Any other container, Ollama and LiteLLM "
        "above all, publishes nothing.",
        check=exposure.internal_services_unpublished,
    ),
    Rule(
        name="publish-without-nat-out",
        title="A publishing container cannot open connections off the host",
        description="Every network a container publishes ports from is internal or a bridge with "
        "com.docker.network.bridge.enable_ip_masquerade=false: a published port needs a non-internal bridge, "
        "whose outbound connections Docker would otherwise masquerade as the host's (CIS 5.x, least privilege).",
        check=_per_stack,
        check_stack=egress.publishers_without_nat_out,
    ),
    Rule(
        name="no-wildcard-publish",
        title="Nothing on 0.0.0.0 / :: without an allow-list",
        description="A port published on every host address (ip 0.0.0.0, '', '::' or unset; publishAllPorts; "
        "network mode host) is allowed only when the container's nginx.conf restricts clients "
        "in every location that proxies (allow <cidr>; … deny all;, its own or inherited), as lan mode renders it.",
        check=exposure.wildcard_publish,
    ),
    Rule(
        name="ollama-behind-mutual-tls",
        title="Ollama published only behind mutual TLS",
        description="A published container whose nginx.conf reaches Ollama's port (11434) serves it only over TLS "
        "with a client certificate required: every published server that proxies has listen … ssl, "
        "ssl_verify_client on and an ssl_client_certificate (the GPU pool's terminator).",
        check=mutual_tls.ollama_behind_mutual_tls,
    ),
    Rule(
        name="tls-modern-or-intermediate",
        title="TLS 1.3, or 1.2 and 1.3, only",
        description="Every ssl_protocols in an uploaded nginx configuration is 'TLSv1.3' or 'TLSv1.2 TLSv1.3'; "
        "an nginx container whose configuration is not uploaded (volume, mount) fails, as it cannot be checked.",
        check=nginx_conf.tls_protocols,
    ),
    Rule(
        name="plaintext-secrets",
        title="No secret-looking plaintext in envs or uploads",
        description="Container envs and uploads that are not marked secret hold no sk- keys, private keys, "
        "password= or credential settings. Needs secret markers: enforced by the offline audit only.",
        check=plaintext.plaintext_secrets,
        needs_secret_markers=True,
    ),
    Rule(
        name="tunnel-ingress-to-nginx",
        title="The tunnel reaches nginx only",
        description="Every ingress of a ZeroTrustTunnelCloudflaredConfig (or the legacy TunnelConfig) points at "
        "nginx (host nginx or <prefix>-nginx) or answers a fixed http_status.",
        check=exposure.tunnel_ingress,
    ),
    Rule(
        name="dns-token-zone-scoped",
        title="A created Cloudflare token edits DNS in named zones only",
        description="Every allow policy of an ApiToken names single zones (com.cloudflare.api.account.zone.<id>) and "
        "only the Zone Read and DNS Write permission groups DNS-01 needs (tlsSource acme).",
        check=tokens.dns_token_scope,
    ),
    Rule(
        name="no-host-paths",
        title="No host paths or Docker socket mounted",
        description="No volumes[].hostPath and no bind mounts: a host directory or the Docker socket in a "
        "container hands it the host (CIS Docker 5.5, 5.31). Named volumes and uploads only.",
        check=host_access.host_paths,
    ),
    Rule(
        name="no-host-namespaces",
        title="No host PID, IPC, user or cgroup namespace",
        description="pidMode, ipcMode, usernsMode and cgroupnsMode are never host (CIS Docker 5.15, 5.16, 5.30).",
        check=host_access.host_namespaces,
    ),
    Rule(
        name="own-network-namespace",
        title="No host network namespace; another container's only for the tunnel watch",
        description="networkMode is never host (CIS Docker 5.9). networkMode container:<id> only for the "
        "tunnel watch (Docker name …-cloudflared-watch), which publishes nothing and joins no network: it "
        "shares cloudflared's namespace to read its loopback-only /metrics. The joined container is not "
        "checked (an engine id names no role): the program sets it to the stack's own cloudflared.",
        check=host_access.network_namespace,
    ),
    Rule(
        name="no-host-devices",
        title="No host devices",
        description="devices is empty: no host device node in a container (CIS Docker 5.17); deviceRequests ask "
        "only the nvidia driver for gpu (what a GPU list becomes).",
        check=host_access.host_devices,
    ),
    Rule(
        name="default-confinement",
        title="seccomp, AppArmor and SELinux confinement kept",
        description="securityOpts never holds seccomp or apparmor unconfined, or label disable "
        "(CIS Docker 5.1, 5.2, 5.21).",
        check=host_access.default_confinement,
    ),
    Rule(
        name="no-shared-mount-propagation",
        title="No shared mount propagation",
        description="No mount has bindOptions.propagation shared or rshared (CIS Docker 5.19).",
        check=host_access.mount_propagation,
    ),
    Rule(
        name="non-root",
        title="Containers run as a non-root user",
        description="user is a non-root uid:gid (CIS Docker 4.1). uid 0 only for a one-shot job (attach, mustRun "
        "false) that adds no capability and has a read-only root: it can then write only what root owns.",
        check=least_privilege.non_root,
    ),
    Rule(
        name="read-only-root",
        title="Read-only root filesystem",
        description="readOnly is true (CIS Docker 5.12); what the process writes goes to tmpfs or volumes. A "
        "container that is never started (start false: a file carrier for uploads) is exempt.",
        check=least_privilege.read_only_root,
    ),
    Rule(
        name="tmpfs-capped",
        title="tmpfs size-capped, noexec, nosuid, nodev",
        description="Every tmpfs entry sets size= and noexec,nosuid,nodev: memory-backed scratch space is bounded "
        "and never runs programs.",
        check=least_privilege.tmpfs_capped,
    ),
    Rule(
        name="no-docker-socket",
        title="No Docker socket in a container",
        description="No volume, mount or upload puts /var/run/docker.sock or /run/docker.sock in a container "
        "(CIS Docker 5.31).",
        check=least_privilege.no_docker_socket,
    ),
    Rule(
        name="resource-ceilings",
        title="File, process and CPU ceilings",
        description="Containers that run set ulimits nofile and nproc (hard) and cpuShares. pulumi-docker 5.2.0 "
        "has no pids_limit: nproc bounds a non-root uid's processes and threads across the host "
        "(never uid 0's), so each serving container has a uid of its own.",
        check=least_privilege.resource_ceilings,
    ),
    Rule(
        name="no-privileged-ports",
        title="No privileged host ports (advice)",
        description="Published host ports are 1024 or above (CIS Docker 5.7). Advice only: the stack's httpsPort "
        "accepts 443 for a LAN edge.",
        check=host_access.privileged_ports,
        mandatory=False,
    ),
)
"""The checklist, in the order the audit prints it."""

RULES_BY_NAME = {rule.name: rule for rule in RULES}
"""Rules by policy name."""
