"""Replacing LiteLLM the provider's way (delete, then create) while a client keeps calling.

nginx re-resolves `litellm` (resolver 127.0.0.11 + a variable in proxy_pass), so it follows the new
container without a restart; the outage is LiteLLM's start time, measured and reported.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from tests.docker.conftest import MEASURED, Stack
from tests.docker.polling import Poller

ROUNDS = 2
"""Replacements with each start, taking turns: the machine's load drifts, a round's ratio holds."""


def old_start(inputs: dict[str, Any]) -> dict[str, Any]:
    """The container's start before #25, as changes to the rendered inputs.

    LiteLLM's CLI, whose uvicorn spawns workers that each import LiteLLM again. uvicorn kills a
    worker that has not answered its health ping within 5 s, and a worker answers only after that
    import (8-13 s on a loaded 2-core machine): without a longer --timeout_worker_healthcheck this
    start would never become ready here.
    """
    command = [a for a in inputs["command"][1:] if a != "--run_gunicorn"]
    return {"entrypoints": ["litellm"], "command": [*command, "--timeout_worker_healthcheck", "180"]}


def outage(dev: Stack, key: str, changes: dict[str, Any] | None) -> tuple[float, list[int]]:
    """Seconds without a 200 while LiteLLM is replaced (with `changes`), and the answers meanwhile."""
    with Poller(dev, key) as poller:
        assert poller.wait_for(200, after=0, timeout=10), "the stack serves before the replacement"
        replaced_at = time.monotonic()
        dev.applier.replace("gateway-container", changes=changes)
        dev.applier.wait_healthy("gateway-container", 150)
        failures = [(at, status) for at, status in poller.failures() if at >= replaced_at]
        # A request sent before the delete may still come back 200 after it: count from the first failure.
        back = poller.wait_for(200, after=failures[0][0] if failures else replaced_at, timeout=60)
    assert back is not None, "nginx never reached the new LiteLLM container"
    return (back - failures[0][0]) if failures else 0.0, sorted({status for _, status in failures})


def test_nginx_follows_a_replaced_litellm_and_the_outage_is_bounded(dev: Stack) -> None:
    edge_before = dev.applier.inspect("edge-container")
    key = dev.outputs["clients"]["dev"]["apiKey"]
    before = old_start(dev.inputs("gateway-container"))
    outages: dict[str, list[float]] = {"old": [], "rendered": []}
    statuses: dict[str, set[int]] = {"old": set(), "rendered": set()}
    # old, rendered, old, rendered: the stack ends as rendered, for the tests after this one.
    for _ in range(ROUNDS):
        for name, changes in (("old", before), ("rendered", None)):
            seconds, answers = outage(dev, key, changes)
            outages[name].append(seconds)
            statuses[name] |= set(answers)
    ratios = [new / old for old, new in zip(outages["old"], outages["rendered"], strict=True)]
    MEASURED.append(
        f"LiteLLM replacement (delete, create), {ROUNDS} rounds taking turns: outage with the rendered start"
        f" (gunicorn) {_seconds(outages['rendered'])}, with the old start (CLI uvicorn workers)"
        f" {_seconds(outages['old'])}; rendered / old per round {', '.join(f'{r:.2f}' for r in ratios)};"
        f" answers during it: rendered {sorted(statuses['rendered'])}, old {sorted(statuses['old'])}"
    )
    assert max(outages["rendered"]) < 90
    assert statistics.median(ratios) < 1, "the rendered start shortens the outage"
    # The old start is only the baseline: while uvicorn kills and respawns its slow workers the
    # socket accepts and nobody answers, so a client may time out (0). The rendered start may not.
    assert statuses["rendered"] <= {502, 503, 504}, "nginx answers for the missing gateway, and never hangs up"
    edge_after = dev.applier.inspect("edge-container")
    assert edge_after["Id"] == edge_before["Id"]
    assert edge_after["State"]["StartedAt"] == edge_before["State"]["StartedAt"], "nginx was not restarted"


def _seconds(values: list[float]) -> str:
    return "/".join(f"{v:.1f}" for v in values) + " s"


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
