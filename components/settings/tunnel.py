"""Parsing the Cloudflare Tunnel keys: required in tunnel mode, refused in the other modes."""

from __future__ import annotations

import ipaddress
import re

from components.settings.model import ContainerLimits, Exposure, TunnelSettings, TunnelSubnet, ZonePlan
from components.settings.rules import RawConfig

TUNNEL_ONLY_KEYS = (
    "cloudflareAccountId",
    "cloudflareZoneId",
    "cloudflaredImage",
    "tunnelSubnet",
    "cloudflaredMemoryMb",
    "accessEmails",
    "accessServiceToken",
    "cloudflareRateLimit",
    "cloudflareZonePlan",
    "cloudflareZoneName",
)
"""Keys that configure the tunnel: a value set in another mode would silently do nothing."""

PUBLISH_KEYS = ("listenAddress", "httpsPort")
"""Keys of the published port, which tunnel mode does not have."""

_CLOUDFLARE_ID = re.compile(r"^[0-9a-f]{32}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def parse_tunnel(raw: RawConfig, exposure: Exposure, hostname: str) -> TunnelSettings | None:
    """The tunnel settings in tunnel mode (every missing or bad key reported), else None."""
    if exposure != "tunnel":
        for key in TUNNEL_ONLY_KEYS:
            value = raw.raw_value(key)
            if value is not None:
                raw.errors.add(key, value, "unset unless exposure is tunnel (it configures the Cloudflare Tunnel)")
        return None
    for key in PUBLISH_KEYS:
        value = raw.raw_value(key)
        if value is not None:
            raw.errors.add(
                key, value, "unset in tunnel mode: nginx publishes no host port, clients use https://<hostname>/v1"
            )
    _check_public_hostname(raw, hostname)
    _check_certificate_coverage(raw, hostname)
    zone_plan: ZonePlan = raw.choice("cloudflareZonePlan", ("free", "pro", "business", "enterprise"))
    return TunnelSettings(
        account_id=_cloudflare_id(raw, "cloudflareAccountId", "account"),
        zone_id=_cloudflare_id(raw, "cloudflareZoneId", "zone (of hostname)"),
        image=raw.image("cloudflaredImage"),
        subnet=_subnet(raw),
        limits=ContainerLimits(memory_mb=raw.integer("cloudflaredMemoryMb", 64, 65536)),
        access_emails=_emails(raw),
        access_service_token=raw.boolean("accessServiceToken"),
        edge_rate_limit=raw.integer("cloudflareRateLimit", 0, 100000),
        zone_plan=zone_plan,
    )


def _check_public_hostname(raw: RawConfig, hostname: str) -> None:
    if not hostname:
        raw.errors.add("hostname", "", "in tunnel mode, the public DNS name in your Cloudflare zone")
        return
    try:
        ipaddress.ip_address(hostname)
        is_address = True
    except ValueError:
        is_address = False
    if is_address or "." not in hostname or hostname.endswith(".localhost"):
        raw.errors.add("hostname", hostname, "in tunnel mode, a public DNS name in your Cloudflare zone")


def _check_certificate_coverage(raw: RawConfig, hostname: str) -> None:
    """With the zone's name known, the hostname must be one Universal SSL covers: the zone or `*.zone`."""
    zone = raw.hostname("cloudflareZoneName").rstrip(".")
    if not zone or not hostname:
        return
    if "." not in zone:
        raw.errors.add("cloudflareZoneName", zone, "empty or your zone's name, e.g. example.com")
    elif hostname != zone and not hostname.endswith("." + zone):
        raw.errors.add("hostname", hostname, f"a name in the zone cloudflareZoneName ({zone}), e.g. llm.{zone}")
    elif hostname.count(".") > zone.count(".") + 1:
        raw.errors.add(
            "hostname",
            hostname,
            f"{zone} or one label below it (e.g. llm.{zone}): Cloudflare's Universal SSL certificate "
            f"covers {zone} and *.{zone} only, so deeper names would need an Advanced Certificate",
        )


def _cloudflare_id(raw: RawConfig, key: str, what: str) -> str:
    value = raw.text(key).lower()
    if not value:
        raw.errors.add(key, "", f"your Cloudflare {what} id (32 hex characters, dashboard → Overview) in tunnel mode")
    elif not _CLOUDFLARE_ID.match(value):
        raw.errors.add(key, value, f"a Cloudflare {what} id: 32 hex characters")
    return value


def _subnet(raw: RawConfig) -> TunnelSubnet:
    value = raw.text("tunnelSubnet")
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        network = None
    if not isinstance(network, ipaddress.IPv4Network) or not network.is_private or not 16 <= network.prefixlen <= 28:
        raw.errors.add(
            "tunnelSubnet", value, "a private IPv4 network from /16 to /28 without host bits, e.g. 10.231.53.0/28"
        )
        return TunnelSubnet(cidr="10.231.53.0/28")  # never used: the error stops the run
    return TunnelSubnet(cidr=str(network))


def _emails(raw: RawConfig) -> tuple[str, ...]:
    emails = raw.string_list("accessEmails")
    for email in emails:
        if not _EMAIL.match(email):
            raw.errors.add("accessEmails", email, "an email address, e.g. you@example.com")
    return tuple(e.lower() for e in emails)
