"""The full chain with the official `openai` client: real nginx → real LiteLLM → Ollama stand-in."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.live.conftest import UNREACHABLE_ADDRESS, EdgeRunner, Rendered
from tests.live.ollama_standin import REPLY_WORDS, OllamaStandin

MODEL = "qwen2.5-0.5b"
CHAT_BODY = {"messages": [{"role": "user", "content": "hi"}]}


def openai_client(stack: Rendered, api_key: str, default_headers: dict[str, str] | None = None) -> openai.OpenAI:
    """What a user configures: base URL, API key, the stack's CA certificate (and headers, with basic auth)."""
    http_client = openai.DefaultHttpxClient(verify=stack.trust())
    return openai.OpenAI(
        base_url=stack.outputs["endpoint"],
        api_key=api_key,
        http_client=http_client,
        max_retries=0,
        default_headers=default_headers,
    )


@pytest.fixture
def client(edge: Rendered) -> Iterator[openai.OpenAI]:
    with openai_client(edge, edge.outputs["clients"]["dev"]["apiKey"]) as sdk:
        yield sdk


def test_completion_through_the_edge(client: openai.OpenAI, ollama: OllamaStandin) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "".join(REPLY_WORDS)
    assert ollama.requests[-1]["body"]["model"] == "qwen2.5:0.5b"


def test_model_list_shows_the_served_names(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == [MODEL]


def test_stream_arrives_chunk_by_chunk(client: openai.OpenAI, ollama: OllamaStandin) -> None:
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
    # Buffering anywhere in the chain would deliver every chunk together at the end. Measured from
    # the second chunk: a worker's first stream pays LiteLLM's first-use costs, on a loaded machine
    # enough to hold its first chunk until the second.
    assert arrivals[-1] - arrivals[1] > 0.3 * (len(REPLY_WORDS) - 3)


def test_a_wrong_key_is_refused(edge: Rendered) -> None:
    with openai_client(edge, "sk-not-the-key") as wrong, pytest.raises(openai.APIStatusError) as refused:
        wrong.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code in (400, 401)  # LiteLLM without a database answers 400


@pytest.mark.parametrize(
    "path",
    ["/", "/routes", "/openapi.json", "/ui/", "/health", "/health/liveliness", "/key/generate", "/user/new",
     "/model/info", "/v1/model/info", "/config/update", "/metrics", "/docs", "/v1/chat/completions/x"],
)  # fmt: skip
def test_admin_and_info_routes_are_not_reachable_from_the_edge(path: str, edge: Rendered) -> None:
    headers = {"Authorization": f"Bearer {edge.outputs['masterKey']}"}  # even the admin key
    with edge.client() as https:
        for method in ("GET", "POST"):
            response = https.request(method, path, headers=headers)
            assert response.status_code == 404, (method, path)
            assert response.json()["error"]["code"] == "not_found"


def test_internal_headers_are_stripped(edge: Rendered) -> None:
    with edge.client() as https:
        response = https.post(
            "/v1/chat/completions",
            headers={"Authorization": f"Bearer {edge.outputs['clients']['dev']['apiKey']}"},
            json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
        )
    assert response.status_code == 200
    assert [name for name in response.headers if name.startswith(("x-litellm-", "llm_provider-"))] == []


@pytest.mark.parametrize("which", ["master", "client"])
def test_keys_never_reach_a_log(which: str, edge: Rendered, edges: EdgeRunner) -> None:
    key = edge.outputs["masterKey"] if which == "master" else edge.outputs["clients"]["dev"]["apiKey"]
    with edge.client() as https:
        https.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, json={"model": MODEL})
        https.get("/v1/models", headers={"Authorization": f"Bearer {key}x"})
    time.sleep(0.2)  # nginx writes its log after the response
    assert key not in edges.logs["access"].read_text()
    assert key not in edges.logs["error"].read_text()
    assert '"status":200' in edges.logs["access"].read_text()


def test_gateway_down_gives_a_fast_json_502(edges: EdgeRunner, dev: Rendered) -> None:
    edges.serve(dev, UNREACHABLE_ADDRESS)
    with dev.client() as https:
        started = time.monotonic()
        response = https.get("/v1/models", headers={"Authorization": f"Bearer {dev.outputs['masterKey']}"})
        elapsed = time.monotonic() - started
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "gateway_unavailable"
    assert "strict-transport-security" in response.headers
    assert elapsed < 2


def test_tls_1_2_is_refused_by_the_default_profile(edge: Rendered) -> None:
    context = edge.trust()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(httpx.ConnectError), httpx.Client(verify=context) as old_client:
        old_client.get(edge.origin + "/healthz")


def test_an_overloaded_ollama_gives_a_fast_503_with_retry_after(edge: Rendered, ollama: OllamaStandin) -> None:
    # The stand-in answers as Ollama does when its OLLAMA_MAX_QUEUE is full.
    key = {"Authorization": f"Bearer {edge.outputs['clients']['dev']['apiKey']}"}
    before = len(ollama.requests)
    ollama.busy = True
    try:
        with edge.client() as https:
            response = https.post("/v1/chat/completions", headers=key, json={"model": MODEL, **CHAT_BODY})
    finally:
        ollama.busy = False
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "server busy" in response.json()["error"]["message"]
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert len(ollama.requests) == before + 1, "no retries pile more work onto a full queue"


def test_a_restarting_ollama_gives_a_503_with_retry_after(edge: Rendered, ollama: OllamaStandin) -> None:
    key = {"Authorization": f"Bearer {edge.outputs['clients']['dev']['apiKey']}"}
    with ollama.stopped(), edge.client() as https:
        response = https.post("/v1/chat/completions", headers=key, json={"model": MODEL, **CHAT_BODY})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "cannot be reached" in response.json()["error"]["message"]
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_successful_responses_carry_no_retry_after(edge: Rendered) -> None:
    with edge.client() as https:
        response = https.get("/v1/models", headers={"Authorization": f"Bearer {edge.outputs['masterKey']}"})
    assert response.status_code == 200
    assert "retry-after" not in response.headers
