"""llmstack's answer to a client when Ollama cannot be reached or drops the request.

Shipped into the LiteLLM container next to its config and registered as a LiteLLM callback
(`litellm_settings.callbacks: llmstack_errors.model_server_errors`); this file is data to the Pulumi
program, never imported by it.

Without it, LiteLLM 1.108.7 answers both with 500 and its own exception text, which names Ollama's
address on the private network ("Cannot connect to host ollama:11434 …") and says nothing a
client can act on. While Ollama is down (crashed, failing to start, its container gone for longer
than a replacement takes), every request would get that 500. Instead:
- Ollama not reachable (connection refused, no such host, connect timeout): 503, so clients (the
  `openai` SDK among them) retry; nginx adds Retry-After to it as to its own 503s;
- Ollama closed the connection (it stopped mid-request): 502; in a stream already under way, the
  error event says so.
The message names the model as the client knows it, never an address. The operator's log keeps
the original error (for /v1/completions in the logged exception chain). Any other failure (a 404 for a
model Ollama lacks, Ollama's own 503 when its queue is full, a timeout) keeps LiteLLM's answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy._types import UserAPIKeyAuth

_UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout)
"""How the HTTP client reports an Ollama it could not connect to."""
_DROPPED = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
"""How it reports an Ollama that went away during the exchange."""
_CAUSE_ATTRIBUTES = ("__cause__", "__context__", "original_exception")
"""Where LiteLLM's exceptions keep the error they wrap."""
_MAX_CAUSES = 32
"""Enough for LiteLLM's wrapping depth; a bound, so a cycle cannot hang a request."""


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and every exception it wraps, each once."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending and len(seen) < _MAX_CAUSES:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(
            cause for name in _CAUSE_ATTRIBUTES if isinstance(cause := getattr(current, name, None), BaseException)
        )


def client_error(error: BaseException, model: object) -> HTTPException | None:
    """The answer for a failed call to Ollama, or None to keep LiteLLM's own."""
    name = f"'{model}'" if isinstance(model, str) else "the model"
    for cause in _causes(error):
        if isinstance(cause, _UNREACHABLE):
            return HTTPException(
                status_code=503,
                detail=f"The model server for {name} cannot be reached (restarting or down). Retry shortly.",
            )
        if isinstance(cause, _DROPPED):
            return HTTPException(
                status_code=502,
                detail=f"The model server for {name} closed the connection (it stopped mid-request). Retry shortly.",
            )
    return None


class ModelServerErrors(CustomLogger):
    """Replaces LiteLLM's answer when the call to Ollama failed on the network."""

    async def async_post_call_failure_hook(
        self,
        request_data: dict[str, Any],
        original_exception: Exception,
        user_api_key_dict: UserAPIKeyAuth,
        traceback_str: str | None = None,
    ) -> HTTPException | None:
        """LiteLLM sends the client the HTTPException returned here instead of its own error.

        Its /v1/completions handler ignores what this returns and builds its error from the
        exception's `message` and `status_code`, so those are rewritten too. The original error
        stays in the exception's chain (`__cause__`/`__context__`), which LiteLLM's log prints.
        """
        answer = client_error(original_exception, request_data.get("model"))
        if answer is not None:
            original_exception.message = answer.detail  # type: ignore[attr-defined]
            original_exception.status_code = answer.status_code  # type: ignore[attr-defined]
        return answer


model_server_errors = ModelServerErrors()
"""The instance `litellm_settings.callbacks` names."""
