"""Replacing LiteLLM the provider's way (delete, then create) while a client keeps calling.

nginx re-resolves `litellm` (resolver 127.0.0.11 + a variable in proxy_pass), so it follows the new
container without a restart; the outage is LiteLLM's start time, measured and reported.
"""

from __future__ import annotations

import time

from tests.docker.conftest import MEASURED, Stack
from tests.docker.polling import Poller


def test_nginx_follows_a_replaced_litellm_and_the_outage_is_bounded(dev: Stack) -> None:
    edge_before = dev.applier.inspect("edge-container")
    key = dev.outputs["clients"]["dev"]["apiKey"]
    with Poller(dev, key) as poller:
        assert poller.wait_for(200, after=0, timeout=10), "the stack serves before the replacement"
        replaced_at = time.monotonic()
        dev.applier.replace("gateway-container")
        dev.applier.wait_healthy("gateway-container", 150)
        back = poller.wait_for(200, after=replaced_at, timeout=60)
    failures = [(at, status) for at, status in poller.failures() if at >= replaced_at]
    assert back is not None, "nginx never reached the new LiteLLM container"
    outage = (back - failures[0][0]) if failures else 0.0
    statuses = sorted({status for _, status in failures})
    MEASURED.append(f"LiteLLM replacement (delete, create): outage {outage:.1f} s, answers during it: {statuses}")
    assert outage < 90
    assert set(statuses) <= {502, 503, 504}, "nginx answers for the missing gateway, and never hangs up"
    edge_after = dev.applier.inspect("edge-container")
    assert edge_after["Id"] == edge_before["Id"]
    assert edge_after["State"]["StartedAt"] == edge_before["State"]["StartedAt"], "nginx was not restarted"


def test_a_replaced_ollama_delays_or_refuses_requests_and_names_no_address(dev: Stack) -> None:
    # While the container is gone its address does not answer at all, so LiteLLM's connection
    # attempts wait; Docker gives the new container the lowest free address, the same one. While it
    # starts, that address refuses: a 503 naming the model. (tests/live/test_gateway.py has each case.)
    key = dev.outputs["clients"]["dev"]["apiKey"]
    gateway_before = dev.applier.inspect("gateway-container")["State"]["StartedAt"]
    with Poller(dev, key, chat_model="qwen2.5-0.5b") as poller:
        assert poller.wait_for(200, after=0, timeout=10), "the model answers before the replacement"
        replaced_at = time.monotonic()
        dev.applier.replace("ollama-container", gap=3.0)
        dev.applier.wait_healthy("ollama-container", 60)
        back = poller.wait_for(200, after=time.monotonic(), timeout=30)
    during = [status for at, status in poller.results if at >= replaced_at]
    MEASURED.append(
        f"Ollama replacement (delete, 3 s, create): {len(during)} chat answers during it: {sorted(set(during))}"
    )
    assert back is not None, "the model is served again from the kept volume"
    # 502: a request on a pooled connection that Ollama's shutdown closed (aiohttp retries no POST).
    assert set(during) <= {200, 502, 503}, "a request waits, or is told to retry; never a 500 or a hang-up"
    for body in poller.error_bodies:
        assert "The model server for 'qwen2.5-0.5b'" in body
        assert "11434" not in body
    assert dev.applier.inspect("gateway-container")["State"]["StartedAt"] == gateway_before
