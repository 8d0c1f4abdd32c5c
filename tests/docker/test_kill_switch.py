"""The kill switch on the real engine: `paused: true` then `false`, applied as `pulumi up` applies them.

Paused, the API port refuses connections and no edge container exists; Ollama, its volume and the
models are untouched. Unpaused, the same client key works again, with the model it had.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import httpx
import pytest

from offline.engine import OfflineRun
from tests.docker.conftest import HEALTHY_WITHIN, Stack, dev_config
from tests.docker.images import DOCKER

CHAT = {"model": "qwen2.5-0.5b", "messages": [{"role": "user", "content": "hi"}]}


def _chat(dev: Stack, key: str) -> int:
    with dev.client() as client:
        return client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, json=CHAT).status_code


def _volume_exists(name: str) -> bool:
    return subprocess.run([DOCKER, "volume", "inspect", name], capture_output=True, check=False).returncode == 0


def test_paused_takes_the_edge_off_the_network_and_unpaused_serves_the_same_keys(
    dev: Stack, render_stack: Callable[..., OfflineRun]
) -> None:
    key = dev.outputs["clients"]["dev"]["apiKey"]
    volume = str(dev.inputs("ollama-models")["name"])
    kept = {name: dev.applier.inspect(name)["State"]["StartedAt"] for name in ("ollama-container", "gateway-container")}
    assert _chat(dev, key) == 200

    paused = render_stack("dev", **{**dev_config(), "paused": "true"})
    resumed = render_stack("dev", **dev_config())
    try:
        assert dev.applier.update(paused) == []
        edge = dev.container_name("edge-container")
        gone = subprocess.run([DOCKER, "inspect", edge], capture_output=True, check=False)
        assert gone.returncode != 0, "no nginx container while paused"
        with pytest.raises(httpx.ConnectError):
            _chat(dev, key)
        assert _volume_exists(volume)
        assert {name: dev.applier.inspect(name)["State"]["StartedAt"] for name in kept} == kept
    finally:
        dev.applier.update(resumed)
        dev.applier.wait_healthy("edge-container", HEALTHY_WITHIN)
    assert _chat(dev, key) == 200, "the same key and model answer again"
    assert {name: dev.applier.inspect(name)["State"]["StartedAt"] for name in kept} == kept
