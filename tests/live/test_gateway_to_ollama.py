"""How the real LiteLLM, running the rendered dev config, sees and calls the Ollama models.

Ollama is the stand-in. LiteLLM looks every model up in its model map several times per request;
a local tag it cannot find there costs a failed (and so uncached) lookup each time, which was half
of the latency the gateway added (benchmarks/gateway_latency.py prints both configurations).
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

import httpx

from components.render.litellm import NETWORK_ENV
from tests.live.conftest import GATEWAY_ADDRESS, OLLAMA_ADDRESS, Gateway, Rendered
from tests.live.docker_dns import DockerDns
from tests.live.ollama_standin import OllamaStandin

MOVED_OLLAMA_ADDRESS = "127.0.0.32"
DNS_TTL_SECONDS = int(NETWORK_ENV["AIOHTTP_TTL_DNS_CACHE"])

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def gateway_client(timeout: float = 30) -> httpx.Client:
    return httpx.Client(base_url=f"http://{GATEWAY_ADDRESS}:4000", timeout=timeout)


def ask(dev: Rendered, body: dict[str, Any], timeout: float = 30) -> httpx.Response:
    key = {"Authorization": f"Bearer {dev.outputs['clients']['dev']['apiKey']}"}
    with gateway_client(timeout) as client:
        return client.post("/v1/chat/completions", headers=key, json={"model": dev.outputs["models"][0], **body})


def test_litellm_resolves_every_served_model_in_its_model_map(gateway: Gateway, dev: Rendered) -> None:
    admin = {"Authorization": f"Bearer {dev.outputs['masterKey']}"}
    with gateway_client() as client:
        listed = client.get("/v1/model/info", headers=admin).json()["data"]
    assert sorted(entry["model_name"] for entry in listed) == sorted(dev.outputs["models"])
    for entry in listed:
        # `key` and `supported_openai_params` come from LiteLLM's own lookup, not from the config.
        resolved = entry["model_info"]
        assert resolved.get("key") == entry["litellm_params"]["model"].removeprefix("ollama_chat/")
        assert "tools" in resolved.get("supported_openai_params", [])
        assert (resolved.get("input_cost_per_token"), resolved.get("output_cost_per_token")) == (0.0, 0.0)


def test_a_chat_costs_ollama_one_call(gateway: Gateway, dev: Rendered, ollama: OllamaStandin) -> None:
    before = len(ollama.requests)
    for _ in range(3):
        assert ask(dev, {"messages": [{"role": "user", "content": "hi"}]}).status_code == 200
    assert [request["path"] for request in ollama.requests[before:]] == ["/api/chat"] * 3


def test_tools_reach_ollama_as_sent(gateway: Gateway, dev: Rendered, ollama: OllamaStandin) -> None:
    answered = ask(dev, {"messages": [{"role": "user", "content": "Weather in Oslo?"}], "tools": [WEATHER_TOOL]})
    assert answered.status_code == 200
    sent = ollama.requests[-1]["body"]
    assert [tool["function"]["name"] for tool in sent.get("tools", [])] == ["weather"]
    assert sent["tools"][0]["function"]["parameters"] == WEATHER_TOOL["function"]["parameters"]


def test_litellm_follows_ollama_to_a_new_address(
    gateway: Gateway, dev: Rendered, ollama: OllamaStandin, docker_dns: DockerDns
) -> None:
    # As when Docker recreates Ollama's container on another address: nothing answers at the old
    # one (a refusal would make LiteLLM look the name up again at once; silence does not).
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    assert ask(dev, chat).status_code == 200, "LiteLLM has resolved `ollama` to the old address"
    moved = OllamaStandin(MOVED_OLLAMA_ADDRESS, 11434, ollama.models)
    try:
        docker_dns.set("ollama", MOVED_OLLAMA_ADDRESS)
        moved_at = time.monotonic()
        with ollama.stopped(), socket.create_server((OLLAMA_ADDRESS, 11434), backlog=0):  # never accepts
            while not moved.requests and time.monotonic() < moved_at + DNS_TTL_SECONDS + 10:
                with contextlib.suppress(httpx.TimeoutException):
                    ask(dev, chat, timeout=1.5)
            assert moved.requests, "LiteLLM went on calling the old address"
            # Each worker keeps its own cache: once the last could have expired, every request is served.
            time.sleep(max(0.0, moved_at + DNS_TTL_SECONDS + 1 - time.monotonic()))
            assert [ask(dev, chat, timeout=5).status_code for _ in range(4)] == [200] * 4
    finally:
        docker_dns.set("ollama", OLLAMA_ADDRESS)
        time.sleep(DNS_TTL_SECONDS + 1)  # every worker has forgotten the moved address
        moved.close()
