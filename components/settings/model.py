"""The validated, frozen settings a stack is built from. Plain values only: no secrets."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from components.shipped.litellm.llmstack_contract import API_ROUTES
from components.shipped.litellm.llmstack_contract import ApiFamily as ApiFamily

Exposure = Literal["local", "lan", "tunnel"]
ZonePlan = Literal["free", "pro", "business", "enterprise"]
TlsSource = Literal["self-signed", "provided", "acme"]
DnsProvider = Literal["cloudflare"]
TlsProfile = Literal["modern", "intermediate"]


@dataclass(frozen=True, kw_only=True)
class ImageRef:
    """A pinned container image reference."""

    repository: str
    """Registry and repository, e.g. `ghcr.io/berriai/litellm`."""
    tag: str
    """The pinned tag (never `latest`)."""
    digest: str | None = None
    """Optional `sha256:…` digest; when given, Docker pulls exactly that content."""

    @property
    def reference(self) -> str:
        """The full reference Docker pulls."""
        base = f"{self.repository}:{self.tag}"
        return f"{base}@{self.digest}" if self.digest else base


@dataclass(frozen=True, kw_only=True)
class Images:
    """The images of the three serving containers."""

    ollama: ImageRef
    """Ollama model server (also runs the one-shot model puller)."""
    litellm: ImageRef
    """LiteLLM proxy; its version equals the tested `litellm[proxy]`."""
    nginx: ImageRef
    """nginx edge."""


ModelKind = Literal["chat", "embedding"]
"""Chat models become `ollama_chat/` deployments, embedding models `ollama/` ones."""


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """One served model."""

    name: str
    """The stable name clients ask for."""
    tag: str
    """The Ollama tag pulled and served under that name."""
    kind: ModelKind = "chat"
    """What it serves: chat and text completions, or embeddings (LiteLLM routes the two apart)."""


@dataclass(frozen=True)
class GpuRequest:
    """GPUs for the Ollama container, in the Docker `--gpus` syntax."""

    value: str
    """`none`, `all` or `device=0,1`."""

    @property
    def docker_gpus(self) -> str | None:
        """The provider's `gpus` input: `all` only; device lists go as device requests."""
        return "all" if self.value == "all" else None

    @property
    def device_ids(self) -> tuple[str, ...]:
        """The GPU indexes or UUIDs of a device list; empty for `none` and `all`."""
        return tuple(self.value.removeprefix("device=").split(",")) if self.value.startswith("device=") else ()


@dataclass(frozen=True, kw_only=True)
class Admission:
    """How much work Ollama takes on before it refuses more."""

    num_parallel: int
    """Requests served at once per loaded model."""
    max_queue: int
    """Requests waiting beyond those; more get 503."""


@dataclass(frozen=True, kw_only=True)
class ContainerLimits:
    """Resource limits of one container."""

    memory_mb: int
    """Hard memory limit in MB."""


API_FAMILIES: tuple[ApiFamily, ...] = tuple(API_ROUTES)
"""The API families a client may be granted, in the order clients list them."""


@dataclass(frozen=True, kw_only=True)
class ClientSpec:
    """One API client with its own key."""

    name: str
    """Client name; names its key resource and its generated configs."""
    models: tuple[str, ...] | None
    """Client-facing model names it may use; None: every served model."""
    apis: tuple[ApiFamily, ...]
    """API families it may call (chat covers chat and text completions)."""
    rpm_limit: int | None
    """Requests per minute LiteLLM allows this key; None: only the edge limits apply."""
    admin: bool
    """Whether the key may use LiteLLM's admin routes (where the edge lets them through)."""
    epoch: str
    """Key generation: changing it issues a new key (the resource is named after it)."""
    previous_epoch: str | None
    """A previous generation whose key stays valid until `previous_valid_until`."""
    previous_valid_until: float | None
    """Epoch seconds (UTC) until which the previous key is accepted."""

    def key_label(self, epoch: str) -> str:
        """What names this client's key of generation `epoch` (unique across clients: see parse_clients)."""
        return f"{self.name}-{epoch}"


@dataclass(frozen=True, kw_only=True)
class Rotation:
    """Epochs that pulumi-random keepers follow: change one, `pulumi up` rotates that secret."""

    stack_epoch: str
    """Rotates every generated secret."""
    master_key_epoch: str
    """Rotates the master key."""
    basic_auth_epoch: str
    """Rotates the basic-auth password."""
    basic_auth_previous_epoch: str | None
    """A previous basic-auth epoch whose password stays accepted (the grace window); None: none."""
    tunnel_secret_epoch: str
    """Rotates the tunnel secret."""


@dataclass(frozen=True, kw_only=True)
class RateLimit:
    """A request rate with its burst allowance."""

    per_second: int
    """Sustained requests per second."""
    burst: int
    """Requests above the rate accepted at once before 429."""


