"""Prometheus alert rules: what pages an operator, as data rendered to a rule file."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from components.render.monitoring import JOB_TUNNEL
from components.shipped.probe.llmstack_probe import CERTIFICATE_EXPIRY, MODEL_PRESENT, MODEL_SERVER_UP

AUTH_FAILURES = 'litellm_proxy_failed_requests_metric_total{exception_status="401"}'
"""Requests LiteLLM refused for a missing, wrong or revoked key (its own counter, by `requested_model`;
no key-derived label: LiteLLM leaves `hashed_api_key` empty on a 401 and llmstack drops it anyway)."""
BANS = "llmstack_bans_total"
"""Addresses banned for repeated failures: the counter #17's bans export (their branch, not this one)."""
REQUESTS = "litellm_proxy_total_requests_metric_total"
"""Every request LiteLLM answered, by client (`api_key_alias`), model and `status_code`."""

AUTH_FAILURE_BURST = 20
"""Failed authentications in 5 minutes, from all addresses, that look like guessing rather than a typo."""
SERVER_ERROR_RATIO = 0.05
"""Share of 5xx answers over 5 minutes past which the service is failing its clients."""
ADMISSION_REJECTIONS = 3
"""503s in 5 minutes (Ollama's queue full, or Ollama unreachable) that mean clients are being turned away."""
CERTIFICATE_WARNING_DAYS = 14
"""Days before the edge certificate's expiry from which the alert fires."""


@dataclass(frozen=True, kw_only=True)
class AlertRulesContext:
    """What the rules depend on."""

    tunnel: bool
    """Whether the stack runs a Cloudflare Tunnel (its rule is left out otherwise)."""


@dataclass(frozen=True, kw_only=True)
class _Rule:
    name: str
    expr: str
    duration: str
    severity: str
    summary: str


def _rules(context: AlertRulesContext) -> list[_Rule]:
    rules = [
        _Rule(
            name="AuthFailureBurst",
            expr=f"sum(increase({AUTH_FAILURES}[5m])) > {AUTH_FAILURE_BURST}",
            duration="0s",
            severity="warning",
            summary=f"More than {AUTH_FAILURE_BURST} failed authentications in 5 minutes: "
            "someone may be guessing keys.",
        ),
        _Rule(
            name="AddressBanned",
            expr=f"sum(increase({BANS}[10m])) > 0",
            duration="0s",
            severity="warning",
            summary="An address was banned for repeated failed authentications.",
        ),
        _Rule(
            name="ServerErrorRate",
            expr=f'sum(rate({REQUESTS}{{status_code=~"5.."}}[5m])) / sum(rate({REQUESTS}[5m])) > {SERVER_ERROR_RATIO}',
            duration="5m",
            severity="critical",
            summary=f"More than {SERVER_ERROR_RATIO:.0%} of requests answered with a 5xx for 5 minutes.",
        ),
        _Rule(
            name="AdmissionQueueSaturated",
            expr=f'sum(increase({REQUESTS}{{status_code="503"}}[5m])) > {ADMISSION_REJECTIONS}',
            duration="2m",
            severity="warning",
            summary="Requests are turned away with 503: Ollama's queue is full (ollamaMaxQueue) or it is down.",
        ),
        _Rule(
            name="ModelServerDown",
            expr=f"{MODEL_SERVER_UP} == 0",
            duration="1m",
            severity="critical",
            summary="Ollama does not answer on the models network.",
        ),
        _Rule(
            name="ModelMissing",
            expr=f"{MODEL_PRESENT} == 0",
            duration="5m",
            severity="critical",
            summary="A configured model is not in Ollama's list: its requests fail.",
        ),
        _Rule(
            name="TargetDown",
            expr="up == 0",
            duration="2m",
            severity="critical",
            summary="A monitored container does not answer Prometheus's scrape.",
        ),
        _Rule(
            name="CertificateExpiresSoon",
            expr=f"{CERTIFICATE_EXPIRY} - time() < {CERTIFICATE_WARNING_DAYS} * 86400",
            duration="0s",
            severity="warning",
            summary=f"The edge's certificate expires within {CERTIFICATE_WARNING_DAYS} days: run `pulumi up` "
            "(self-signed) or provide a new one.",
        ),
    ]
    if context.tunnel:
        rules.append(
            _Rule(
                name="TunnelDown",
                expr=f'max(cloudflared_tunnel_ha_connections) < 1 or absent(up{{job="{JOB_TUNNEL}"}} == 1)',
                duration="2m",
                severity="critical",
                summary="cloudflared holds no connection to Cloudflare, or its metrics do not answer (it is gone): "
                "the stack is unreachable from the Internet.",
            )
        )
    return rules


def alert_rules(context: AlertRulesContext) -> dict[str, object]:
    """The rule file as data."""
    return {
        "groups": [
            {
                "name": "llmstack",
                "rules": [
                    {
                        "alert": rule.name,
                        "expr": rule.expr,
                        "for": rule.duration,
                        "labels": {"severity": rule.severity},
                        "annotations": {"summary": rule.summary},
                    }
                    for rule in _rules(context)
                ],
            }
        ]
    }


def render_alert_rules(context: AlertRulesContext) -> str:
    """The exact rule file text for `context`."""
    return yaml.safe_dump(alert_rules(context), sort_keys=False, default_flow_style=False, width=200)
