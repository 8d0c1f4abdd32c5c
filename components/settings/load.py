"""Stack config → frozen, validated settings. The only module that reads `pulumi.Config`.

`parse_settings` is pure (raw strings in, `Settings` out) so every rule is testable without
Pulumi; `load_settings` feeds it the stack's config and reads the secret keys as Outputs, which
never enter `Settings`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi.runtime import config as runtime_config

from components.settings.acme import TOKEN_KEY, parse_acme
from components.settings.clients import parse_clients
from components.settings.gpu_hosts import GPU_SYNTAX, gpu_request, parse_gpu_hosts
from components.settings.keys import NAMESPACE
from components.settings.model import (
    Admission,
    BanPolicy,
    ContainerLimits,
    EdgePolicy,
    Exposure,
    GpuRequest,
    Images,
    ModelSpec,
    RateLimit,
    Rotation,
    Settings,
    TlsSource,
)
from components.settings.monitoring import parse_monitoring
from components.settings.rules import ConfigErrors, RawConfig
from components.settings.tunnel import parse_tunnel

LITELLM_PROCESS_MEMORY_MB = 512
"""Memory per LiteLLM process: one per worker, plus a supervisor when there are several
(measured with 2 workers: 324 MB supervisor, 333-381 MB per worker, resident after requests)."""


@dataclass(frozen=True, kw_only=True)
class SecretConfig:
    """Secret config values, kept as secret Outputs so they never reach plain state or logs."""

    tls_certificate: pulumi.Output[str] | None
    """The user's PEM certificate chain, when tlsSource is provided."""
    tls_private_key: pulumi.Output[str] | None
    """The user's PEM private key, when tlsSource is provided."""
    acme_dns_api_token: pulumi.Output[str] | None = None
    """The user's DNS-01 token, when tlsSource is acme and the stack is not to create one."""
    alert_webhook_url: pulumi.Output[str] | None = None
    """Where Alertmanager posts alerts, when set (monitoring on)."""
    alert_smtp_password: pulumi.Output[str] | None = None
    """The SMTP password of alert mail, when set (monitoring on)."""


def parse_settings(raw_values: Mapping[str, str], *, stack: str, secret_keys: frozenset[str]) -> Settings:
    """Validate raw config strings (keys without namespace) into `Settings`.

    `secret_keys` names the keys the stack stores encrypted. Raises `SettingsError` listing every
    bad key, its value and what is allowed.
    """
    errors = ConfigErrors()
    raw = RawConfig(raw_values, errors)
    raw.reject_unknown_keys()

    exposure: Exposure = raw.choice("exposure", ("local", "lan", "tunnel"))
    listen_address = _listen_address(raw, exposure, errors)
    allowed_cidrs = raw.cidr_list("allowedCidrs")
    if exposure == "lan" and not allowed_cidrs:
        errors.add("allowedCidrs", "[]", "at least one client network (CIDR) in lan mode")
    hostname = raw.hostname("hostname") or ("localhost" if exposure == "local" else listen_address)
    tls_source: TlsSource = raw.choice("tlsSource", ("self-signed", "provided", "acme"))
    _check_secrets(tls_source, raw_values, secret_keys, errors)
    acme = parse_acme(raw, tls_source, exposure, hostname, secret_keys)

    models = _models(raw)
    admin_cidrs = raw.cidr_list("adminCidrs")
    _check_admin_inside_allowed(admin_cidrs, allowed_cidrs, errors)
    litellm_limits = ContainerLimits(memory_mb=raw.integer("litellmMemoryMb", 512, 65536))
    tunnel = parse_tunnel(raw, exposure, hostname)
    settings = Settings(
        stack=stack,
        exposure=exposure,
        listen_address=listen_address,
        https_port=raw.integer("httpsPort", 1, 65535),
        hostname=hostname,
        allowed_cidrs=allowed_cidrs,
        gpus=_gpus(raw),
        models=models,
        images=_images(raw),
        tls_source=tls_source,
        clients=parse_clients(raw, tuple(m.name for m in models)),
        rotation=_rotation(raw),
        edge=_edge_policy(raw, admin_cidrs),
        generation_timeout_seconds=raw.integer("generationTimeoutSeconds", 60, 86400),
        admission=Admission(
            num_parallel=raw.integer("ollamaNumParallel", 1, 64), max_queue=raw.integer("ollamaMaxQueue", 1, 512)
        ),
        ollama_context_length=_context_length(raw),
        ollama_limits=ContainerLimits(memory_mb=raw.integer("ollamaMemoryMb", 1024, 1048576)),
        litellm_limits=litellm_limits,
        litellm_workers=_litellm_workers(raw, litellm_limits.memory_mb),
        nginx_limits=ContainerLimits(memory_mb=raw.integer("nginxMemoryMb", 32, 65536)),
        docker_host=raw.docker_host("dockerHost"),
        tunnel=tunnel,
        acme=acme,
        monitoring=parse_monitoring(raw, raw_values, secret_keys, tunnel.subnet if tunnel else None),
        bans=_bans(raw, admin_cidrs),
        paused=raw.boolean("paused"),
        pool=parse_gpu_hosts(raw, models),
    )
    errors.raise_if_any()
    return settings


