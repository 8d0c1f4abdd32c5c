"""The ACME client's command line and environment: typed context in, exact arguments out.

lego (https://go-acme.github.io/lego) runs `components/shipped/acme/renew.sh`, which calls it with
these global options, then `run` once and `renew --days N` on its own schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.settings.model import DnsProvider

RENEW_DAYS = 30
"""Renew when the certificate enters its last 30 days (Let's Encrypt's own advice for 90-day ones)."""
CHECK_SECONDS = 12 * 3600
"""How often the loop asks lego whether a renewal is due (twice a day, plus up to 10 % jitter)."""
RETRY_SECONDS = 15 * 60
"""After a failed attempt: four a hour stay under Let's Encrypt's five failed validations per hour."""
KEY_TYPE = "ec256"
"""The certificate's key: ECDSA P-256, as the stack's own certificate."""
DNS_TOKEN_ENV = {"cloudflare": "CLOUDFLARE_DNS_API_TOKEN"}
"""Where lego's DNS provider reads its token (one token for zone lookup and DNS edits)."""


@dataclass(frozen=True, kw_only=True)
class AcmeContext:
    """What the ACME container is told."""

    names: tuple[str, ...]
    """Names on the certificate; lego names its files after the first."""
    directory: str
    """ACME directory URL."""
    email: str
    """Account contact."""
    dns_provider: DnsProvider
    """lego's DNS-01 provider code."""
    state_dir: str
    """Where lego keeps the account key and certificates (a volume only the ACME container mounts)."""
    live_file: str
    """The single PEM (key and chain) nginx serves, on the volume nginx mounts read-only."""
    lego_binary: str = "/lego"
    """lego in its image."""


def lego_file_name(name: str) -> str:
    """Lego's file name for a certificate whose first name is `name` (`*` becomes `_`)."""
    return name.replace("*", "_")


def lego_arguments(context: AcmeContext) -> list[str]:
    """Lego's global options: account, directory, DNS-01 provider, key type and every name."""
    arguments = [
        "--accept-tos",
        "--email",
        context.email,
        "--server",
        context.directory,
        "--path",
        context.state_dir,
        "--key-type",
        KEY_TYPE,
        "--dns",
        context.dns_provider,
    ]
    for name in context.names:
        arguments += ["--domains", name]
    return arguments


def loop_environment(context: AcmeContext) -> list[str]:
    """The loop's settings (no secret: the DNS token is added by the component)."""
    return [
        f"LLMSTACK_LEGO={context.lego_binary}",
        f"LLMSTACK_STATE_DIR={context.state_dir}",
        f"LLMSTACK_LIVE_FILE={context.live_file}",
        f"LLMSTACK_CERT_NAME={lego_file_name(context.names[0])}",
        f"LLMSTACK_NAMES={' '.join(context.names)}",
        f"LLMSTACK_DIRECTORY={context.directory}",
        f"LLMSTACK_RENEW_DAYS={RENEW_DAYS}",
        f"LLMSTACK_CHECK_SECONDS={CHECK_SECONDS}",
        f"LLMSTACK_RETRY_SECONDS={RETRY_SECONDS}",
    ]
