"""`tlsSource: acme`: the keys it needs, and a clear error for each bad one before anything is created."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from components.settings import parse_settings
from components.settings.acme import DIRECTORIES
from components.settings.rules import SettingsError
from offline.engine import OfflineRun, ProgramFailedError

ZONE_ID = "0123456789abcdef0123456789abcdef"
ACME = {
    "exposure": "lan",
    "listenAddress": "192.168.50.10",
    "allowedCidrs": '["192.168.50.0/24"]',
    "hostname": "llm.example.com",
    "tlsSource": "acme",
    "acmeEmail": "ops@example.com",
    "acmeZoneName": "example.com",
    "acmeZoneId": ZONE_ID,
}


def parse(**overrides: str) -> object:
    return parse_settings({**ACME, **overrides}, stack="test", secret_keys=frozenset())


def test_acme_defaults_to_lets_encrypt_production_for_the_hostname() -> None:
    settings = parse_settings(ACME, stack="test", secret_keys=frozenset())
    assert settings.acme is not None
    assert settings.acme.directory == DIRECTORIES["letsencrypt"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert settings.acme.names == ("llm.example.com",)
    assert settings.acme.dns_provider == "cloudflare"
    assert not settings.acme.token_given
    assert settings.acme.image.reference == "goacme/lego:v4.9.1"


def test_staging_a_test_directory_a_wildcard_and_a_given_token_are_accepted() -> None:
    settings = parse_settings(
        {
            **ACME,
            "acmeDirectory": "letsencrypt-staging",
            "acmeNames": '["*.example.com", "example.com"]',
            "acmeZoneId": "",
            "acmeDnsApiToken": "cf-token",
        },
        stack="test",
        secret_keys=frozenset({"acmeDnsApiToken"}),
    )
    assert settings.acme is not None
    assert settings.acme.directory == "https://acme-staging-v02.api.letsencrypt.org/directory"
    assert settings.acme.names == ("*.example.com", "example.com")
    assert settings.acme.token_given
    pebble_url = "https://127.0.0.1:14000/dir"
    pebble = parse_settings({**ACME, "acmeDirectory": pebble_url}, stack="t", secret_keys=frozenset())
    assert pebble.acme is not None
    assert pebble.acme.directory == pebble_url


def test_other_sources_have_no_acme_and_refuse_its_keys() -> None:
    assert parse_settings({}, stack="t", secret_keys=frozenset()).acme is None
    with pytest.raises(SettingsError, match=r"llmstack:acmeEmail = 'a@b.example' .*unset unless tlsSource is acme"):
        parse_settings({"acmeEmail": "a@b.example"}, stack="t", secret_keys=frozenset())


BAD_ACME = [
    pytest.param({"acmeEmail": ""}, "acmeEmail", "''", "contact address", id="no-email"),
    pytest.param({"acmeEmail": "ops"}, "acmeEmail", "'ops'", "contact address", id="bad-email"),
    pytest.param({"acmeZoneName": ""}, "acmeZoneName", "''", "DNS zone", id="no-zone"),
    pytest.param(
        {"hostname": "llm.example.org"}, "hostname", "'llm.example.org'", "a name in the zone", id="host-outside-zone"
    ),
    pytest.param(
        {"acmeNames": '["llm.example.com", "api.other.net"]'},
        "acmeNames",
        "'api.other.net'",
        "in the zone acmeZoneName (example.com)",
        id="name-outside-zone",
    ),
    pytest.param(
        {"acmeNames": '["*.*.example.com"]'}, "acmeNames", "'*.*.example.com'", "leftmost only", id="double-wildcard"
    ),
    pytest.param(
        {"acmeNames": '["llm*.example.com"]'}, "acmeNames", "'llm*.example.com'", "leftmost only", id="partial-wildcard"
    ),
    pytest.param(
        {"acmeNames": '["*.example.com"]', "hostname": "a.b.example.com"},
        "acmeNames",
        "'*.example.com'",
        "cover hostname (a.b.example.com)",
        id="wildcard-one-label-only",
    ),
    pytest.param({"acmeDirectory": "http://acme.example/dir"}, "acmeDirectory", "http://", "https://", id="http-dir"),
    pytest.param(
        {"acmeDirectory": "letsencrypt-prod"}, "acmeDirectory", "'letsencrypt-prod'", "https://", id="dir-name"
    ),
    pytest.param({"acmeDirectory": "https:///dir"}, "acmeDirectory", "'https:///dir'", "https://", id="dir-no-host"),
    pytest.param({"acmeZoneId": ""}, "acmeZoneId", "''", "or set acmeDnsApiToken", id="no-zone-id-no-token"),
    pytest.param({"acmeDnsProvider": "route53"}, "acmeDnsProvider", "'route53'", "cloudflare", id="provider"),
    pytest.param({"acmeImage": "goacme/lego:latest"}, "acmeImage", "latest", "pinned tag", id="image-latest"),
    pytest.param({"hostname": ""}, "hostname", "'192.168.50.10'", "a DNS name, not an address", id="address-as-name"),
]


@pytest.mark.parametrize(("overrides", "key", "value", "allowed"), BAD_ACME)
def test_bad_acme_value_names_key_value_and_what_is_allowed(
    overrides: dict[str, str], key: str, value: str, allowed: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        parse(**overrides)
    line = next((ln for ln in str(raised.value).splitlines() if f"llmstack:{key} = " in ln), None)
    assert line is not None, str(raised.value)
    assert value in line
    assert allowed in line


def test_acme_behind_the_tunnel_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"llmstack:tlsSource = 'acme' .*Cloudflare's certificate"):
        parse_settings(
            {k: v for k, v in ACME.items() if k not in ("listenAddress", "allowedCidrs")} | {"exposure": "tunnel"},
            stack="t",
            secret_keys=frozenset(),
        )


def test_a_plaintext_dns_token_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as raised:
        parse(acmeDnsApiToken="cf-plaintext-token", acmeZoneId="")
    assert "llmstack:acmeDnsApiToken = '(plaintext, not shown)'" in str(raised.value)
    assert "cf-plaintext-token" not in str(raised.value)


def test_bad_acme_config_fails_before_any_resource_is_registered(deploy: Callable[..., OfflineRun]) -> None:
    with pytest.raises(ProgramFailedError, match="acmeEmail"):
        deploy("acme-bad", **{**ACME, "acmeEmail": ""})
