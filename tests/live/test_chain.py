"""The full chain with the official `openai` client: real nginx → real LiteLLM → Ollama stand-in."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.live.conftest import Rendered
from tests.live.ollama_stub import REPLY_WORDS, OllamaStub

MODEL = "qwen2.5-0.5b"


@pytest.fixture
def client(edge: str, dev: Rendered, trust: ssl.SSLContext) -> Iterator[openai.OpenAI]:
    """What a user configures: base URL, API key and the stack's CA certificate."""
    http_client = openai.DefaultHttpxClient(verify=trust)
    yield openai.OpenAI(base_url=edge, api_key=dev.result.outputs["apiKey"], http_client=http_client, max_retries=0)
    http_client.close()


def test_completion_through_the_edge(client: openai.OpenAI, ollama: OllamaStub) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "".join(REPLY_WORDS)
    assert ollama.requests[-1]["body"]["model"] == "qwen2.5:0.5b"


def test_model_list_shows_the_served_names(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == [MODEL]


def test_stream_arrives_chunk_by_chunk(client: openai.OpenAI, ollama: OllamaStub) -> None:
    ollama.chunk_delay = 0.3
    try:
        started = time.monotonic()
        arrivals = []
        stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append(time.monotonic() - started)
    finally:
        ollama.chunk_delay = 0.0
    assert len(arrivals) == len(REPLY_WORDS)
    # Buffering anywhere in the chain would deliver every chunk together at the end.
    assert arrivals[-1] - arrivals[0] > 0.3 * (len(REPLY_WORDS) - 2)


def test_a_wrong_key_is_refused(edge: str, trust: ssl.SSLContext) -> None:
    http_client = openai.DefaultHttpxClient(verify=trust)
    wrong = openai.OpenAI(base_url=edge, api_key="sk-not-the-key", http_client=http_client, max_retries=0)
    with pytest.raises(openai.APIStatusError) as refused:
        wrong.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code in (400, 401)  # LiteLLM without a database answers 400
    http_client.close()


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/routes",
        "/openapi.json",
        "/ui/",
        "/health",
        "/health/liveliness",
        "/key/generate",
        "/user/new",
        "/model/info",
        "/v1/model/info",
        "/config/update",
        "/metrics",
        "/docs",
        "/v1/chat/completions/x",
    ],
)
def test_admin_and_info_routes_are_not_reachable_from_the_edge(
    path: str, edge: str, dev: Rendered, https: httpx.Client
) -> None:
    origin = edge.removesuffix("/v1")
    headers = {"Authorization": f"Bearer {dev.result.outputs['apiKey']}"}
    for method in ("GET", "POST"):
        response = https.request(method, origin + path, headers=headers)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "not_found"


def test_internal_headers_are_stripped_and_hsts_is_sent(edge: str, dev: Rendered, https: httpx.Client) -> None:
    response = https.post(
        f"{edge}/chat/completions",
        headers={"Authorization": f"Bearer {dev.result.outputs['apiKey']}"},
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 200
    leaked = [name for name in response.headers if name.lower().startswith("x-litellm-model-api-base")]
    assert leaked == []
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "server" not in response.headers or "nginx/" not in response.headers["server"]


def test_error_responses_also_carry_hsts(edge: str, https: httpx.Client) -> None:
    response = https.get(edge.removesuffix("/v1") + "/nope")
    assert response.status_code == 404
    assert "strict-transport-security" in response.headers


def test_edge_health_answers_without_the_gateway(edge: str, https: httpx.Client) -> None:
    response = https.get(edge.removesuffix("/v1") + "/healthz")
    assert response.status_code == 200
    assert json.loads(response.text) == {"status": "ok"}


def test_tls_1_2_is_refused(edge: str, ca_file: Path) -> None:
    context = ssl.create_default_context(cafile=str(ca_file))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(httpx.ConnectError), httpx.Client(verify=context) as old_client:
        old_client.get(edge.removesuffix("/v1") + "/healthz")
