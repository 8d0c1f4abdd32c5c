"""Monitoring on the real engine: Prometheus, the nginx exporter and the probe deployed with the stack.

The dev stack with `monitoring: true` (its own name and ports, beside the tier's dev stack): every
target Prometheus scrapes is up over Docker's networks, a request through nginx is counted under
its client's name, and Prometheus answers on the host's 127.0.0.1 only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from offline.engine import OfflineRun
from tests.docker.conftest import Stack, apply_stack, dev_config
from tests.docker.outside_host import OutsideHost

PROMETHEUS = "http://127.0.0.1:9091"
CONFIG = {"monitoring": True, "httpsPort": 8447, "prometheusPort": 9091}


@pytest.fixture(scope="module")
def watched(engine: str, render_stack: Callable[..., OfflineRun]) -> Iterator[Stack]:
    stack = apply_stack(render_stack("dockermon", **{**dev_config(), **CONFIG}))
    yield stack
    stack.applier.destroy()
    stack.applier.close()


def _query(expression: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{PROMETHEUS}/api/v1/query", params={"query": expression}, timeout=10)
    answer.raise_for_status()
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def _until(expression: str, done: Callable[[list[dict[str, Any]]], bool], seconds: float = 90) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    result = _query(expression)
    while not done(result) and time.monotonic() < deadline:
        time.sleep(2)
        result = _query(expression)
    return result


def test_every_target_is_up_over_dockers_networks(watched: Stack) -> None:
    up = _until("up", lambda r: len(r) == 4 and all(s["value"][1] == "1" for s in r))
    assert {s["metric"]["job"]: s["value"][1] for s in up} == {
        "prometheus": "1",
        "nginx": "1",
        "litellm": "1",
        "model-server": "1",
    }, httpx.get(f"{PROMETHEUS}/api/v1/targets", timeout=10).json()


def test_a_request_is_counted_under_its_client(watched: Stack) -> None:
    key = watched.outputs["clients"]["dev"]["apiKey"]
    body = {"model": "qwen2.5-0.5b", "messages": [{"role": "user", "content": "hi"}]}
    with watched.client() as client:
        answer = client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, json=body)
    assert answer.status_code == 200
    query = "sum by (api_key_alias, requested_model, status_code) (litellm_proxy_total_requests_metric_total)"
    counted = _until(query, lambda r: len(r) > 0)
    assert [(s["metric"], s["value"][1]) for s in counted] == [
        ({"api_key_alias": "dev", "requested_model": "qwen2.5-0.5b", "status_code": "200"}, "1")
    ]
    assert _query("llmstack_model_present")[0]["value"][1] == "1"


def test_prometheus_is_published_on_loopback_only(watched: Stack) -> None:
    bindings = watched.applier.inspect("monitoring-prometheus")["HostConfig"]["PortBindings"]
    assert bindings == {"9090/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9091"}]}


def test_no_monitoring_container_reaches_the_outside_host(watched: Stack, outside: OutsideHost) -> None:
    """Prometheus is published through a bridge without NAT out; the exporter and probe are internal only.

    Alertmanager (only with a receiver, not here) has its own way out by design.
    """
    watching = [name for name in watched.serving() if name.startswith("monitoring-")]
    assert "monitoring-prometheus" in watching, watching
    accepted = len(outside.peers())
    for name in watching:
        result = outside.connect_from(watched.applier.inspect(name)["State"]["Pid"])
        assert result != "connected", f"{name}: {result}"
    assert len(outside.peers()) == accepted