def _bans(raw: RawConfig, admin_cidrs: tuple[str, ...]) -> BanPolicy:
    """fail2ban's numbers (the seed's 3 / 600 s / 3600 s by default), and whom they spare."""
    exempt_admins = raw.boolean("banExemptAdmins")
    if exempt_admins and not admin_cidrs:
        # Sparing nobody while the operator believes their networks are spared is worse than an error.
        raw.errors.add("banExemptAdmins", "true", "false unless adminCidrs names the networks to spare")
    return BanPolicy(
        max_retry=raw.integer("banMaxRetry", 0, 1000),
        find_seconds=raw.integer("banFindTimeSeconds", 1, 86400),
        ban_seconds=raw.integer("banTimeSeconds", 1, 31536000),
        exempt_cidrs=admin_cidrs if exempt_admins else (),
    )


def _images(raw: RawConfig) -> Images:
    """The pinned images."""
    return Images(
        ollama=raw.image("ollamaImage"),
        litellm=raw.litellm_image("litellmImage"),
        nginx=raw.image("nginxImage"),
    )


def _rotation(raw: RawConfig) -> Rotation:
    """The epochs the generated secrets follow."""
    basic_auth_epoch = raw.epoch("basicAuthEpoch")
    return Rotation(
        stack_epoch=raw.epoch("rotationEpoch"),
        master_key_epoch=raw.epoch("masterKeyEpoch"),
        basic_auth_epoch=basic_auth_epoch,
        basic_auth_previous_epoch=_previous_basic_auth_epoch(raw, basic_auth_epoch),
        tunnel_secret_epoch=raw.epoch("tunnelSecretEpoch"),
    )


def _previous_basic_auth_epoch(raw: RawConfig, current: str) -> str | None:
    """The basic-auth grace window's epoch: another epoch than the current, with basic auth on."""
    key = "basicAuthPreviousEpoch"
    if not raw.text(key):
        return None
    previous = raw.epoch(key)
    if previous == current:
        raw.errors.add(key, previous, f"an earlier epoch than basicAuthEpoch ({current}), or empty")
    elif not raw.boolean("basicAuth"):
        raw.errors.add(key, previous, "empty while basicAuth is false")
    return previous


def _edge_policy(raw: RawConfig, admin_cidrs: tuple[str, ...]) -> EdgePolicy:
    """What nginx enforces: TLS, basic auth, rates, connections, admin networks, body size."""
    return EdgePolicy(
        tls_profile=raw.choice("tlsProfile", ("modern", "intermediate")),
        basic_auth=raw.boolean("basicAuth"),
        client_rate=RateLimit(
            per_second=raw.integer("clientRateLimit", 1, 10000), burst=raw.integer("clientRateBurst", 0, 100000)
        ),
        key_rate=RateLimit(
            per_second=raw.integer("keyRateLimit", 1, 10000), burst=raw.integer("keyRateBurst", 0, 100000)
        ),
        connections_per_client=raw.integer("connectionsPerClient", 1, 10000),
        admin_cidrs=admin_cidrs,
        max_body_mb=raw.integer("maxBodyMb", 1, 1024),
    )


CONTEXT_LENGTHS = range(2048, 1048576 + 1)
"""Context windows one may set: from one a chat with a system prompt and some history fits in."""


def _context_length(raw: RawConfig) -> int | None:
    value = raw.text("ollamaContextLength")
    try:
        tokens = int(value)
    except ValueError:
        tokens = -1
    if tokens != 0 and tokens not in CONTEXT_LENGTHS:
        allowed = f"0 (Ollama's default) or a whole number from {CONTEXT_LENGTHS[0]} to {CONTEXT_LENGTHS[-1]}"
        raw.errors.add("ollamaContextLength", value, allowed)
    return tokens if tokens in CONTEXT_LENGTHS else None


def _litellm_workers(raw: RawConfig, memory_mb: int) -> int:
    workers = raw.integer("litellmWorkers", 1, 32)
    processes = workers + 1 if workers > 1 else 1
    if memory_mb < LITELLM_PROCESS_MEMORY_MB * processes:
        raw.errors.add(
            "litellmWorkers",
            str(workers),
            f"a count whose processes fit litellmMemoryMb ({memory_mb}): {LITELLM_PROCESS_MEMORY_MB} MB "
            "per worker plus one supervisor when there are several; raise litellmMemoryMb or lower litellmWorkers",
        )
    return workers


