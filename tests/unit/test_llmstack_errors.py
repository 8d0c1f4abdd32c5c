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
    InternalServerError,
    MidStreamFallbackError,
    NotFoundError,
    ServiceUnavailableError,
    Timeout,
)
from litellm.llms.custom_httpx.aiohttp_transport import map_aiohttp_exceptions
from litellm.types.router import RouterRateLimitError

from components.shipped.litellm.llmstack_contract import POOL_HOST_UNREACHABLE
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
    ("failure", "status", "says"),
    [
        (NotFoundError(message="model 'qwen2.5:0.5b' not found", llm_provider="ollama_chat", model="x"), 404, "have"),
        (ServiceUnavailableError(message="server busy", llm_provider="ollama_chat", model="x"), 503, "server busy"),
        (Timeout(message="timed out", model="x", llm_provider="ollama_chat"), 408, "longer than this server allows"),
        (
            APIConnectionError(
                message='boom\nTraceback (most recent call last):\n  File "/usr/lib/python3.11/site-packages/x.py"',
                llm_provider="ollama_chat",
                model="qwen2.5:0.5b",
            ),
            500,
            "failed",
        ),
    ],
)
def test_other_model_failures_keep_their_status_and_say_nothing_internal(
    errors: ModuleType, failure: Exception, status: int, says: str
) -> None:
    answer = errors.client_error(failure, "small")
    assert answer.status_code == status
    assert says in answer.detail
    assert "'small'" in answer.detail
    for internal in ("qwen2.5", "Traceback", "site-packages", "ollama", "LiteLLM"):
        assert internal not in answer.detail


@pytest.mark.parametrize("refusal", [ValueError("Rejected Request: api_base is not allowed in request body")])
def test_refusals_before_the_call_keep_litellms_answer(errors: ModuleType, refusal: Exception) -> None:
    assert errors.client_error(refusal, "x") is None


def retried(
    first: BaseException, answer: httpx.Response, mapped: type[NotFoundError | ServiceUnavailableError]
) -> Exception:
    """What LiteLLM raises when its retry of a failed connection got `answer`.

    The retry runs inside the `except` of the first failure (http_handler.py), so that failure is
    the answer's `__context__`.
    """
    try:
        try:
            try:
                raise first
            except httpx.ConnectError:
                answer.raise_for_status()
        except httpx.HTTPStatusError:
            raise mapped(message=answer.text, llm_provider="ollama_chat", model="qwen2.5:0.5b")  # noqa: B904
    except mapped as raised:
        return raised
    raise AssertionError("the retry's answer was not an error")


@pytest.mark.parametrize(
    ("status", "mapped"), [(404, NotFoundError), (503, ServiceUnavailableError)], ids=["missing", "busy"]
)
def test_ollamas_answer_after_a_retried_connection_keeps_its_status(
    errors: ModuleType, status: int, mapped: type[NotFoundError | ServiceUnavailableError]
) -> None:
    # Ollama moving: the first connection is refused, LiteLLM's retry reaches it and it answers.
    request = httpx.Request("POST", "http://ollama:11434/api/chat")
    answer = httpx.Response(status, json={"error": "model 'qwen2.5:0.5b' not found"}, request=request)
    failure = retried(httpx.ConnectError("Cannot connect to host ollama:11434", request=request), answer, mapped)
    assert isinstance(failure.__context__.__context__, httpx.ConnectError)  # type: ignore[union-attr]
    answer = errors.client_error(failure, "small")
    assert answer.status_code == status
    assert "cannot be reached" not in answer.detail


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


def test_the_hook_leaves_refusals_alone(errors: ModuleType) -> None:
    failure = ValueError("Rejected Request: api_base is not allowed in request body")
    hook = errors.model_server_errors.async_post_call_failure_hook
    assert run(hook(request_data={"model": "x"}, original_exception=failure, user_api_key_dict=None)) is None
    assert "api_base is not allowed" in str(failure)


def test_the_pool_egress_500_for_a_host_it_cannot_reach_is_unreachable(errors: ModuleType) -> None:
    from_egress = InternalServerError(
        message=f'Ollama_chatException - {{"error":"{POOL_HOST_UNREACHABLE}"}}',
        llm_provider="ollama_chat",
        model="qwen2.5:0.5b",
    )
    answer = errors.client_error(from_egress, "small")
    assert (answer.status_code, "cannot be reached" in answer.detail) == (503, True)
    # Ollama's own 500 (no marker) keeps its status and the generic message.
    own = InternalServerError(message="Ollama_chatException - boom", llm_provider="ollama_chat", model="x")
    assert errors.client_error(own, "small").status_code == 500


def test_every_host_resting_after_failures_is_unreachable_without_litellms_internals(errors: ModuleType) -> None:
    resting = RouterRateLimitError(
        model="small", cooldown_time=10, enable_pre_call_checks=False, cooldown_list=["7e10f5a2d834a3df"]
    )
    answer = errors.client_error(resting, "small")
    assert answer.status_code == 503
    assert "cannot be reached" in answer.detail
    assert "7e10f5a2d834a3df" not in answer.detail
    assert "cooldown" not in answer.detail
