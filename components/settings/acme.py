"""Parsing the `tlsSource: acme` keys: required with acme, refused with any other source."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from components.settings.model import AcmeSettings, DnsProvider, Exposure, TlsSource
from components.settings.rules import RawConfig

ACME_ONLY_KEYS = (
    "acmeEmail",
    "acmeDirectory",
    "acmeNames",
    "acmeZoneName",
    "acmeZoneId",
    "acmeDnsProvider",
    "acmeImage",
)
"""Keys that configure the ACME client: a value set with another tlsSource would silently do nothing."""

TOKEN_KEY = "acmeDnsApiToken"  # noqa: S105 - a config key's name, not a secret
DIRECTORIES = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
"""Directory names one may write instead of a URL."""

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_CLOUDFLARE_ID = re.compile(r"^[0-9a-f]{32}$")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def parse_acme(
    raw: RawConfig, source: TlsSource, exposure: Exposure, hostname: str, secret_keys: frozenset[str]
) -> AcmeSettings | None:
    """The ACME settings with `tlsSource: acme` (every missing or bad key reported), else None."""
    if source != "acme":
        for key in (*ACME_ONLY_KEYS, TOKEN_KEY):
            value = raw.raw_value(key)
            if value is not None:
                shown = "[secret]" if key == TOKEN_KEY else value
                raw.errors.add(key, shown, "unset unless tlsSource is acme (it configures the ACME client)")
        return None
    if exposure == "tunnel":
        raw.errors.add(
            "tlsSource", "acme", "self-signed or provided in tunnel mode: clients meet Cloudflare's certificate there"
        )
    zone = _zone(raw)
    names = _names(raw, zone, hostname)
    token_given = raw.raw_value(TOKEN_KEY) is not None
    if token_given and TOKEN_KEY not in secret_keys:
        raw.errors.add(
            TOKEN_KEY, "(plaintext, not shown)", f"an encrypted value: `pulumi config set --secret {TOKEN_KEY}`"
        )
    dns_provider: DnsProvider = raw.choice("acmeDnsProvider", ("cloudflare",))
    return AcmeSettings(
        names=names,
        directory=_directory(raw),
        email=_email(raw),
        dns_provider=dns_provider,
        zone_name=zone,
        zone_id=_zone_id(raw, token_given),
        token_given=token_given,
        image=raw.image("acmeImage"),
    )


def _zone(raw: RawConfig) -> str:
    zone = raw.hostname("acmeZoneName").rstrip(".")
    if not zone or "." not in zone:
        raw.errors.add("acmeZoneName", zone, "the DNS zone your names lie in, e.g. example.com (tlsSource acme)")
    return zone


def _names(raw: RawConfig, zone: str, hostname: str) -> tuple[str, ...]:
    """AcmeNames (or hostname alone), each a name in the zone; the hostname must be covered."""
    names = tuple(n.strip().lower().rstrip(".") for n in raw.string_list("acmeNames")) or (hostname,)
    for name in names:
        problem = _name_problem(name, zone)
        if problem:
            raw.errors.add("acmeNames" if raw.raw_value("acmeNames") else "hostname", name, problem)
    if names and not any(_covers(name, hostname) for name in names):
        raw.errors.add("acmeNames", ",".join(names), f"names that cover hostname ({hostname}), which clients use")
    return tuple(dict.fromkeys(names))


def _name_problem(name: str, zone: str) -> str:
    """What is wrong with certificate name `name`, or '' when it is fine."""
    bare = name.removeprefix("*.")
    if _is_address(bare):
        return "a DNS name, not an address: set hostname to the name clients use"
    if "*" in bare or not all(_LABEL.match(label) for label in bare.split(".")):
        return "a DNS name, or '*.' followed by one (a wildcard covers one label, leftmost only)"
    if zone and bare != zone and not bare.endswith("." + zone):
        return f"a name in the zone acmeZoneName ({zone}): DNS-01 writes its TXT record there"
    if "." not in bare:
        return "a public DNS name (a single label cannot get a publicly trusted certificate)"
    return ""


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _covers(name: str, hostname: str) -> bool:
    if name.startswith("*."):
        return hostname.count(".") == name.count(".") and hostname.endswith(name[1:])
    return name == hostname


def _directory(raw: RawConfig) -> str:
    value = raw.text("acmeDirectory")
    if value in DIRECTORIES:
        return DIRECTORIES[value]
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value) or parts.query:
        raw.errors.add("acmeDirectory", value, "letsencrypt, letsencrypt-staging or an https:// ACME directory URL")
    return value


def _email(raw: RawConfig) -> str:
    value = raw.text("acmeEmail").strip()
    if not _EMAIL.match(value):
        raw.errors.add("acmeEmail", value, "the ACME account's contact address, e.g. you@example.com (tlsSource acme)")
    return value


def _zone_id(raw: RawConfig, token_given: bool) -> str:
    value = raw.text("acmeZoneId").lower()
    if token_given:
        if value:
            raw.errors.add("acmeZoneId", value, f"empty when {TOKEN_KEY} is given (the stack then creates no token)")
        return ""
    if not _CLOUDFLARE_ID.match(value):
        raw.errors.add(
            "acmeZoneId",
            value,
            f"the Cloudflare zone's id (32 hex) so the stack can create a DNS-only token, or set {TOKEN_KEY}",
        )
    return value
