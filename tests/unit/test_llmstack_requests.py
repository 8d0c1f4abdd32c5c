"""What a client may send to a model route (components/shipped/litellm/llmstack_requests.py), without LiteLLM.

The live tier checks the same rules in the real LiteLLM (tests/live/test_gateway.py); here, that
the allow-lists are the OpenAI API's own, as the official `openai` package defines them.
"""

from __future__ import annotations

import pytest
from openai.types.chat.completion_create_params import CompletionCreateParamsBase as ChatParams
from openai.types.completion_create_params import CompletionCreateParamsBase as CompletionParams
from openai.types.embedding_create_params import EmbeddingCreateParams

from components.shipped.litellm.llmstack_contract import API_ROUTES
from tests.support import load_shipped

requests = load_shipped("llmstack_requests")


def sdk_parameters(params: type) -> set[str]:
    """The keys of an openai `…Params` TypedDict (its `stream` lives in subclasses)."""
    keys: frozenset[str] = params.__required_keys__ | params.__optional_keys__  # type: ignore[attr-defined]
    return set(keys)


def test_the_allow_lists_are_the_openai_apis_parameters() -> None:
    # If an openai upgrade adds a parameter, this fails: decide whether LiteLLM may pass it on.
    assert sdk_parameters(ChatParams) - {"metadata"} | {"stream"} == requests.CHAT_PARAMETERS
    assert sdk_parameters(CompletionParams) | {"stream"} == requests.COMPLETION_PARAMETERS
    assert sdk_parameters(EmbeddingCreateParams) == requests.EMBEDDING_PARAMETERS


def test_every_family_a_client_may_be_granted_has_routes() -> None:
    assert set(requests.MODEL_ROUTES) == set(API_ROUTES["chat"] + API_ROUTES["embeddings"])


def test_openai_parameters_and_the_key_header_pass() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2, "stream": True}
    headers = ["Authorization", "X-LiteLLM-API-Key", "content-type", "x-stainless-os"]
    assert requests.refusal("/v1/chat/completions", body, headers) is None
    assert requests.refusal("/embeddings", {"model": "m", "input": "a", "encoding_format": "base64"}, []) is None


@pytest.mark.parametrize(
    ("route", "extra", "param"),
    [
        ("/v1/chat/completions", {"num_ctx": 8192, "keep_alive": 0}, "keep_alive"),
        ("/chat/completions", {"options": {"num_gpu": 0}}, "options"),
        ("/v1/completions", {"messages": []}, "messages"),
        ("/v1/embeddings", {"temperature": 1}, "temperature"),
        ("/v1/chat/completions", {"num_retries": 3}, "num_retries"),
    ],
)
def test_other_parameters_are_refused_by_name(route: str, extra: dict[str, object], param: str) -> None:
    refused = requests.refusal(route, {"model": "m", **extra}, [])
    assert refused is not None
    message, named = refused
    assert named == param
    assert all(name in message for name in extra)
    assert route in message


@pytest.mark.parametrize("route", ["/model/info", "/v1/model/info", "/key/generate", "/health", "/spend/logs"])
def test_admin_routes_are_the_prefixed_ones(route: str) -> None:
    assert requests.is_admin_route(route)


@pytest.mark.parametrize(
    "route",
    [
        "/health/test_connection",  # calls a model with what it is sent
        "/engines/m/chat/completions",
        "/v1/responses",
        "/queue/chat/completions",
        "/model_group/info",  # a prefix is a whole path segment
        "/openapi.json",
        "/",
    ],
)
def test_other_routes_are_not_admin_routes(route: str) -> None:
    assert not requests.is_admin_route(route)


def test_metadata_gets_its_own_reason() -> None:
    assert requests.refusal("/v1/chat/completions", {"model": "m", "metadata": {}}, []) == (
        "Leave out `metadata`: LiteLLM reads it as its own settings, not as OpenAI's tags.",
        "metadata",
    )


def test_litellm_control_headers_are_refused_in_any_case() -> None:
    refused = requests.refusal("/v1/chat/completions", {"model": "m"}, ["X-LiteLLM-Timeout", "x-litellm-num-retries"])
    assert refused == (
        "llmstack takes no LiteLLM settings from clients: remove the header(s) x-litellm-num-retries, "
        "x-litellm-timeout.",
        None,
    )


@pytest.mark.parametrize(
    "messages",
    [["hi"], [], "hi", None, [{"content": "hi"}], [{"role": 1, "content": "hi"}], [{"role": "user"}, "x"]],
)
def test_malformed_messages_are_refused_by_the_policy(messages: object) -> None:
    # LiteLLM's own 400 for these carried its traceback, paths and version.
    body = {"model": "m"} if messages is None else {"model": "m", "messages": messages}
    refused = requests.refusal("/v1/chat/completions", body, [])
    assert refused is not None
    assert refused[1] == "messages"
