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
