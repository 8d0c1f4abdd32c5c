"""The monitoring keys: Prometheus's bounds, its network, and where alerts go."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from components.settings.model import (
    AlertReceivers,
    ContainerLimits,
    MonitoringSettings,
    MonitoringSubnet,
    TunnelSubnet,
)
from components.settings.rules import RawConfig

ALERT_SECRET_KEYS = ("alertWebhookUrl", "alertSmtpPassword")
"""Secrets of the alert receivers: set with `--secret`, read as Outputs by `load_settings`."""
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_SMTP_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?:[0-9]{1,5}$", re.IGNORECASE)


def parse_monitoring(
    raw: RawConfig, raw_values: Mapping[str, str], secret_keys: frozenset[str], tunnel_subnet: TunnelSubnet | None
) -> MonitoringSettings | None:
    """The monitoring settings, or None when `monitoring` is false (its other keys are then ignored)."""
    if not raw.boolean("monitoring"):
        return None
    return MonitoringSettings(
        subnet=_subnet(raw, tunnel_subnet),
        prometheus_image=raw.image("prometheusImage"),
        alertmanager_image=raw.image("alertmanagerImage"),
        nginx_exporter_image=raw.image("nginxExporterImage"),
        port=raw.integer("prometheusPort", 1, 65535),
        retention_days=raw.integer("prometheusRetentionDays", 1, 3650),
        retention_mb=raw.integer("prometheusRetentionMb", 64, 1048576),
        prometheus_limits=ContainerLimits(memory_mb=raw.integer("prometheusMemoryMb", 128, 65536)),
        receivers=_receivers(raw, raw_values, secret_keys),
    )


def _subnet(raw: RawConfig, tunnel_subnet: TunnelSubnet | None) -> MonitoringSubnet:
    value = raw.text("monitoringSubnet")
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        network = None
    if not isinstance(network, ipaddress.IPv4Network) or not network.is_private or not 16 <= network.prefixlen <= 28:
        raw.errors.add(
            "monitoringSubnet", value, "a private IPv4 network from /16 to /28 without host bits, e.g. 10.231.54.0/27"
        )
        return MonitoringSubnet(cidr="10.231.54.0/27")  # never used: the error stops the run
    if tunnel_subnet is not None and network.overlaps(ipaddress.ip_network(tunnel_subnet.cidr)):
        allowed = f"a network that does not overlap tunnelSubnet ({tunnel_subnet.cidr})"
        raw.errors.add("monitoringSubnet", value, allowed)
    return MonitoringSubnet(cidr=str(network))


def _receivers(raw: RawConfig, raw_values: Mapping[str, str], secret_keys: frozenset[str]) -> AlertReceivers:
    for key in ALERT_SECRET_KEYS:
        if key in raw_values and key not in secret_keys:
            raw.errors.add(key, "(plaintext, not shown)", f"an encrypted value: `pulumi config set --secret {key}`")
    receivers = AlertReceivers(
        webhook="alertWebhookUrl" in raw_values,
        email_to=raw.text("alertEmailTo"),
        email_from=raw.text("alertEmailFrom"),
        smtp_host=raw.text("alertSmtpHost"),
        smtp_user=raw.text("alertSmtpUser"),
    )
    if receivers.email_to:
        _check_email(raw, receivers, password="alertSmtpPassword" in raw_values)
    return receivers


def _check_email(raw: RawConfig, receivers: AlertReceivers, *, password: bool) -> None:
    """Mail needs a recipient, a sender and a server; a login needs its password and vice versa."""
    for key, value in (("alertEmailTo", receivers.email_to), ("alertEmailFrom", receivers.email_from)):
        if not _EMAIL.match(value):
            raw.errors.add(key, value, "an email address, e.g. ops@example.com (alert mail is on: alertEmailTo is set)")
    if not _SMTP_HOST.match(receivers.smtp_host) or not 1 <= int(receivers.smtp_host.rpartition(":")[2] or 0) <= 65535:
        raw.errors.add("alertSmtpHost", receivers.smtp_host, "host:port of an SMTP server, e.g. smtp.example.com:587")
    if bool(receivers.smtp_user) != password:
        raw.errors.add(
            "alertSmtpUser",
            receivers.smtp_user,
            "set together with the secret alertSmtpPassword (both, or neither for a server without login)",
        )