def _listen_address(raw: RawConfig, exposure: Exposure, errors: ConfigErrors) -> str:
    if exposure == "tunnel":
        return ""  # nothing is published; `parse_tunnel` refuses a set value
    value = raw.text("listenAddress")
    if exposure == "lan":
        if not value:
            errors.add("listenAddress", "", "an explicit host IP address in lan mode")
            return value
        return raw.ip_address("listenAddress", value, loopback_only=False)
    if not value:
        return "127.0.0.1"
    return raw.ip_address("listenAddress", value, loopback_only=True)


def _check_admin_inside_allowed(admin: tuple[str, ...], allowed: tuple[str, ...], errors: ConfigErrors) -> None:
    """An admin network outside the allow-list would be a second, wider front door."""
    if not allowed:
        return
    allowed_networks = [ipaddress.ip_network(cidr) for cidr in allowed]
    for cidr in admin:
        network = ipaddress.ip_network(cidr)
        if not any(
            network.version == outer.version and network.subnet_of(outer)  # type: ignore[arg-type]
            for outer in allowed_networks
        ):
            errors.add("adminCidrs", cidr, f"a network inside allowedCidrs ({', '.join(allowed)})")


_TLS_SECRET_KEYS = ("tlsCertificate", "tlsPrivateKey")


def _check_secrets(
    source: TlsSource, raw_values: Mapping[str, str], secret_keys: frozenset[str], errors: ConfigErrors
) -> None:
    for key in _TLS_SECRET_KEYS:
        present = key in raw_values
        if present and key not in secret_keys:
            errors.add(key, "(plaintext, not shown)", f"an encrypted value: `pulumi config set --secret {key}`")
        if source == "provided" and not present:
            errors.add(
                key, "(unset)", f"a PEM value set with `pulumi config set --secret {key}` when tlsSource is provided"
            )
        if source != "provided" and present:
            errors.add(
                key,
                "[secret]",
                f"unset while tlsSource is {source} (set tlsSource: provided to use your certificate)",
            )


def _gpus(raw: RawConfig) -> GpuRequest:
    value = raw.text("gpus")
    request = gpu_request(value)
    if request is None:
        raw.errors.add("gpus", value, GPU_SYNTAX)
        return GpuRequest("none")
    return request


def _models(raw: RawConfig) -> tuple[ModelSpec, ...]:
    """Chat models (`models`, at least one), then embedding models (`embeddingModels`)."""
    entries = raw.string_list("models")
    if not entries:
        raw.errors.add("models", "[]", "at least one 'client-name=ollama-tag' entry")
    chat = tuple(raw.model(entry) for entry in entries)
    embedding = tuple(raw.model(e, "embeddingModels", "embedding") for e in raw.string_list("embeddingModels"))
    seen: set[str] = set()
    for key, models in (("models", chat), ("embeddingModels", embedding)):
        for model in models:
            if model.name in seen:
                raw.errors.add(key, model.name, "each client-facing model name once, across models and embeddingModels")
            seen.add(model.name)
    return chat + embedding


def _read_raw_config() -> tuple[dict[str, str], frozenset[str]]:
    """Every `llmstack:` key the stack sets, as the raw strings Pulumi passes, and which are secret."""
    prefix = f"{NAMESPACE}:"
    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    values = {k.removeprefix(prefix): str(v) for k, v in merged.items() if k.startswith(prefix)}
    env_secrets = set(runtime_config.get_config_secret_keys_env())
    secret = frozenset(k for k in values if runtime_config.is_config_secret(prefix + k) or prefix + k in env_secrets)
    return values, secret


def load_settings() -> tuple[Settings, SecretConfig]:
    """Read this stack's config into validated `Settings` plus its secret Outputs."""
    values, secret = _read_raw_config()
    settings = parse_settings(values, stack=pulumi.get_stack(), secret_keys=secret)
    config = pulumi.Config(NAMESPACE)
    provided = settings.tls_source == "provided"
    token_given = settings.acme is not None and settings.acme.token_given
    monitoring = settings.monitoring is not None
    return settings, SecretConfig(
        tls_certificate=config.require_secret("tlsCertificate") if provided else None,
        tls_private_key=config.require_secret("tlsPrivateKey") if provided else None,
        acme_dns_api_token=config.require_secret(TOKEN_KEY) if token_given else None,
        alert_webhook_url=config.get_secret("alertWebhookUrl") if monitoring else None,
        alert_smtp_password=config.get_secret("alertSmtpPassword") if monitoring else None,
    )
