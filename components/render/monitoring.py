"""Prometheus's prometheus.yml and Alertmanager's alertmanager.yml: typed context in, exact YAML out."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

SCRAPE_INTERVAL_SECONDS = 15
"""How often every target is scraped and every rule evaluated: a burst of failures is seen within it."""

JOB_PROMETHEUS = "prometheus"
JOB_NGINX = "nginx"
JOB_GATEWAY = "litellm"
JOB_MODEL_SERVER = "model-server"
JOB_TUNNEL = "tunnel"


@dataclass(frozen=True, kw_only=True)
class PrometheusContext:
    """Everything prometheus.yml depends on: where each target answers on the monitoring network."""

    self_target: str
    """Prometheus's own `host:port`, scraped for its health."""
    nginx_exporter_target: str
    """The nginx exporter's `host:port`."""
    gateway_target: str
    """LiteLLM's `host:port`; its `/metrics` sums every worker's samples."""
    probe_target: str
    """The model-server probe's `host:port` (Ollama's state and the edge certificate's expiry)."""
    tunnel_target: str | None
    """cloudflared's metrics `host:port` in tunnel mode; None otherwise."""
    alertmanager_target: str | None
    """Alertmanager's `host:port`, when alerts have a receiver; None: rules are evaluated, not sent."""
    rule_files: tuple[str, ...]
    """Rule files, relative to prometheus.yml's directory (where Prometheus resolves them)."""


def prometheus_config(context: PrometheusContext) -> dict[str, object]:
    """prometheus.yml as data."""
    jobs = [
        (JOB_PROMETHEUS, context.self_target),
        (JOB_NGINX, context.nginx_exporter_target),
        (JOB_GATEWAY, context.gateway_target),
        (JOB_MODEL_SERVER, context.probe_target),
    ]
    if context.tunnel_target is not None:
        jobs.append((JOB_TUNNEL, context.tunnel_target))
    config: dict[str, object] = {
        "global": {
            "scrape_interval": f"{SCRAPE_INTERVAL_SECONDS}s",
            "evaluation_interval": f"{SCRAPE_INTERVAL_SECONDS}s",
            "scrape_timeout": "10s",
        },
        "rule_files": list(context.rule_files),
        "scrape_configs": [
            {
                "job_name": job,
                "metrics_path": "/metrics",
                # A target that floods labels cannot take the whole memory limit with it.
                "sample_limit": 20000,
                "label_limit": 30,
                "static_configs": [{"targets": [target]}],
            }
            for job, target in jobs
        ],
    }
    if context.alertmanager_target is not None:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [context.alertmanager_target]}]}]}
    return config


def render_prometheus_config(context: PrometheusContext) -> str:
    """The exact prometheus.yml text for `context`."""
    return yaml.safe_dump(prometheus_config(context), sort_keys=False, default_flow_style=False)


@dataclass(frozen=True, kw_only=True)
class EmailReceiver:
    """Alert mail through an SMTP server that must offer STARTTLS."""

    to: str
    """Recipient."""
    sender: str
    """From address."""
    smarthost: str
    """`host:port` of the SMTP server."""
    username: str
    """Login; empty: none."""
    password: str
    """The login's password (secret: the rendered file is secret as a whole)."""


@dataclass(frozen=True, kw_only=True)
class AlertmanagerContext:
    """Everything alertmanager.yml depends on. It carries credentials: render it inside a secret Output."""

    webhook_url: str | None
    """Where alerts are POSTed in Alertmanager's webhook format; None: no webhook."""
    email: EmailReceiver | None
    """Alert mail; None: no mail."""


RECEIVER = "llmstack"


def alertmanager_config(context: AlertmanagerContext) -> dict[str, object]:
    """alertmanager.yml as data: one receiver with every configured destination; resolved alerts too."""
    receiver: dict[str, object] = {"name": RECEIVER}
    if context.webhook_url is not None:
        receiver["webhook_configs"] = [{"url": context.webhook_url, "send_resolved": True}]
    if context.email is not None:
        email = context.email
        mail: dict[str, object] = {
            "to": email.to,
            "from": email.sender,
            "smarthost": email.smarthost,
            "require_tls": True,
            "send_resolved": True,
        }
        if email.username:
            mail["auth_username"] = email.username
            mail["auth_password"] = email.password
        receiver["email_configs"] = [mail]
    return {
        "route": {
            "receiver": RECEIVER,
            "group_by": ["alertname"],
            # A first alert goes out within seconds; repeats of a still-firing one every 4 h.
            "group_wait": "10s",
            "group_interval": "5m",
            "repeat_interval": "4h",
        },
        "receivers": [receiver],
    }


def render_alertmanager_config(context: AlertmanagerContext) -> str:
    """The exact alertmanager.yml text for `context`."""
    return yaml.safe_dump(alertmanager_config(context), sort_keys=False, default_flow_style=False)
