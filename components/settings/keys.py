"""Every stack config key llmstack reads, with its type, default and meaning.

This table is the single source for the key declarations in `Pulumi.yaml`, for
docs/CONFIGURATION.md (`python -m tools.config_reference`; tests keep both equal to it) and for the
defaults `load_settings` applies: the Pulumi CLI applies the `Pulumi.yaml` defaults, Pulumi mocks
and the offline render do not, so the program must know them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.shipped.litellm.llmstack_contract import TESTED_LITELLM_VERSION

ConfigType = Literal["string", "integer", "boolean", "array"]

NAMESPACE = "llmstack"


@dataclass(frozen=True, kw_only=True)
class ConfigKey:
    """One declared config key."""

    name: str
    """The key without the project namespace, as in `pulumi config set <name>`."""
    type: ConfigType
    """The Pulumi project-config type (`array` means an array of strings)."""
    default: str | int | bool | tuple[str, ...]
    """The value used when the stack does not set the key."""
    description: str
    """What the key controls, shown in `Pulumi.yaml`."""
    details: str = ""
    """More for docs/CONFIGURATION.md: consequences and limits that do not fit `Pulumi.yaml`."""


@dataclass(frozen=True, kw_only=True)
class SecretKey:
    """A key that must be set with `pulumi config set --secret` and has no default.

    Pulumi treats a declared key without a default as required, so these are documented in
    `Pulumi.yaml` comments and docs/CONFIGURATION.md rather than declared.
    """

    name: str
    """The key without the project namespace."""
    description: str
    """What the secret is for."""


DECLARED_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey(
        name="exposure",
        type="string",
        default="local",
        description="Who can reach the API: local (127.0.0.1 only), lan (an explicit host "
        "address, allow-listed) or tunnel (the Internet through a Cloudflare Tunnel, no host port).",
    ),
    ConfigKey(
        name="listenAddress",
        type="string",
        default="",
        description="Host address nginx publishes on. Empty means 127.0.0.1 in local mode; required in lan mode.",
    ),
    ConfigKey(
        name="httpsPort",
        type="integer",
        default=8443,
        description="Host port nginx publishes HTTPS on (1-65535).",
    ),
    ConfigKey(
        name="hostname",
        type="string",
        default="",
        description="Name clients use in the endpoint URL and the certificate. Empty means "
        "localhost in local mode and listenAddress in lan mode; in tunnel mode, required: the public "
        "name in your Cloudflare zone.",
    ),
    ConfigKey(
        name="allowedCidrs",
        type="array",
        default=(),
        description="Client networks (CIDR) nginx accepts; empty accepts every client that can "
        "reach the published address. Required in lan mode.",
        details="Networks must not have host bits set (`192.168.50.0/24`, not `192.168.50.10/24`).",
    ),
    ConfigKey(
        name="gpus",
        type="string",
        default="none",
        description="GPUs for Ollama: none, all, or comma-separated device ids or UUIDs "
        "(needs the NVIDIA container toolkit).",
    ),
    ConfigKey(
        name="models",
        type="array",
        default=("qwen2.5-0.5b=qwen2.5:0.5b",),
        description="Models to pull and serve, each 'client-name=ollama-tag'; clients see the "
        "client name, which stays stable when the tag changes.",
    ),
    ConfigKey(
        name="embeddingModels",
        type="array",
        default=(),
        description="Embedding models to pull and serve, each 'client-name=ollama-tag' (e.g. "
        "'embed=nomic-embed-text'), for clients with the embeddings API; names are unique across "
        "both lists.",
        details="LiteLLM routes chat models as `ollama_chat/` and these as `ollama/`: its `ollama_chat/` provider"
        " cannot embed.",
    ),
    ConfigKey(
        name="ollamaImage",
        type="string",
        default="ollama/ollama:0.12.6",
        description="Ollama image: repository:tag, optionally @sha256:digest; never latest.",
    ),
    ConfigKey(
        name="litellmImage",
        type="string",
        default=f"ghcr.io/berriai/litellm:main-v{TESTED_LITELLM_VERSION}",
        description=f"LiteLLM proxy image; its tag must carry the tested version {TESTED_LITELLM_VERSION}.",
        details="The version is pinned because llmstack patches LiteLLM internals tested on it; 1.82.7 and 1.82.8"
        " were malicious releases and are refused.",
    ),
    ConfigKey(
        name="nginxImage",
        type="string",
        default="nginx:1.29.3",
        description="nginx image: repository:tag, optionally @sha256:digest; never latest.",
    ),
    ConfigKey(
        name="tlsSource",
        type="string",
        default="self-signed",
        description="Where nginx's certificate comes from: self-signed (a CA and server "
        "certificate generated by the stack), provided (tlsCertificate/tlsPrivateKey secrets) or acme "
        "(a publicly trusted certificate over DNS-01, renewed by itself; acme* keys).",
        details="Self-signed: a private CA and an ECDSA P-256 server certificate (pulumi-tls), renewed by `pulumi"
        " up` in their last 30 days. Provided: set both secrets below. Acme: lego obtains the certificate on the"
        " first `up` and renews it in its last 30 days on its own (local and lan modes; behind the tunnel clients"
        " meet Cloudflare's certificate).",
    ),
    ConfigKey(
        name="acmeEmail",
        type="string",
        default="",
        description="tlsSource acme: contact address of the ACME account (required).",
    ),
    ConfigKey(
        name="acmeDirectory",
        type="string",
        default="letsencrypt",
        description="tlsSource acme: the ACME directory: letsencrypt (production), letsencrypt-staging, or "
        "an https:// directory URL.",
    ),
    ConfigKey(
        name="acmeNames",
        type="array",
        default=(),
        description="tlsSource acme: DNS names the certificate covers, in acmeZoneName; '*.zone' allowed. "
        "Empty means hostname alone; hostname must be covered.",
    ),
    ConfigKey(
        name="acmeZoneName",
        type="string",
        default="",
        description="tlsSource acme: the DNS zone (e.g. example.com) every name lies in (required).",
    ),
    ConfigKey(
        name="acmeZoneId",
        type="string",
        default="",
        description="tlsSource acme: the Cloudflare zone's id (32 hex); the stack creates a token that may "
        "edit DNS in that zone only. Leave empty when you give acmeDnsApiToken.",
    ),
    ConfigKey(
        name="acmeDnsProvider",
        type="string",
        default="cloudflare",
        description="tlsSource acme: who answers the DNS-01 challenge (cloudflare).",
    ),
    ConfigKey(
        name="acmeImage",
        type="string",
        default="goacme/lego:v4.9.1",
        description="tlsSource acme: the lego image: repository:tag, optionally @sha256:digest; never latest.",
    ),
    ConfigKey(
        name="tlsProfile",
        type="string",
        default="modern",
        description="Mozilla TLS profile of the edge: modern (TLS 1.3 only) or intermediate (adds "
        "TLS 1.2 with Mozilla's cipher list, for older clients).",
    ),
    ConfigKey(
        name="basicAuth",
        type="boolean",
        default=False,
        description="Require HTTP basic auth at the edge in front of the API key. Clients then send "
        "the key in x-litellm-api-key; the generated client configs do.",
        details="Clients then send basic auth in `Authorization` and the API key in `x-litellm-api-key`; the "
        "generated client configs (`headers`, `openaiEnv`, `continueConfig`) do.",
    ),
    ConfigKey(
        name="clientRateLimit",
        type="integer",
        default=10,
        description="Requests per second one client IP may make (1-10000); excess gets 429.",
        details="Refused requests get 429 with an OpenAI-style JSON error and `Retry-After`.",
    ),
    ConfigKey(
        name="clientRateBurst",
        type="integer",
        default=20,
        description="Requests above clientRateLimit one client IP may burst (0-100000).",
    ),
    ConfigKey(
        name="keyRateLimit",
        type="integer",
        default=20,
        description="Requests per second one API key may make, from any address (1-10000).",
    ),
    ConfigKey(
        name="keyRateBurst",
        type="integer",
        default=40,
        description="Requests above keyRateLimit one API key may burst (0-100000).",
    ),
    ConfigKey(
        name="connectionsPerClient",
        type="integer",
        default=32,
        description="Concurrent connections one client IP may hold open (1-10000).",
    ),
    ConfigKey(
        name="adminCidrs",
        type="array",
        default=(),
        description="Networks allowed to reach LiteLLM's admin and info routes through the edge; "
        "empty keeps them unreachable.",
        details="Must lie inside `allowedCidrs`. Of the API keys, only an admin client's (or the master key) may "
        "call those routes.",
    ),
    ConfigKey(
        name="banMaxRetry",
        type="integer",
        default=3,
        description="Failed authentications (wrong or revoked API key, wrong basic-auth password) from one client "
        "address within banFindTimeSeconds that ban the address (0-1000; 0 turns bans off).",
        details="A banned address gets 403 `address_banned` with Retry-After on every request, a valid key "
        "included, until the ban ends. The address is the real client's in every mode (behind the tunnel, "
        "the one Cloudflare saw). docs/OPERATIONS.md says how to lift a ban by hand.",
    ),
    ConfigKey(
        name="banFindTimeSeconds",
        type="integer",
        default=600,
        description="The window in which banMaxRetry failures ban an address (1-86400).",
    ),
    ConfigKey(
        name="banTimeSeconds",
        type="integer",
        default=3600,
        description="How long a ban lasts (1-31536000); bans survive restarts and replacements of LiteLLM.",
    ),
    ConfigKey(
        name="banExemptAdmins",
        type="boolean",
        default=False,
        description="Never ban addresses in adminCidrs (their failures are not counted either); true needs adminCidrs.",
        details="Off by default: a key guessed from an admin network opens the admin routes, the costliest "
        "guess of all, and a compromised machine there is what a ban is for.",
    ),
    ConfigKey(
        name="maxBodyMb",
        type="integer",
        default=16,
        description="Largest request body in MB (1-1024); larger gets 413.",
    ),
    ConfigKey(
        name="paused",
        type="boolean",
        default=False,
        description="The kill switch: true takes the stack off the network (no nginx, no tunnel connector) and "
        "keeps every volume, secret, key and model; false brings it back with the same keys.",
        details="LiteLLM and Ollama keep running on their internal networks, unreachable, so service returns "
        "in the seconds nginx takes to start. docs/OPERATIONS.md has the compromise runbook that uses it.",
    ),
    ConfigKey(
        name="rotationEpoch",
        type="string",
        default="0",
        description="Change to rotate every generated secret at once (master key, client keys, "
        "basic-auth password, tunnel secret): the emergency rotation, with no grace window.",
    ),
    ConfigKey(
        name="masterKeyEpoch",
        type="string",
        default="0",
        description="Change to rotate the master (admin) key; nothing restarts (the old key is refused at once).",
        details="docs/OPERATIONS.md says what each rotation restarts.",
    ),
    ConfigKey(
        name="basicAuthEpoch",
        type="string",
        default="0",
        description="Change to rotate the basic-auth password; nothing restarts. Each epoch has its "
        "own user name (llmstack for 0, else llmstack-<epoch>), so a previous one can stay valid.",
    ),
    ConfigKey(
        name="basicAuthPreviousEpoch",
        type="string",
        default="",
        description="The basic-auth epoch whose password stays accepted beside the current one "
        "(a grace window while clients switch); empty: only the current. Remove it, and run "
        "pulumi up, to end the window.",
    ),
    ConfigKey(
        name="tunnelSecretEpoch",
        type="string",
        default="0",
        description="Change to rotate the Cloudflare tunnel secret (tunnel mode).",
    ),
    ConfigKey(
        name="generationTimeoutSeconds",
        type="integer",
        default=900,
        description="How long one generation may run before the proxies give up (60-86400).",
        details="A chat stream ends that long after the request arrived, with an error event (408); Ollama may "
        "stay silent that long before its answer begins, which bounds a non-streamed reply; LiteLLM gives"
        " up connecting to Ollama after 5 s. Text-completion streams are bounded only per gap. nginx's "
        "read timeout (per read, not in total) is 5 s longer, behind LiteLLM's.",
    ),
    ConfigKey(
        name="ollamaMemoryMb",
        type="integer",
        default=16384,
        description="Memory limit of the Ollama container in MB (the model must fit).",
    ),
    ConfigKey(
        name="ollamaNumParallel",
        type="integer",
        default=1,
        description="Requests one loaded model serves at once (OLLAMA_NUM_PARALLEL, 1-64); more "
        "needs more memory per model.",
    ),
    ConfigKey(
        name="ollamaMaxQueue",
        type="integer",
        default=16,
        description="Requests Ollama queues beyond those running (OLLAMA_MAX_QUEUE, 1-512); past it "
        "clients get a fast 503 with Retry-After instead of an ever-longer wait.",
        details="LiteLLM passes Ollama's 503 on without retrying; nginx adds `Retry-After: 5`.",
    ),
    ConfigKey(
        name="ollamaContextLength",
        type="integer",
        default=0,
        description="Context window in tokens of models whose Modelfile sets none (OLLAMA_CONTEXT_LENGTH, "
        "2048-1048576; 0 keeps Ollama's default, 4096 in 0.12.6); memory grows with it times "
        "ollamaNumParallel. Clients cannot set it per request: a different num_ctx makes Ollama reload "
        "the model.",
        details="Coding assistants send long prompts, and Ollama cuts a prompt that does not fit without an error.",
    ),
    ConfigKey(
        name="litellmMemoryMb",
        type="integer",
        default=2048,
        description="Memory limit of the LiteLLM container in MB (512 per worker, plus 512 when there are several).",
        details="Measured idle, gunicorn's master and two workers together: 534-661 MB PSS (2026-12-07).",
    ),
    ConfigKey(
        name="litellmWorkers",
        type="integer",
        default=2,
        description="LiteLLM worker processes (1-32): match the CPU cores the host can give the "
        "gateway. A client's rpmLimit is counted across all of them.",
    ),
    ConfigKey(
        name="nginxMemoryMb",
        type="integer",
        default=256,
        description="Memory limit of the nginx container in MB.",
    ),
    ConfigKey(
        name="dockerHost",
        type="string",
        default="",
        description="Docker engine to deploy to, e.g. ssh://user@gpu-host. Empty uses the "
        "operator's default engine (DOCKER_HOST or the local socket). In local mode a remote engine "
        "publishes on its own 127.0.0.1: reach it with ssh -L 8443:127.0.0.1:8443 user@gpu-host.",
    ),
    ConfigKey(
        name="gatewayAddress",
        type="string",
        default="",
        description="GPU pool: the gateway host's private IP address as the GPU hosts see it; their "
        "mutual-TLS terminators admit this address alone. Required with gpuHosts, empty without.",
    ),
    ConfigKey(
        name="cloudflareAccountId",
        type="string",
        default="",
        description="Tunnel mode: the Cloudflare account id (32 hex characters). The API token is "
        "the provider's secret: pulumi config set --secret cloudflare:apiToken.",
    ),
    ConfigKey(
        name="cloudflareZoneId",
        type="string",
        default="",
        description="Tunnel mode: the id of the Cloudflare zone holding hostname (32 hex characters).",
    ),
    ConfigKey(
        name="cloudflaredImage",
        type="string",
        default="cloudflare/cloudflared:2025.8.1",
        description="Tunnel mode: cloudflared image, repository:tag, optionally @sha256:digest; never latest.",
    ),
    ConfigKey(
        name="tunnelSubnet",
        type="string",
        default="10.231.53.0/28",
        description="Tunnel mode: private IPv4 subnet (/16 to /28) of the network only cloudflared and "
        "nginx share; cloudflared gets its second address, the one nginx trusts CF-Connecting-IP from.",
    ),
    ConfigKey(
        name="cloudflaredMemoryMb",
        type="integer",
        default=256,
        description="Tunnel mode: memory limit of the cloudflared container in MB.",
    ),
    ConfigKey(
        name="accessEmails",
        type="array",
        default=(),
        description="Tunnel mode: people Cloudflare Access lets through to the hostname after login. "
        "Setting it (or accessServiceToken) puts an Access application in front.",
    ),
    ConfigKey(
        name="accessServiceToken",
        type="boolean",
        default=False,
        description="Tunnel mode: let API clients through Cloudflare Access with a generated service "
        "token (CF-Access-Client-Id/-Secret headers, output accessHeaders).",
    ),
    ConfigKey(
        name="cloudflareRateLimit",
        type="integer",
        default=0,
        description="Tunnel mode: requests per 10 seconds one client IP may send, enforced by a rule in "
        "the zone's one http_ratelimit ruleset (0-100000; the zone can have no other, e.g. another "
        "stack's); 0 adds no rule. On a free zone the rule counts every hostname of the zone.",
    ),
    ConfigKey(
        name="cloudflareZonePlan",
        type="string",
        default="free",
        description="Tunnel mode: the zone's Cloudflare plan (free, pro, business, enterprise). Free "
        "rate-limiting rules may test only the path, so the rule covers the whole zone; on the others "
        "it tests the hostname.",
    ),
    ConfigKey(
        name="cloudflareZoneName",
        type="string",
        default="",
        description="Tunnel mode: the zone's name (e.g. example.com). Set, hostname must be the zone or "
        "one label below it: Universal SSL covers nothing deeper. Empty: not checked.",
    ),
    ConfigKey(
        name="monitoring",
        type="boolean",
        default=True,
        description="Run Prometheus (published on the host's 127.0.0.1 only), the nginx exporter, a "
        "model-server probe and, when a receiver is set, Alertmanager.",
        details="About 150 MB more memory in all, and in tunnel mode a watch of cloudflared's metrics (about "
        "10 MB, limit 32 MB) (docs/OPERATIONS.md, Monitoring). Off renders none of these containers and no "
        "metrics in LiteLLM or nginx.",
    ),
    ConfigKey(
        name="monitoringSubnet",
        type="string",
        default="10.231.54.0/27",
        description="Monitoring: private IPv4 subnet (/16 to /28) of the internal network Prometheus shares "
        "with what it scrapes; nginx shows its status page to this network alone.",
    ),
    ConfigKey(
        name="prometheusPort",
        type="integer",
        default=9090,
        description="Monitoring: host port of Prometheus's UI and API, published on 127.0.0.1 only (1-65535); "
        "from elsewhere use ssh -L.",
    ),
    ConfigKey(
        name="prometheusRetentionDays",
        type="integer",
        default=15,
        description="Monitoring: days of samples Prometheus keeps (1-3650).",
    ),
    ConfigKey(
        name="prometheusRetentionMb",
        type="integer",
        default=1024,
        description="Monitoring: most disk Prometheus's samples may use, in MB (64-1048576); the oldest go first.",
    ),
    ConfigKey(
        name="prometheusMemoryMb",
        type="integer",
        default=512,
        description="Monitoring: memory limit of the Prometheus container in MB (128-65536).",
    ),
    ConfigKey(
        name="prometheusImage",
        type="string",
        default="prom/prometheus:v2.42.0",
        description="Monitoring: Prometheus image, repository:tag, optionally @sha256:digest; never latest.",
        details="The default is the release the tests run (Debian 12's prometheus 2.42).",
    ),
    ConfigKey(
        name="alertmanagerImage",
        type="string",
        default="prom/alertmanager:v0.25.0",
        description="Monitoring: Alertmanager image, repository:tag, optionally @sha256:digest; never latest.",
        details="The default is the release the tests run (Debian 12's prometheus-alertmanager 0.25).",
    ),
    ConfigKey(
        name="nginxExporterImage",
        type="string",
        default="nginx/nginx-prometheus-exporter:0.11.0",
        description="Monitoring: nginx-prometheus-exporter image, repository:tag, optionally @sha256:digest.",
        details="The default is the release the tests run (Debian 12's prometheus-nginx-exporter 0.11).",
    ),
    ConfigKey(
        name="alertEmailTo",
        type="string",
        default="",
        description="Monitoring: address alert mail goes to; empty sends no mail. Needs alertEmailFrom and "
        "alertSmtpHost.",
    ),
    ConfigKey(
        name="alertEmailFrom",
        type="string",
        default="",
        description="Monitoring: sender address of alert mail.",
    ),
    ConfigKey(
        name="alertSmtpHost",
        type="string",
        default="",
        description="Monitoring: SMTP server of alert mail, host:port (STARTTLS required).",
    ),
    ConfigKey(
        name="alertSmtpUser",
        type="string",
        default="",
        description="Monitoring: SMTP login; set its password with pulumi config set --secret alertSmtpPassword.",
    ),
)

SECRET_KEYS: tuple[SecretKey, ...] = (
    SecretKey(
        name="tlsCertificate",
        description="PEM certificate chain for nginx when tlsSource is provided.",
    ),
    SecretKey(
        name="tlsPrivateKey",
        description="PEM private key for tlsCertificate when tlsSource is provided.",
    ),
    SecretKey(
        name="acmeDnsApiToken",
        description="tlsSource acme: a Cloudflare token limited to Zone Read and DNS Edit in acmeZoneName, "
        "instead of one the stack creates.",
    ),
    SecretKey(
        name="alertWebhookUrl",
        description="Monitoring: URL Alertmanager posts alerts to (its webhook format); a secret, as such URLs "
        "often carry a token.",
    ),
    SecretKey(
        name="alertSmtpPassword",
        description="Monitoring: password of alertSmtpUser.",
    ),
)

STRUCTURED_KEYS: tuple[SecretKey, ...] = (
    SecretKey(
        name="clients",
        description="API clients: a map of client name to {models, apis, rpmLimit, admin, epoch, "
        "previousEpoch, previousValidUntil}; each gets its own key. Set with "
        "`pulumi config set --path 'clients.<name>.models[0]' <model>`.",
    ),
    SecretKey(
        name="gpuHosts",
        description="GPU pool: a map of host name to {dockerHost (ssh://user@host or tcp://host:port), address "
        "(its private IP), gpus (none, all, device list; default all), models (served model names; default all), "
        "parallel (1-64, default 1)}. Unset: Ollama runs beside the gateway, as a single host. Set with "
        "`pulumi config set --path 'gpuHosts.<name>.address' 10.0.0.12`.",
    ),
)
"""Keys whose values are maps: Pulumi's project schema cannot declare objects, so they are
documented in `Pulumi.yaml` comments and docs/CONFIGURATION.md instead."""

KNOWN_KEY_NAMES = (
    frozenset(k.name for k in DECLARED_KEYS)
    | frozenset(k.name for k in SECRET_KEYS)
    | frozenset(k.name for k in STRUCTURED_KEYS)
)


def pulumi_yaml_declarations() -> dict[str, dict[str, object]]:
    """The `config:` block of `Pulumi.yaml` as this table declares it."""
    declarations: dict[str, dict[str, object]] = {}
    for key in DECLARED_KEYS:
        entry: dict[str, object] = {"type": key.type, "description": key.description}
        if key.type == "array":
            entry["items"] = {"type": "string"}
        entry["default"] = list(key.default) if isinstance(key.default, tuple) else key.default
        declarations[f"{NAMESPACE}:{key.name}"] = entry
    return declarations
