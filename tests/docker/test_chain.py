"""The whole chain with the official OpenAI client: host → nginx → LiteLLM → Ollama, real containers."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.docker.conftest import Stack
from tests.live.ollama_standin import REPLY_WORDS


@pytest.fixture
def client(dev: Stack) -> Iterator[openai.OpenAI]:
    with openai.DefaultHttpxClient(verify=dev.trust()) as http:
        yield openai.OpenAI(
            base_url=dev.outputs["endpoint"], api_key=dev.outputs["clients"]["dev"]["apiKey"], http_client=http
        )


def test_the_endpoint_is_the_published_loopback_port(dev: Stack) -> None:
    assert dev.outputs["endpoint"] == "https://localhost:8443/v1"


def test_model_list(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["qwen2.5-0.5b"]


def test_completion(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="qwen2.5-0.5b", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "".join(REPLY_WORDS)


def test_stream(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="qwen2.5-0.5b", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    words = [chunk.choices[0].delta.content for chunk in stream if chunk.choices and chunk.choices[0].delta.content]
    assert "".join(words) == "".join(REPLY_WORDS)


def test_a_wrong_key_is_refused(dev: Stack) -> None:
    with openai.DefaultHttpxClient(verify=dev.trust()) as http:
        wrong = openai.OpenAI(base_url=dev.outputs["endpoint"], api_key="sk-wrong", http_client=http, max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