@dataclass(frozen=True, kw_only=True)
class BanPolicy:
    """Brute-force bans (fail2ban's semantics), enforced by the gateway's auth hook."""

    max_retry: int
    """Failed authentications within `find_seconds` that ban an address; 0: no bans."""
    find_seconds: int
    """The window failures are counted in."""
    ban_seconds: int
    """How long a ban lasts."""
    exempt_cidrs: tuple[str, ...]
    """Networks never banned."""


@dataclass(frozen=True, kw_only=True)
class EdgePolicy:
    """What the nginx edge enforces."""

    tls_profile: TlsProfile
    """Mozilla TLS profile."""
    basic_auth: bool
    """Basic auth in front of the API key."""
    client_rate: RateLimit
    """Per client IP."""
    key_rate: RateLimit
    """Per API key, from any address."""
    connections_per_client: int
    """Concurrent connections per client IP."""
    admin_cidrs: tuple[str, ...]
    """Networks that may reach LiteLLM's admin routes; empty: nobody."""
    max_body_mb: int
    """Largest request body."""


@dataclass(frozen=True, kw_only=True)
class TunnelSubnet:
    """The pinned IPv4 subnet of the network only cloudflared and nginx share.

    Pinned so the connector's address is known before Docker runs anything: nginx trusts the
    real-client header from that one address.
    """

    cidr: str
    """The network, e.g. `10.231.53.0/28`."""

    @property
    def gateway(self) -> str:
        """The bridge's own address: the first host address."""
        return str(ipaddress.ip_network(self.cidr)[1])

    @property
    def connector(self) -> str:
        """The fixed address of cloudflared: the second host address, outside the dynamic range."""
        return str(ipaddress.ip_network(self.cidr)[2])

    @property
    def dynamic_range(self) -> str:
        """Where Docker picks addresses for other containers (nginx): the upper half."""
        _lower, upper = ipaddress.ip_network(self.cidr).subnets(prefixlen_diff=1)
        return str(upper)


@dataclass(frozen=True, kw_only=True)
class TunnelSettings:
    """The Cloudflare side of `exposure: tunnel` (the API token is the provider's secret, not here)."""

    account_id: str
    """Cloudflare account id (32 hex characters)."""
    zone_id: str
    """Id of the Cloudflare zone that holds the public hostname."""
    image: ImageRef
    """Pinned cloudflared image."""
    subnet: TunnelSubnet
    """The network cloudflared and nginx share, with cloudflared's fixed address."""
    limits: ContainerLimits
    """Limits of the cloudflared container."""
    access_emails: tuple[str, ...]
    """People Cloudflare Access lets through (after they log in); empty: no people policy."""
    access_service_token: bool
    """Whether Access admits API clients carrying a generated service token."""
    edge_rate_limit: int
    """Requests per 10 s per client IP Cloudflare accepts for the hostname; 0: no edge rule."""
    zone_plan: ZonePlan
    """The zone's plan: which fields its rate-limiting rules may test."""

    @property
    def access(self) -> bool:
        """Whether a Cloudflare Access application guards the hostname."""
        return bool(self.access_emails) or self.access_service_token


@dataclass(frozen=True, kw_only=True)
class AcmeSettings:
    """`tlsSource: acme`: a publicly trusted certificate, obtained and renewed over DNS-01."""

    names: tuple[str, ...]
    """DNS names the certificate covers (the first names lego's files); `*.zone` allowed."""
    directory: str
    """The ACME directory URL (Let's Encrypt production unless the stack says otherwise)."""
    email: str
    """Contact address of the ACME account (expiry notices)."""
    dns_provider: DnsProvider
    """Who answers the DNS-01 challenge."""
    zone_name: str
    """The DNS zone every name lies in, e.g. example.com."""
    zone_id: str
    """The Cloudflare zone's id; the stack scopes the token it creates to it. Empty with a given token."""
    token_given: bool
    """Whether the DNS token is given as a secret (acmeDnsApiToken) rather than created by the stack."""
    image: ImageRef
    """Pinned lego image."""


@dataclass(frozen=True, kw_only=True)
class GpuHost:
    """One GPU host of the pool: its own Docker engine, Ollama and mutual-TLS terminator."""

    name: str
    """Host name in the stack; names its resources (`gpu-<name>-…`)."""
    docker_host: str
    """Its Docker engine, e.g. ssh://user@gpu2 or tcp://10.0.0.12:2376."""
    address: str
    """Its private address: the terminator publishes there only, and the gateway connects to it."""
    gpus: GpuRequest
    """GPUs handed to its Ollama."""
    models: tuple[str, ...]
    """Client-facing names of the served models it carries."""
    parallel: int
    """Requests its Ollama serves at once per model (OLLAMA_NUM_PARALLEL); LiteLLM's per-deployment limit."""


@dataclass(frozen=True, kw_only=True)
class GpuPool:
    """Ollama on several GPU hosts behind the one gateway."""

    hosts: tuple[GpuHost, ...]
    """The GPU hosts, in name order (at least one)."""
    gateway_address: str
    """The gateway host's address as the GPU hosts see it: their terminators admit it alone."""


