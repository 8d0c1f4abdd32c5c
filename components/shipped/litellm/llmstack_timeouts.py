"""llmstack's time limits inside LiteLLM: a short connect to Ollama and a bounded chat stream.

Shipped into the LiteLLM container next to its config and loaded by LiteLLM as a callback
(`litellm_settings.callbacks: [llmstack_timeouts.generation_deadline]`); this file is data to the
Pulumi program.

LiteLLM 1.108.7 turns a model's `timeout` (generationTimeoutSeconds) into aiohttp's connect and
per-read timeouts and nothing else (llms/custom_httpx/aiohttp_transport.py: sock_connect,
sock_read, connect): a connection attempt to a silent Ollama could wait that long, and a stream
could run forever as long as no gap between chunks reached it. Here connecting gets
CONNECT_SECONDS of its own (applied only to the LiteLLM version it was tested with), and a chat
stream ends at generationTimeoutSeconds after the request arrived, with an error event; closing it
closes the call to Ollama, which stops generating.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import time
from collections.abc import AsyncGenerator
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from litellm.exceptions import Timeout
from litellm.integrations.custom_logger import CustomLogger

if TYPE_CHECKING:  # the program's name for the same file
    from components.shipped.litellm import llmstack_contract as contract
else:  # in the container: uploaded beside this file, whose directory is first on sys.path
    import llmstack_contract as contract

CONNECT_SECONDS = 5.0
"""How long LiteLLM may take to open a connection to Ollama, which is on the same host's private
network: a live Ollama accepts at once or refuses. Waiting for a free pooled connection keeps the
generation timeout, so a burst beyond the pool queues instead of failing."""


def short_connect(expected_version: str = contract.TESTED_LITELLM_VERSION) -> bool:
    """Cap LiteLLM's connect timeouts towards its providers at CONNECT_SECONDS; whether applied."""
    if version("litellm") != expected_version:
        return False
    from litellm.llms.custom_httpx.aiohttp_transport import LiteLLMAiohttpTransport

    # Private on purpose: the one place that turns a timeout into aiohttp's, pinned to the version above.
    original = LiteLLMAiohttpTransport._make_aiohttp_request  # noqa: SLF001
    if getattr(original, "llmstack_short_connect", False):
        return True

    async def make_aiohttp_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        timeout = kwargs["timeout"]
        kwargs["timeout"] = timeout.model_copy(
            update={"connect": _capped(timeout.connect)}  # aiohttp's sock_connect; `pool` is its pool wait
        )
        return await original(self, *args, **kwargs)

    make_aiohttp_request.llmstack_short_connect = True  # type: ignore[attr-defined]
    LiteLLMAiohttpTransport._make_aiohttp_request = make_aiohttp_request  # type: ignore[method-assign]  # noqa: SLF001
    return True


def _capped(seconds: float | None) -> float:
    return CONNECT_SECONDS if seconds is None else min(seconds, CONNECT_SECONDS)


class GenerationDeadline(CustomLogger):
    """Ends a chat stream once the request is `seconds` old, with LiteLLM's timeout error."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict[str, Any]
    ) -> AsyncGenerator[Any, None]:
        """Pass the chunks on until the deadline; then raise LiteLLM's Timeout (a 408 error event)."""
        deadline = time.monotonic() + self.seconds - _age(request_data)
        chunks = aiter(response)
        try:
            while True:
                try:
                    async with asyncio.timeout_at(asyncio.get_running_loop().time() + deadline - time.monotonic()):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise Timeout(
                        message=f"The generation took longer than {self.seconds:g} s (generationTimeoutSeconds).",
                        model=str(request_data.get("model", "")),
                        llm_provider="ollama_chat",
                    ) from None
                yield chunk
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()


def _age(request_data: dict[str, Any]) -> float:
    """Seconds since LiteLLM received the request (0 if it did not record when)."""
    started = getattr(request_data.get("litellm_logging_obj"), "start_time", None)
    if not isinstance(started, datetime.datetime):
        return 0.0
    now = datetime.datetime.now(started.tzinfo)
    return max(0.0, (now - started).total_seconds())


short_connect()
generation_deadline = GenerationDeadline(float(os.environ[contract.TIMEOUT_ENV]))
