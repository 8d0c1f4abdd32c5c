"""llmstack's answer to a client when the call to Ollama fails.

Shipped into the LiteLLM container next to its config and registered as a LiteLLM callback
(`litellm_settings.callbacks: llmstack_errors.model_server_errors`); this file is data to the Pulumi
program, never imported by it.

Without it, LiteLLM 1.108.7 answers with its own exception text, which names Ollama's address on
the private network ("Cannot connect to host ollama:11434 …"), the Ollama tag behind a model name,
and for unmapped failures its traceback, file paths and version. Instead:
- Ollama not reachable (connection refused, no such host, connect timeout; in a GPU pool, the
  egress's 500 for a host it cannot reach, or every host resting after such failures): 503, so
  clients (the `openai` SDK among them) retry; nginx adds Retry-After to it as to its own 503s;
- Ollama closed the connection (it stopped mid-request): 502; in a stream already under way, the
  error event says so;
- any other failure (a 404 for a model Ollama lacks, Ollama's own 503 when its queue is full, a
  timeout): its status, with a message of llmstack's.
Messages name the model as the client knows it, never an address. The operator's log keeps the
original error (for /v1/completions in the logged exception chain). Refusals before the call (the
auth hook's, LiteLLM's own checks) are left as they are: they are written for clients.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import HTTPException
from litellm.exceptions import LITELLM_EXCEPTION_TYPES
from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy._types import UserAPIKeyAuth
from litellm.types.router import RouterRateLimitError

if TYPE_CHECKING:  # the program's name for the same file
    from components.shipped.litellm import llmstack_contract as contract
else:  # in the container: uploaded beside this file, whose directory is first on sys.path
    import llmstack_contract as contract

_UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout)
"""How the HTTP client reports an Ollama it could not connect to."""
_DROPPED = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
"""How it reports an Ollama that went away during the exchange."""
_CAUSE_ATTRIBUTES = ("__cause__", "__context__", "original_exception")
"""Where LiteLLM's exceptions keep the error they wrap."""
_MODEL_CALL_ERRORS = tuple(LITELLM_EXCEPTION_TYPES)
"""How LiteLLM reports a failed call to a model (anything else is a refusal before the call)."""
_MAX_CAUSES = 32
"""Enough for LiteLLM's wrapping depth; a bound, so a cycle cannot hang a request."""


def _answered(error: BaseException) -> bool:
    """Whether `error` reports an HTTP answer from Ollama (its own status, a 4xx it sent back).

    LiteLLM retries a failed connection inside its `except` block, so the retry's error carries the
    connection error as `__context__`: Ollama answered in the end, and that answer is the failure.
    A 408 is LiteLLM's own timeout, not an answer.
    """
    status = getattr(error, "status_code", None)
    return isinstance(error, httpx.HTTPStatusError) or (
        isinstance(status, int) and 400 <= status < 500 and status != 408
    )


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and every exception it wraps, each once, up to the first that reports Ollama's answer."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending and len(seen) < _MAX_CAUSES:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if _answered(current):
            continue
        pending.extend(
            cause for name in _CAUSE_ATTRIBUTES if isinstance(cause := getattr(current, name, None), BaseException)
        )


_ANSWERS = {
    400: "The model server refused the request for {name} as invalid.",
    404: "The model server does not have {name} (yet): it may still be downloading.",
    # Silent past the timeout, or a stream past its total deadline (llmstack_timeouts).
    408: "The answer from {name} took longer than this server allows for one generation.",
    429: "The model server is busy with other requests for {name}. Retry shortly.",
    503: "The model server for {name} is busy (server busy: its queue is full). Retry shortly.",
    504: "The model server did not answer for {name} in time.",
}
"""What a client reads for Ollama's own failures; any other status gets _FAILED."""
_FAILED = "The model server failed on the request for {name}."


def client_error(error: BaseException, model: object) -> HTTPException | None:
    """The answer for a failed call to Ollama, or None for llmstack's and LiteLLM's own refusals.

    Every answer keeps the status and says nothing internal: LiteLLM's text can carry its
    traceback, file paths, its version and the Ollama tag behind a model name.
    """
    name = f"'{model}'" if isinstance(model, str) else "the model"
    if isinstance(error, RouterRateLimitError):
        # A GPU pool whose every host failed moments ago rests them all (the router's cooldown);
        # LiteLLM's 429 would name its deployment ids. Unreachable, as the failures were.
        return _unreachable(name)
    for cause in _causes(error):
        if isinstance(cause, _UNREACHABLE) or contract.POOL_HOST_UNREACHABLE in str(cause):
            return _unreachable(name)
        if isinstance(cause, _DROPPED):
            return HTTPException(
                status_code=502,
                detail=f"The model server for {name} closed the connection (it stopped mid-request). Retry shortly.",
            )
    if not isinstance(error, _MODEL_CALL_ERRORS):
        return None  # the auth hook's refusals, and LiteLLM's own checks: written for clients
    status = getattr(error, "status_code", None)
    if not isinstance(status, int) or not 400 <= status < 600:
        status = 500
    return HTTPException(status_code=status, detail=_ANSWERS.get(status, _FAILED).format(name=name))


def _unreachable(name: str) -> HTTPException:
    """503, which clients retry and nginx gives a Retry-After."""
    return HTTPException(
        status_code=503,
        detail=f"The model server for {name} cannot be reached (restarting or down). Retry shortly.",
    )


class ModelServerErrors(CustomLogger):
    """Replaces LiteLLM's answer when the call to Ollama failed."""

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
