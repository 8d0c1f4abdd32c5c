"""Zero-downtime client- and master-key rotation in the real LiteLLM, delivered the way the stack delivers it.

A third LiteLLM runs a two-client stack. While `streamer` streams, `rotated`'s key is rotated by
running the key writer of the re-rendered stack (exactly what `pulumi up` runs after an epoch
change): the stream completes, the new key works, the old key stops (at once, or at the end of
the grace window), and the LiteLLM process is the same throughout.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from components.shipped.litellm.llmstack_contract import MASTER_KEY_ENV
from tests.live.conftest import Gateway, Rendered, running_gateway
from tests.live.ollama_standin import REPLY_WORDS, OllamaStandin

ADDRESS = "127.0.0.23"
CLIENTS: dict[str, Any] = {"streamer": {}, "rotated": {}}
CHAT = {"model": "qwen2.5-0.5b", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def before(render: Callable[..., Rendered]) -> Rendered:
    return render("rotation-before", clients=CLIENTS)


@pytest.fixture(scope="module")
def litellm(before: Rendered, ollama: OllamaStandin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(before, ADDRESS, tmp_path_factory.mktemp("litellm-rotation")) as running:
        yield running


@pytest.fixture
def direct(litellm: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{ADDRESS}:4000", timeout=30) as client:
        yield client
    litellm.deliver_keys()  # back to the state before the rotation


def status(client: httpx.Client, key: str) -> int:
    return client.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code


def test_rotating_one_client_while_another_streams(
    direct: httpx.Client, litellm: Gateway, before: Rendered, ollama: OllamaStandin, render: Callable[..., Rendered]
) -> None:
    after = render("rotation-now", clients={**CLIENTS, "rotated": {"epoch": "2"}})
    old_key = before.outputs["clients"]["rotated"]["apiKey"]
    new_key = after.outputs["clients"]["rotated"]["apiKey"]
    assert old_key != new_key
    streamer = {"Authorization": f"Bearer {before.outputs['clients']['streamer']['apiKey']}"}
    pid = litellm.process.pid
    received: list[str] = []

    def stream() -> None:
        with direct.stream("POST", "/v1/chat/completions", headers=streamer, json={**CHAT, "stream": True}) as response:
            received.extend(line for line in response.iter_lines() if line.startswith("data: {"))

    ollama.chunk_delay = 0.3
    try:
        streaming = threading.Thread(target=stream)
        streaming.start()
        time.sleep(0.5)  # the stream is under way
        litellm.deliver_keys(after)
        assert status(direct, new_key) == 200
        assert status(direct, old_key) == 401
        streaming.join(timeout=15)
    finally:
        ollama.chunk_delay = 0.0
    assert len(received) >= len(REPLY_WORDS), "the stream completed across the rotation"
    assert status(direct, after.outputs["clients"]["streamer"]["apiKey"]) == 200
    assert litellm.process.pid == pid
    assert litellm.process.poll() is None


def test_a_grace_window_keeps_the_old_key_until_its_end(
    direct: httpx.Client, litellm: Gateway, before: Rendered, render: Callable[..., Rendered]
) -> None:
    until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=3)
    rotated = {"epoch": "3", "previousEpoch": "0", "previousValidUntil": until.isoformat()}
    after = render("rotation-grace", clients={**CLIENTS, "rotated": rotated})
    old_key = before.outputs["clients"]["rotated"]["apiKey"]
    litellm.deliver_keys(after)
    assert status(direct, after.outputs["clients"]["rotated"]["apiKey"]) == 200
    assert status(direct, old_key) == 200, "inside the grace window"
    time.sleep(max(0.0, until.timestamp() - time.time()) + 0.5)
    assert status(direct, old_key) == 401, "after the grace window, with no further deploy"


def test_rotating_the_master_key_while_a_client_streams(
    direct: httpx.Client, litellm: Gateway, before: Rendered, ollama: OllamaStandin, render: Callable[..., Rendered]
) -> None:
    after = render("rotation-master", clients=CLIENTS, masterKeyEpoch="2")
    old_master, new_master = before.outputs["masterKey"], after.outputs["masterKey"]
    assert old_master != new_master
    assert before.env("gateway-container") == after.env("gateway-container"), "LiteLLM's container is unchanged"
    streamer = {"Authorization": f"Bearer {before.outputs['clients']['streamer']['apiKey']}"}
    pid = litellm.process.pid
    received: list[str] = []

    def stream() -> None:
        with direct.stream("POST", "/v1/chat/completions", headers=streamer, json={**CHAT, "stream": True}) as response:
            received.extend(line for line in response.iter_lines() if line.startswith("data: {"))

    assert direct.get("/model/info", headers={"Authorization": f"Bearer {old_master}"}).status_code == 200
    ollama.chunk_delay = 0.3
    try:
        streaming = threading.Thread(target=stream)
        streaming.start()
        time.sleep(0.5)
        litellm.deliver_keys(after)
        assert direct.get("/model/info", headers={"Authorization": f"Bearer {new_master}"}).status_code == 200
        assert status(direct, old_master) == 401
        streaming.join(timeout=15)
    finally:
        ollama.chunk_delay = 0.0
    assert len(received) >= len(REPLY_WORDS), "the stream completed across the rotation"
    assert litellm.process.pid == pid


def test_litellms_own_boot_key_opens_nothing(direct: httpx.Client, before: Rendered) -> None:
    boot_key = before.env("gateway-container")[MASTER_KEY_ENV]
    assert boot_key != before.outputs["masterKey"]
    assert status(direct, boot_key) == 401
    assert direct.get("/model/info", headers={"Authorization": f"Bearer {boot_key}"}).status_code == 401
