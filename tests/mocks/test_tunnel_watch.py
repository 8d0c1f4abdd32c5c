"""The tunnel watch under Pulumi mocks (test double: `offline.engine`): who gets it, and its wiring."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from components.render.monitoring import JOB_TUNNEL
from components.tunnel import METRICS_ADDRESS
from components.tunnel_watch import WATCH_ALIAS, WATCH_PORT
from offline.engine import OfflineRun, reveal
from tests.support import LAN, TUNNEL

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
Deploy = Callable[..., OfflineRun]


def _containers(result: OfflineRun) -> dict[str, dict[str, Any]]:
    return {c.name: reveal(c.inputs) for c in result.of_type(CONTAINER)}


def _networks(container: dict[str, Any]) -> dict[str, list[str]]:
    return {n["name"]: n.get("aliases") or [] for n in container.get("networksAdvanced") or []}


def _scrape_targets(result: OfflineRun) -> dict[str, list[str]]:
    carrier = reveal(result.named("monitoring-prometheus-files-carrier").inputs)
    (config,) = [u["content"] for u in carrier["uploads"] if u["file"].endswith("/prometheus.yml")]
    jobs = yaml.safe_load(config)["scrape_configs"]
    return {job["job_name"]: job["static_configs"][0]["targets"] for job in jobs}


def test_tunnel_mode_with_monitoring_runs_the_watch_in_cloudflareds_namespace(deploy: Deploy) -> None:
    result = deploy(stack="prod", **TUNNEL)
    watch = reveal(result.named("tunnel-watch").inputs)
    assert watch["name"] == "llmstack-prod-cloudflared-watch"
    # The connector's own namespace (the mocks' id is `<resource>-id`), no network of its own.
    assert watch["networkMode"] == "container:tunnel-container-id"
    assert "networksAdvanced" not in watch
    assert not watch.get("ports")
    # Every child derives its name from the tunnel's and is its child.
    for child in ("tunnel-watch", "tunnel-watch-files", "tunnel-watch-files-carrier", "tunnel-watch-image"):
        assert result.named(child).name.startswith("tunnel-")
    assert result.named("tunnel-watch").parent == "tunnel"
    assert result.named("tunnel-watch-files").parent == "tunnel"
    assert result.named("tunnel-watch-image").parent == "tunnel"
    assert "tunnel-container" in result.named("tunnel-watch").options["dependsOn"]


def test_the_watch_is_confined_like_the_other_nginx_containers(deploy: Deploy) -> None:
    result = deploy(stack="prod", **TUNNEL)
    watch, edge = (reveal(result.named(name).inputs) for name in ("tunnel-watch", "edge-container"))
    for key in ("user", "readOnly", "capabilities", "securityOpts", "ulimits", "logDriver", "logOpts", "restart"):
        assert watch[key] == edge[key], key
    assert watch["user"] == "101:101"
    assert watch["readOnly"] is True
    assert set(watch["tmpfs"]) == {"/tmp"}  # noqa: S108 - the container's tmpfs
    assert watch["capabilities"] == {"drops": ["ALL"]}
    assert 0 < watch["memory"] <= 32
    assert watch["restart"] == "unless-stopped"
    assert watch["volumes"] == [
        {"volumeName": "llmstack-prod-cloudflared-watch-files", "containerPath": "/etc/nginx", "readOnly": True}
    ]


def test_the_watch_passes_only_metrics_to_cloudflareds_loopback(deploy: Deploy) -> None:
    result = deploy(stack="prod", **TUNNEL)
    carrier = reveal(result.named("tunnel-watch-files-carrier").inputs)
    (conf,) = [u["content"] for u in carrier["uploads"] if u["file"] == "/etc/nginx/nginx.conf"]
    assert f"proxy_pass http://{METRICS_ADDRESS};" in conf
    assert conf.count("proxy_pass ") == 1
    assert "location = /metrics" in conf
    assert f"listen {WATCH_PORT} default_server;" in conf
    # cloudflared's metrics server itself stays on loopback.
    command = reveal(result.named("tunnel-container").inputs)["command"]
    assert command[command.index("--metrics") + 1] == METRICS_ADDRESS


def test_cloudflared_and_prometheus_share_the_watch_network_and_nothing_else_joins_it(deploy: Deploy) -> None:
    result = deploy(stack="prod", **TUNNEL)
    network = reveal(result.named("network-tunnel-watch").inputs)
    assert network["name"] == "llmstack-prod-tunnel-watch"
    assert network["internal"] is True
    members = {name for name, c in _containers(result).items() if "llmstack-prod-tunnel-watch" in _networks(c)}
    assert members == {"tunnel-container", "monitoring-prometheus"}
    assert _networks(_containers(result)["tunnel-container"])["llmstack-prod-tunnel-watch"] == [WATCH_ALIAS]
    # cloudflared stays off the monitoring network: LiteLLM answers there, around the edge.
    assert "llmstack-prod-monitoring" not in _networks(_containers(result)["tunnel-container"])
    assert _scrape_targets(result)[JOB_TUNNEL] == [f"{WATCH_ALIAS}:{WATCH_PORT}"]


def test_no_watch_without_monitoring_or_outside_tunnel_mode(deploy: Deploy) -> None:
    for result in (
        deploy(stack="prod", **TUNNEL, monitoring="false"),
        deploy(stack="prod", **LAN),
        deploy(stack="prod"),
    ):
        names = {r.name for r in result.resources}
        assert not {n for n in names if "watch" in n}, names
    for result in (deploy(stack="prod", **LAN), deploy(stack="prod")):
        assert JOB_TUNNEL not in _scrape_targets(result)
    off = _containers(deploy(stack="prod", **TUNNEL, monitoring="false"))["tunnel-container"]
    assert set(_networks(off)) == {"llmstack-prod-tunnel", "llmstack-prod-tunnel-egress"}


def test_paused_tunnel_has_no_watch(deploy: Deploy) -> None:
    names = {r.name for r in deploy(stack="prod", **TUNNEL, paused="true").resources}
    assert "tunnel-container" not in names
    assert "tunnel-watch" not in names
    # Everything else of the watch stays, as for the connector: resuming changes nothing more.
    assert {"tunnel-watch-files", "tunnel-watch-files-carrier", "tunnel-watch-image"} <= names
