"""Which failures of the call to Ollama get llmstack's answer (components/shipped/litellm/llmstack_errors.py).

In-process with LiteLLM's own exception classes; the real proxy answering a stopped Ollama
stand-in is tests/live/test_gateway.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from types import ModuleType
from typing import Any, TypeVar

import aiohttp
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey
from litellm.exceptions import (
    APIConnectionError,
    MidStreamFallbackError,
    NotFoundError,
    ServiceUnavailableError,
    Timeout,
)
from litellm.llms.custom_httpx.aiohttp_transport import map_aiohttp_exceptions

from tests.support import load_shipped

T = TypeVar("T")


def run(awaitable: Coroutine[Any, Any, T]) -> T:
    """Run on a loop of its own: asyncio.run would unset the thread's loop the Pulumi mocks use."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(awaitable)
    finally:
        loop.close()


@pytest.fixture(scope="module")
def errors() -> ModuleType:
    return load_shipped("llmstack_errors")


def wrapped(cause: BaseException) -> APIConnectionError:
    """LiteLLM's error for a failed Ollama call, raised from `cause` as its handlers do."""
    try:
        try:
            raise cause
        except BaseException as error:
            raise APIConnectionError(
                message=f"Ollama_chatException - {error}", llm_provider="ollama_chat", model="qwen2.5:0.5b"
            ) from error
    except APIConnectionError as raised:
        return raised


@pytest.mark.parametrize(
    ("cause", "status"),
    [
        (httpx.ConnectError("Cannot connect to host ollama:11434"), 503),
        (httpx.ConnectTimeout("timed out connecting"), 503),
        (httpx.ReadError("Server disconnected"), 502),
        (httpx.RemoteProtocolError("peer closed connection"), 502),
    ],
)
def test_network_failures_get_a_status_and_a_message_without_the_address(
    errors: ModuleType, cause: Exception, status: int
) -> None:
    answer = errors.client_error(wrapped(cause), "small")
    assert answer.status_code == status
    assert "'small'" in answer.detail
    assert "ollama" not in answer.detail.lower()
    assert "11434" not in answer.detail


def test_a_name_that_no_longer_resolves_is_unreachable_too(errors: ModuleType) -> None:
    # Docker's DNS forgets `ollama` while its container is gone; LiteLLM's aiohttp transport
    # turns aiohttp's error into the HTTP client's own.
    def refused() -> None:
        with map_aiohttp_exceptions():
            raise aiohttp.ClientConnectorDNSError(
                ConnectionKey("ollama", 11434, False, False, None, None, None, None), OSError("no such host")
            )

    with pytest.raises(httpx.ConnectError) as mapped:
        refused()
    assert errors.client_error(wrapped(mapped.value), "small").status_code == 503


def test_the_cause_is_found_where_litellm_keeps_it_too(errors: ModuleType) -> None:
    # A stream that fails before its first chunk: LiteLLM keeps the cause as an attribute.
    outer = MidStreamFallbackError(
        message="stream failed", model="m", llm_provider="ollama_chat", original_exception=httpx.ReadError("gone")
    )
    assert errors.client_error(outer, "m").status_code == 502


@pytest.mark.parametrize(
    "failure",
    [
        NotFoundError(message="model 'x' not found", llm_provider="ollama_chat", model="x"),
        ServiceUnavailableError(message="server busy", llm_provider="ollama_chat", model="x"),
        Timeout(message="timed out", model="x", llm_provider="ollama_chat"),
        ValueError("not a network failure"),
    ],
)
def test_other_failures_keep_litellms_answer(errors: ModuleType, failure: Exception) -> None:
    assert errors.client_error(failure, "x") is None


def test_an_exception_cycle_ends(errors: ModuleType) -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    assert errors.client_error(first, "m") is None


def test_a_missing_model_name_still_reads(errors: ModuleType) -> None:
    answer = errors.client_error(wrapped(httpx.ConnectError("x")), None)
    assert "the model" in answer.detail


def test_the_hook_also_rewrites_the_exception_for_handlers_that_ignore_its_answer(errors: ModuleType) -> None:
    # LiteLLM's /v1/completions handler builds its error from the exception's message and status.
    failure = wrapped(httpx.ConnectError("Cannot connect to host ollama:11434"))
    hook = errors.model_server_errors.async_post_call_failure_hook
    answer = run(hook(request_data={"model": "small"}, original_exception=failure, user_api_key_dict=None))
    assert answer.status_code == failure.status_code == 503
    assert failure.message == answer.detail


def test_the_hook_leaves_other_failures_alone(errors: ModuleType) -> None:
    failure = NotFoundError(message="model 'x' not found", llm_provider="ollama_chat", model="x")
    hook = errors.model_server_errors.async_post_call_failure_hook
    assert run(hook(request_data={"model": "x"}, original_exception=failure, user_api_key_dict=None)) is None
    assert failure.status_code == 404
    assert "model 'x' not found" in failure.message