@dataclass(frozen=True, kw_only=True)
class MonitoringSubnet:
    """The pinned IPv4 subnet of the monitoring network.

    Pinned so nginx can admit its status page to this network alone (an allow-list needs the
    addresses before Docker hands them out).
    """

    cidr: str
    """The network, e.g. `10.231.54.0/27`."""

    @property
    def gateway(self) -> str:
        """The bridge's own address: the first host address."""
        return str(ipaddress.ip_network(self.cidr)[1])


@dataclass(frozen=True, kw_only=True)
class AlertReceivers:
    """Where Alertmanager sends alerts. Secrets (webhook URL, SMTP password) stay Outputs elsewhere."""

    webhook: bool
    """Whether the `alertWebhookUrl` secret is set."""
    email_to: str
    """Recipient of alert mail; empty: no mail."""
    email_from: str
    """Sender address of alert mail."""
    smtp_host: str
    """`host:port` of the SMTP server."""
    smtp_user: str
    """SMTP login; empty: no authentication (then no `alertSmtpPassword`)."""

    @property
    def any(self) -> bool:
        """Whether any receiver is configured (else no Alertmanager runs)."""
        return self.webhook or bool(self.email_to)


@dataclass(frozen=True, kw_only=True)
class MonitoringSettings:
    """Prometheus, its exporters and Alertmanager (`monitoring: true`)."""

    subnet: MonitoringSubnet
    """The internal network they share with the containers they watch."""
    prometheus_image: ImageRef
    """Pinned Prometheus image."""
    alertmanager_image: ImageRef
    """Pinned Alertmanager image."""
    nginx_exporter_image: ImageRef
    """Pinned nginx-prometheus-exporter image."""
    port: int
    """Host port of Prometheus's UI and API, published on the host's 127.0.0.1 only."""
    retention_days: int
    """Samples older than this are deleted."""
    retention_mb: int
    """The TSDB is cut back to this size (oldest blocks first)."""
    prometheus_limits: ContainerLimits
    """Limits of the Prometheus container."""
    receivers: AlertReceivers
    """Alert destinations."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a stack is built from, validated."""

    stack: str
    """Stack name; prefixes every Docker object so stacks can share an engine."""
    exposure: Exposure
    """Who can reach the API."""
    listen_address: str
    """Host address nginx publishes on."""
    https_port: int
    """Host port nginx publishes HTTPS on."""
    hostname: str
    """Name clients use; in the certificate and the endpoint URL."""
    allowed_cidrs: tuple[str, ...]
    """Client networks nginx accepts; empty accepts all that reach the address."""
    gpus: GpuRequest
    """GPUs given to Ollama."""
    models: tuple[ModelSpec, ...]
    """Served models, in config order."""
    images: Images
    """Pinned images."""
    tls_source: TlsSource
    """Where the certificate comes from."""
    edge: EdgePolicy
    """What nginx enforces."""
    clients: tuple[ClientSpec, ...]
    """API clients, each with its own key, in name order."""
    rotation: Rotation
    """Secret-rotation epochs."""
    generation_timeout_seconds: int
    """How long one generation may take end to end."""
    ollama_limits: ContainerLimits
    """Limits of the Ollama container."""
    admission: Admission
    """Ollama's concurrency and queue bound."""
    ollama_context_length: int | None
    """Context window in tokens of models whose Modelfile sets none; None keeps Ollama's default."""
    litellm_limits: ContainerLimits
    """Limits of the LiteLLM container."""
    litellm_workers: int
    """LiteLLM worker processes."""
    nginx_limits: ContainerLimits
    """Limits of the nginx container."""
    docker_host: str
    """Docker engine address; empty means the operator's default engine."""
    tunnel: TunnelSettings | None
    """The Cloudflare Tunnel, in tunnel mode only."""
    bans: BanPolicy
    """Brute-force bans of client addresses."""
    acme: AcmeSettings | None = None
    """The ACME certificate, with `tlsSource: acme` only."""
    monitoring: MonitoringSettings | None = None
    """Metrics and alerts; None when `monitoring` is off."""
    paused: bool = False
    """The kill switch: no edge container and no tunnel connector; everything else kept."""
    pool: GpuPool | None = None
    """GPU hosts serving the models instead of a local Ollama; None: the single-host stack."""

    @property
    def endpoint_url(self) -> str:
        """The OpenAI-compatible base URL clients use."""
        if self.tunnel is not None:
            # Clients reach Cloudflare's edge on 443; nginx publishes no port.
            return f"https://{self.hostname}/v1"
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return f"https://{host}:{self.https_port}/v1"

    @property
    def certificate_names(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """DNS names and IP addresses the self-signed certificate must cover."""
        names = [self.hostname, "localhost"]
        addresses = [self.listen_address, "127.0.0.1"]
        dns = tuple(dict.fromkeys(n for n in names if _ip(n) is None))
        ips = tuple(dict.fromkeys(a for a in [*names, *addresses] if (ip := _ip(a)) and not ip.is_unspecified))
        return dns, ips


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None
