"""Stack config → settings: defaults, and a clear error for every class of bad value."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from components.settings import parse_settings
from components.settings.rules import SettingsError
from offline.engine import OfflineRun, ProgramFailedError
from tests.support import TUNNEL

NO_SECRETS: frozenset[str] = frozenset()


def parse(**raw: str) -> object:
    return parse_settings(raw, stack="test", secret_keys=NO_SECRETS)


def test_defaults_are_the_dev_stack() -> None:
    settings = parse_settings({}, stack="dev", secret_keys=NO_SECRETS)
    assert settings.exposure == "local"
    assert settings.listen_address == "127.0.0.1"
    assert settings.endpoint_url == "https://localhost:8443/v1"
    assert settings.gpus.docker_gpus is None
    assert [m.name for m in settings.models] == ["qwen2.5-0.5b"]
    assert [m.kind for m in settings.models] == ["chat"]
    assert settings.generation_timeout_seconds >= 600
    assert settings.ollama_context_length is None


def test_bans_are_on_by_default_with_the_seeds_numbers_and_spare_nobody() -> None:
    bans = parse_settings({"adminCidrs": '["127.0.0.0/8"]'}, stack="dev", secret_keys=NO_SECRETS).bans
    assert (bans.max_retry, bans.find_seconds, bans.ban_seconds, bans.exempt_cidrs) == (3, 600, 3600, ())
    exempt = parse_settings(
        {"adminCidrs": '["127.0.0.0/8"]', "banExemptAdmins": "true"}, stack="dev", secret_keys=NO_SECRETS
    ).bans
    assert exempt.exempt_cidrs == ("127.0.0.0/8",)


BAD_CONFIG = [
    pytest.param({"exposure": "public"}, "exposure", "'public'", "local or lan or tunnel", id="exposure-unknown"),
    pytest.param({"exposure": "tunnel"}, "cloudflareAccountId", "''", "account id", id="tunnel-needs-account"),
    pytest.param({"httpsPort": "70000"}, "httpsPort", "'70000'", "from 1 to 65535", id="port-range"),
    pytest.param({"httpsPort": "https"}, "httpsPort", "'https'", "whole number", id="port-not-a-number"),
    pytest.param({"listenAddress": "0.0.0.0"}, "listenAddress", "'0.0.0.0'", "loopback", id="local-not-loopback"),  # noqa: S104
    pytest.param({"listenAddress": "localhost:1"}, "listenAddress", "'localhost:1'", "an IP address", id="address"),
    pytest.param(
        {"exposure": "lan", "allowedCidrs": '["10.0.0.0/8"]'},
        "listenAddress",
        "''",
        "explicit host IP",
        id="lan-needs-address",
    ),
    pytest.param(
        {"exposure": "lan", "listenAddress": "10.1.1.1"},
        "allowedCidrs",
        "'[]'",
        "at least one",
        id="lan-needs-allow-list",
    ),
    pytest.param(
        {"allowedCidrs": '["10.0.0.1/8"]'}, "allowedCidrs", "'10.0.0.1/8'", "without host bits", id="cidr-host-bits"
    ),
    pytest.param(
        {"allowedCidrs": "10.0.0.0/8"}, "allowedCidrs", "'10.0.0.0/8'", "a list of strings", id="cidrs-not-a-list"
    ),
    pytest.param({"gpus": "many"}, "gpus", "'many'", "none, all", id="gpus-word"),
    pytest.param(
        {"ollamaContextLength": "1024"}, "ollamaContextLength", "'1024'", "0 (Ollama's default) or", id="context-small"
    ),
    pytest.param(
        {"ollamaContextLength": "2000000"}, "ollamaContextLength", "'2000000'", "from 2048 to 1048576", id="context-big"
    ),
    pytest.param(
        {"ollamaContextLength": "4k"}, "ollamaContextLength", "'4k'", "from 2048 to 1048576", id="context-word"
    ),
    pytest.param({"models": "[]"}, "models", "'[]'", "at least one", id="models-empty"),
    pytest.param({"models": '["qwen"]'}, "models", "'qwen'", "client-name=ollama-tag", id="model-no-name"),
    pytest.param({"models": '["Big Model=qwen:1b"]'}, "models", "'Big Model=qwen:1b'", "lowercase", id="model-name"),
    pytest.param(
        {"models": '["a=x:1", "a=y:2"]'}, "models", "'a'", "each client-facing model name once", id="model-duplicate"
    ),
    pytest.param(
        {"embeddingModels": '["qwen2.5-0.5b=nomic-embed-text"]'},
        "embeddingModels",
        "'qwen2.5-0.5b'",
        "across models and embeddingModels",
        id="embedding-model-named-like-a-chat-model",
    ),
    pytest.param(
        {"embeddingModels": '["nomic-embed-text"]'},
        "embeddingModels",
        "'nomic-embed-text'",
        "client-name=ollama-tag",
        id="embedding-model-no-name",
    ),
    pytest.param({"ollamaImage": "ollama/ollama"}, "ollamaImage", "'ollama/ollama'", "pinned tag", id="image-no-tag"),
    pytest.param({"nginxImage": "nginx:latest"}, "nginxImage", "'nginx:latest'", "not latest", id="image-latest"),
    pytest.param({"nginxImage": "nginx:1.29@sha256:abc"}, "nginxImage", "sha256:abc", "64 hex", id="image-digest"),
    pytest.param(
        {"litellmImage": "ghcr.io/berriai/litellm:main-v1.82.7"},
        "litellmImage",
        "1.82.7",
        "known-malicious",
        id="litellm-malicious",
    ),
    pytest.param(
        {"litellmImage": "ghcr.io/berriai/litellm:main-v1.109.0"},
        "litellmImage",
        "1.109.0",
        "tested LiteLLM version 1.108.7",
        id="litellm-untested",
    ),
    pytest.param(
        {"tlsSource": "letsencrypt"}, "tlsSource", "'letsencrypt'", "self-signed or provided or acme", id="tls-source"
    ),
    pytest.param(
        {"tlsSource": "provided"}, "tlsCertificate", "(unset)", "--secret tlsCertificate", id="tls-provided-needs-cert"
    ),
    pytest.param({"generationTimeoutSeconds": "30"}, "generationTimeoutSeconds", "'30'", "from 60", id="timeout-short"),
    pytest.param({"ollamaMemoryMb": "-1"}, "ollamaMemoryMb", "'-1'", "whole number", id="memory-negative"),
    pytest.param({"dockerHost": "gpu-box"}, "dockerHost", "'gpu-box'", "ssh://", id="docker-host"),
    pytest.param({"hostname": "bad_name!"}, "hostname", "'bad_name!'", "DNS name", id="hostname"),
    pytest.param(
        {"basicAuth": "true", "basicAuthPreviousEpoch": "0"},
        "basicAuthPreviousEpoch",
        "'0'",
        "an earlier epoch than basicAuthEpoch (0)",
        id="basic-auth-previous-is-current",
    ),
    pytest.param(
        {"basicAuthEpoch": "2", "basicAuthPreviousEpoch": "1"},
        "basicAuthPreviousEpoch",
        "'1'",
        "empty while basicAuth is false",
        id="basic-auth-previous-without-basic-auth",
    ),
    pytest.param(
        {"basicAuth": "true", "basicAuthPreviousEpoch": "a b"},
        "basicAuthPreviousEpoch",
        "'a b'",
        "a label of letters",
        id="basic-auth-previous-label",
    ),
    pytest.param({"exposre": "lan"}, "exposre", "'lan'", "known keys", id="unknown-key-typo"),
    pytest.param({"clients": '["alice"]'}, "clients", "'[\"alice\"]'", "a map of client name", id="clients-list"),
    pytest.param({"clients": '{"Alice": {}}'}, "clients.Alice", "'Alice'", "lowercase", id="client-name"),
    pytest.param(
        {"clients": '{"a": {"models": ["gpt-4"]}}'},
        "clients.a.models",
        "'gpt-4'",
        "served models",
        id="client-unknown-model",
    ),
    pytest.param(
        {"clients": '{"a": {"apis": ["admin"]}}'},
        "clients.a.apis",
        "admin",
        "chat, embeddings, models",
        id="client-api-family",
    ),
    pytest.param(
        {"clients": '{"a": {"rpmLimit": "fast"}}'}, "clients.a.rpmLimit", "fast", "requests per minute", id="client-rpm"
    ),
    pytest.param({"clients": '{"a": {"admin": "yes"}}'}, "clients.a.admin", "yes", "true or false", id="client-admin"),
    pytest.param({"clients": '{"a": {"model": ["x"]}}'}, "clients.a.model", "x", "one of the fields", id="client-typo"),
    pytest.param(
        {"clients": '{"vs": {"epoch": "code-1"}, "vs-code": {"epoch": "1"}}'},
        "clients.vs-code.epoch",
        "'1'",
        "the name 'vs-code-1' of clients.vs.epoch",
        id="client-key-names-collide",
    ),
    pytest.param(
        {
            "clients": '{"a": {"epoch": "b-2"}, '
            '"a-b": {"epoch": "3", "previousEpoch": "2", "previousValidUntil": "2030-01-01T00:00:00Z"}}'
        },
        "clients.a-b.previousEpoch",
        "'2'",
        "the name 'a-b-2' of clients.a.epoch",
        id="client-previous-key-name-collides",
    ),
    pytest.param({"tlsProfile": "old"}, "tlsProfile", "'old'", "modern or intermediate", id="tls-profile"),
    pytest.param({"basicAuth": "yes"}, "basicAuth", "'yes'", "true or false", id="basic-auth-bool"),
    pytest.param({"clientRateLimit": "0"}, "clientRateLimit", "'0'", "from 1 to 10000", id="client-rate"),
    pytest.param({"keyRateBurst": "-5"}, "keyRateBurst", "'-5'", "from 0 to 100000", id="key-burst"),
    pytest.param({"connectionsPerClient": "0"}, "connectionsPerClient", "'0'", "from 1", id="connections"),
    pytest.param({"maxBodyMb": "4096"}, "maxBodyMb", "'4096'", "from 1 to 1024", id="body-limit"),
    pytest.param({"adminCidrs": '["10.0.0.0/33"]'}, "adminCidrs", "'10.0.0.0/33'", "CIDR", id="admin-cidr"),
    pytest.param(
        {"allowedCidrs": '["10.0.0.0/8"]', "adminCidrs": '["192.168.1.0/24"]'},
        "adminCidrs",
        "'192.168.1.0/24'",
        "inside allowedCidrs",
        id="admin-outside-allowed",
    ),
    pytest.param({"exposure": "tunnel"}, "cloudflareZoneId", "''", "zone (of hostname) id", id="tunnel-needs-zone"),
    pytest.param({"exposure": "tunnel"}, "hostname", "''", "public DNS name", id="tunnel-needs-hostname"),
    pytest.param({**TUNNEL, "hostname": "192.0.2.1"}, "hostname", "192.0.2.1", "public DNS name", id="tunnel-ip-host"),
    pytest.param(
        {**TUNNEL, "cloudflareAccountId": "acc-1"}, "cloudflareAccountId", "acc-1", "32 hex", id="tunnel-account-id"
    ),
    pytest.param(
        {**TUNNEL, "tunnelSubnet": "8.8.8.0/28"},
        "tunnelSubnet",
        "8.8.8.0/28",
        "private IPv4",
        id="tunnel-subnet-public",
    ),
    pytest.param(
        {**TUNNEL, "tunnelSubnet": "10.1.2.0/30"}, "tunnelSubnet", "10.1.2.0/30", "/16 to /28", id="tunnel-subnet-small"
    ),
    pytest.param(
        {**TUNNEL, "accessEmails": '["nobody"]'}, "accessEmails", "nobody", "an email address", id="tunnel-email"
    ),
    pytest.param({**TUNNEL, "accessServiceToken": "yes"}, "accessServiceToken", "yes", "true or false", id="token"),
    pytest.param(
        {**TUNNEL, "cloudflareRateLimit": "-1"}, "cloudflareRateLimit", "-1", "from 0 to 100000", id="edge-rate-limit"
    ),
    pytest.param(
        {**TUNNEL, "cloudflaredImage": "cloudflare/cloudflared:latest"},
        "cloudflaredImage",
        "latest",
        "not latest",
        id="cloudflared-latest",
    ),
    pytest.param(
        {**TUNNEL, "listenAddress": "127.0.0.1"}, "listenAddress", "127.0.0.1", "no host port", id="tunnel-no-listen"
    ),
    pytest.param({**TUNNEL, "httpsPort": "443"}, "httpsPort", "443", "no host port", id="tunnel-no-port"),
    pytest.param(
        {**TUNNEL, "cloudflareZonePlan": "premium"},
        "cloudflareZonePlan",
        "premium",
        "free or pro or business or enterprise",
        id="tunnel-zone-plan",
    ),
    pytest.param(
        {**TUNNEL, "hostname": "llm.team.example.com", "cloudflareZoneName": "example.com"},
        "hostname",
        "llm.team.example.com",
        "covers example.com and *.example.com only",
        id="tunnel-host-below-universal-ssl",
    ),
    pytest.param(
        {**TUNNEL, "hostname": "llm.example.org", "cloudflareZoneName": "example.com"},
        "hostname",
        "llm.example.org",
        "a name in the zone cloudflareZoneName (example.com)",
        id="tunnel-host-outside-zone",
    ),
    pytest.param(
        {**TUNNEL, "cloudflareZoneName": "com"}, "cloudflareZoneName", "com", "your zone's name", id="tunnel-zone"
    ),
    pytest.param({"litellmWorkers": "0"}, "litellmWorkers", "0", "from 1 to 32", id="workers-none"),
    pytest.param({"banMaxRetry": "-1"}, "banMaxRetry", "-1", "from 0 to 1000", id="ban-retry-negative"),
    pytest.param({"banFindTimeSeconds": "0"}, "banFindTimeSeconds", "0", "from 1 to 86400", id="ban-window-zero"),
    pytest.param(
        {"banTimeSeconds": "1h"}, "banTimeSeconds", "1h", "a whole number from 1 to 31536000", id="ban-time-unit"
    ),
    pytest.param({"banExemptAdmins": "yes"}, "banExemptAdmins", "yes", "true or false", id="ban-exempt-word"),
    pytest.param(
        {"banExemptAdmins": "true"}, "banExemptAdmins", "true", "unless adminCidrs names", id="ban-exempt-nobody"
    ),
    pytest.param(
        {"litellmWorkers": "4"}, "litellmWorkers", "4", "fit litellmMemoryMb (2048)", id="workers-over-memory"
    ),
    pytest.param(
        {"cloudflareZoneId": TUNNEL["cloudflareZoneId"]},
        "cloudflareZoneId",
        TUNNEL["cloudflareZoneId"],
        "unless exposure is tunnel",
        id="tunnel-key-in-local-mode",
    ),
]


@pytest.mark.parametrize(
    "names",
    [
        {},
        {"cloudflareZoneName": "example.com"},
        {"hostname": "example.com", "cloudflareZoneName": "example.com"},
        {"hostname": "llm.team.example.com"},  # the zone's name unknown: not checked
    ],
    ids=["no-zone-name", "one-below", "apex", "unchecked"],
)
def test_names_universal_ssl_covers_are_accepted(names: dict[str, str]) -> None:
    settings = parse_settings({**TUNNEL, **names}, stack="t", secret_keys=NO_SECRETS)
    assert settings.tunnel is not None
    assert settings.tunnel.zone_plan == "free"


@pytest.mark.parametrize(("raw", "key", "value", "allowed"), BAD_CONFIG)
def test_bad_value_names_key_value_and_what_is_allowed(raw: dict[str, str], key: str, value: str, allowed: str) -> None:
    with pytest.raises(SettingsError) as error:
        parse(**raw)
    line = next(line for line in str(error.value).splitlines() if f"llmstack:{key} " in line)
    assert value in line
    assert allowed in line


def test_gpu_device_ids_become_a_docker_device_request() -> None:
    listed = parse_settings({"gpus": "0, 1"}, stack="t", secret_keys=NO_SECRETS).gpus
    assert (listed.docker_gpus, listed.device_ids) == (None, ("0", "1"))
    uuid = "GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a"
    assert parse_settings({"gpus": uuid}, stack="t", secret_keys=NO_SECRETS).gpus.device_ids == (uuid,)
    every = parse_settings({"gpus": "all"}, stack="t", secret_keys=NO_SECRETS).gpus
    assert (every.docker_gpus, every.device_ids) == ("all", ())


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as error:
        parse(exposure="lan", httpsPort="0", nginxImage="nginx")
    message = str(error.value)
    for key in ("listenAddress", "allowedCidrs", "httpsPort", "nginxImage"):
        assert f"llmstack:{key} " in message


def test_a_secret_set_in_plaintext_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as error:
        parse_settings(
            {"tlsSource": "provided", "tlsCertificate": "CERT", "tlsPrivateKey": "TOPSECRETKEY"},
            stack="t",
            secret_keys=frozenset({"tlsCertificate"}),
        )
    assert "pulumi config set --secret tlsPrivateKey" in str(error.value)
    assert "TOPSECRETKEY" not in str(error.value)


def test_lan_mode_publishes_on_the_given_address_for_the_allowed_networks() -> None:
    settings = parse_settings(
        {"exposure": "lan", "listenAddress": "192.168.50.10", "allowedCidrs": '["192.168.50.0/24"]'},
        stack="t",
        secret_keys=NO_SECRETS,
    )
    assert settings.listen_address == "192.168.50.10"
    assert settings.allowed_cidrs == ("192.168.50.0/24",)
    assert settings.endpoint_url == "https://192.168.50.10:8443/v1"
    assert settings.certificate_names == (("localhost",), ("192.168.50.10", "127.0.0.1"))


def test_bad_config_fails_before_any_resource_is_registered(deploy: Callable[..., OfflineRun]) -> None:
    with pytest.raises(ProgramFailedError) as failure:
        deploy(exposure="lan", httpsPort="99999")
    assert isinstance(failure.value.__cause__, SettingsError)
    assert failure.value.registered == []


def test_clients_are_parsed_in_name_order_with_defaults() -> None:
    settings = parse_settings(
        {"clients": '{"zed": {"models": ["qwen2.5-0.5b"], "rpmLimit": 30}, "amy": null, "ops": {"admin": true}}'},
        stack="t",
        secret_keys=NO_SECRETS,
    )
    assert [c.name for c in settings.clients] == ["amy", "ops", "zed"]
    amy, ops, zed = settings.clients
    assert amy.models is None
    assert amy.apis == ("chat", "embeddings", "models")
    assert amy.rpm_limit is None
    assert not amy.admin
    assert ops.admin
    assert zed.models == ("qwen2.5-0.5b",)
    assert zed.rpm_limit == 30


def test_tunnel_mode_publishes_nothing_and_pins_the_connector_address() -> None:
    settings = parse_settings(TUNNEL, stack="t", secret_keys=NO_SECRETS)
    assert settings.endpoint_url == "https://llm.example.com/v1"
    assert settings.listen_address == ""
    assert settings.certificate_names == (("llm.example.com", "localhost"), ("127.0.0.1",))
    tunnel = settings.tunnel
    assert tunnel is not None
    assert (tunnel.subnet.gateway, tunnel.subnet.connector) == ("10.231.53.1", "10.231.53.2")
    assert tunnel.subnet.dynamic_range == "10.231.53.8/29", "Docker must never hand out the connector's address"
    assert not tunnel.access
    assert tunnel.edge_rate_limit == 0


def test_other_modes_have_no_tunnel() -> None:
    assert parse_settings({}, stack="t", secret_keys=NO_SECRETS).tunnel is None


def test_missing_tunnel_config_names_every_key_at_once() -> None:
    with pytest.raises(SettingsError) as error:
        parse(exposure="tunnel")
    message = str(error.value)
    for key in ("cloudflareAccountId", "cloudflareZoneId", "hostname"):
        assert f"llmstack:{key} " in message
