"""Compliant resource inputs in wire form, and helpers the policy tests share."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

from offline.engine import OfflineRun
from policy.audit import evaluate
from policy.props import Props, Secret, plain
from policy.rules import RULES_BY_NAME

CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
TUNNEL_CONFIG = "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig"
API_TOKEN = "cloudflare:index/apiToken:ApiToken"
DIGEST = "sha256:" + "ab" * 32
API_KEY = "sk-" + "Q" * 40
Deploy = Callable[..., OfflineRun]

NGINX_CONF = """
http {
    log_format json escape=json '{"path":"$uri"}';
    server {
        listen 8443 ssl http2;
        ssl_protocols TLSv1.3;
        location = /healthz { return 200 '{"status": "ok"}'; }
        location ~ ^/v1/ {
%s
            proxy_pass http://litellm:4000;
        }
        location / { return 404; }
    }
}
"""
ALLOW_LIST = "            allow 192.168.1.0/24;\n            deny all;"


def long_running(**overrides: Any) -> dict[str, Any]:
    """A compliant long-running container in wire form (camelCase keys, numbers as floats)."""
    props: dict[str, Any] = {
        "name": "llmstack-dev-litellm",
        "image": "ghcr.io/berriai/litellm:main-v1.108.7",
        "memory": 2048.0,
        "restart": "unless-stopped",
        "healthcheck": {"tests": ["CMD", "true"], "interval": "15s", "retries": 3.0},
        "logDriver": "json-file",
        "logOpts": {"max-size": "10m", "max-file": "3"},
        "securityOpts": ["no-new-privileges:true"],
        "capabilities": {"drops": ["ALL"]},
        "user": "65534:65534",
        "readOnly": True,
        "tmpfs": {"/tmp": "rw,noexec,nosuid,nodev,size=64m"},  # noqa: S108 - a path inside the container
        "ulimits": [
            {"name": "nofile", "soft": 4096.0, "hard": 4096.0},
            {"name": "nproc", "soft": 512.0, "hard": 512.0},
        ],
        "cpuShares": 1024.0,
        "envs": ["LITELLM_LOG=ERROR", Secret(f"LITELLM_MASTER_KEY={API_KEY}")],
        "uploads": [{"file": "/etc/litellm/config.yaml", "content": "master_key: os.environ/LITELLM_MASTER_KEY\n"}],
    }
    return {**props, **overrides}


def edge(conf: str = NGINX_CONF % "", ip: str | None = "127.0.0.1", **overrides: Any) -> dict[str, Any]:
    """A compliant nginx edge; its uploads are secret as a whole, as the program registers them."""
    port: dict[str, Any] = {"internal": 8443.0, "external": 8443.0, "protocol": "tcp"}
    if ip is not None:
        port["ip"] = ip
    uploads = [
        {"file": "/etc/nginx/nginx.conf", "content": conf},
        {"file": "/etc/nginx/tls/server.key", "content": "-----BEGIN EC PRIVATE KEY-----\nMHc=\n"},
    ]
    nginx = long_running(
        name="llmstack-dev-nginx",
        image="nginx:1.29.3",
        envs=["NGINX_ENTRYPOINT_QUIET_LOGS=1"],
        user="101:101",
        ports=[port],
        uploads=Secret(uploads),
    )
    return {**nginx, **overrides}


def one_shot(**overrides: Any) -> dict[str, Any]:
    """A compliant model pull: runs to completion, no restart, no healthcheck."""
    props: dict[str, Any] = {
        "name": "llmstack-dev-ollama-pull-small",
        "image": "ollama/ollama:0.12.6",
        "mustRun": False,
        "attach": True,
        "restart": "no",
        "memory": 256.0,
        "logDriver": "json-file",
        "logOpts": {"max-size": "10m", "max-file": "3"},
        "securityOpts": ["no-new-privileges:true"],
        "capabilities": {"drops": ["ALL"]},
        # Root with no capability and a read-only root: the exemption one-shot jobs have.
        "user": "0:0",
        "readOnly": True,
        "ulimits": [{"name": "nofile", "soft": 4096.0, "hard": 4096.0}, {"name": "nproc", "soft": 64.0, "hard": 64.0}],
        "cpuShares": 256.0,
    }
    return {**props, **overrides}


def tunnel(*services: str) -> dict[str, Any]:
    """Hand-built inputs of a ZeroTrustTunnelCloudflaredConfig (the program builds none yet)."""
    return {"accountId": "acc", "tunnelId": "tun", "config": {"ingresses": [{"service": s} for s in services]}}


def dns_token(extra_policies: list[dict[str, Any]] | None = None, **change: Any) -> dict[str, Any]:
    """The zone-scoped DNS-01 token the program creates (Zone Read, DNS Write), with `change` in its policy."""
    policy = {
        "effect": "allow",
        "permissionGroups": [{"id": "c8fed203ed3043cba015a93ad1616f1f"}, {"id": "4755a26eedb94da69e1066d98aa820be"}],
        "resources": '{"com.cloudflare.api.account.zone.0123456789abcdef0123456789abcdef": "*"}',
    }
    return {"name": "llmstack-prod-acme-dns01", "policies": [{**policy, **change}, *(extra_policies or [])]}


def violations(rule: str, props: Props, resource_type: str = CONTAINER) -> list[str]:
    return RULES_BY_NAME[rule].check(resource_type, props)


def failing(run: OfflineRun) -> set[str]:
    return {result.rule.name for result in evaluate(run.resources) if not result.passed}


def weakened(run: OfflineRun, name: str, change: Callable[[dict[str, Any]], None]) -> OfflineRun:
    """The run with a deep copy of one resource's wire inputs (what the rules read) changed."""
    resource = run.named(name)
    wire = copy.deepcopy(resource.wire)
    change(wire)
    changed = dataclasses.replace(resource, wire=wire)
    return dataclasses.replace(run, resources=[changed if r is resource else r for r in run.resources])


def engine_view(props: dict[str, Any]) -> dict[str, Any]:
    """Inputs as a policy sees them under the engine: secrets unwrapped, the image an ID."""
    return {**plain(props), "image": DIGEST}
