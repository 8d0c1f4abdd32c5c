"""What a client may ask of the gateway: its routes, and the parameters and headers of a request.

Shipped into the LiteLLM container next to the auth hook, which applies it. Pure, so tests check it
without LiteLLM; the routes it shares with the edge are in llmstack_contract.py.

A request to a model takes no settings from the client. LiteLLM passes a body parameter it does not
know on to Ollama as a model option (`num_ctx`, `num_gpu`, `keep_alive`: one client could make
Ollama reload a model on the CPU, or unload it after every request, for every client), and reads
others as its own settings (`num_retries` would run one counted request several times on Ollama,
`timeout` replaces the stack's). So a model route accepts the OpenAI API's own parameters for it,
and no LiteLLM control header.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the program's name for the same file
    from components.shipped.litellm import llmstack_contract as contract
else:  # in the container: uploaded beside this file, whose directory is first on sys.path
    import llmstack_contract as contract

CHAT_PARAMETERS = frozenset(
    {
        "model", "messages", "audio", "frequency_penalty", "function_call", "functions", "logit_bias",
        "logprobs", "max_completion_tokens", "max_tokens", "modalities", "moderation", "n",
        "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_options",
        "prompt_cache_retention", "reasoning_effort", "response_format", "safety_identifier", "seed",
        "service_tier", "stop", "store", "stream", "stream_options", "temperature", "tool_choice", "tools",
        "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
    }
)  # fmt: skip
"""The OpenAI chat API's parameters but `metadata`, which LiteLLM reads as its own settings."""
COMPLETION_PARAMETERS = frozenset(
    {
        "model", "prompt", "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs", "max_tokens",
        "n", "presence_penalty", "seed", "stop", "stream", "stream_options", "suffix", "temperature",
        "top_p", "user",
    }
)  # fmt: skip
EMBEDDING_PARAMETERS = frozenset({"model", "input", "dimensions", "encoding_format", "user"})

PARAMETERS = {
    **dict.fromkeys(contract.CHAT_ROUTES, CHAT_PARAMETERS),
    **dict.fromkeys(contract.COMPLETION_ROUTES, COMPLETION_PARAMETERS),
    **dict.fromkeys(contract.EMBEDDING_ROUTES, EMBEDDING_PARAMETERS),
}
"""The body parameters a client may send, per route that reaches a model."""
MODEL_ROUTES = tuple(PARAMETERS)
"""Routes whose body names a model: the ones that reach Ollama."""

ADMIN_MODEL_ROUTES = frozenset({"/health/test_connection"})
"""The admin route that calls a model with what the request says: refused to admin clients too."""


def is_admin_route(route: str) -> bool:
    """Whether `route` is one of LiteLLM's admin routes an admin client may call."""
    if route in ADMIN_MODEL_ROUTES:
        return False
    return any(route == f"/{prefix}" or route.startswith(f"/{prefix}/") for prefix in contract.ADMIN_PATH_PREFIXES)


KEY_HEADER = "x-litellm-api-key"
"""LiteLLM's own key header, the one `x-litellm-` header a client may send."""
CONTROL_HEADER_PREFIX = "x-litellm-"
"""LiteLLM reads request headers with this prefix as settings (`x-litellm-num-retries`,
`x-litellm-timeout`, `x-litellm-stream-timeout`, …)."""


def refusal(route: str, body: Mapping[str, object], header_names: Iterable[str]) -> tuple[str, str | None] | None:
    """Why a request to model route `route` is refused (message, offending parameter), or None."""
    lowered = {name.lower() for name in header_names}
    headers = sorted(name for name in lowered if name.startswith(CONTROL_HEADER_PREFIX) and name != KEY_HEADER)
    if headers:
        return f"llmstack takes no LiteLLM settings from clients: remove the header(s) {', '.join(headers)}.", None
    unknown = sorted(set(body) - PARAMETERS[route])
    if not unknown:
        return _malformed_messages(route, body)
    if unknown == ["metadata"]:
        return "Leave out `metadata`: LiteLLM reads it as its own settings, not as OpenAI's tags.", "metadata"
    return (
        f"Unsupported parameter(s) for {route}: {', '.join(unknown)}. llmstack accepts the OpenAI API's own "
        "parameters only; Ollama's model options and LiteLLM's settings are the stack's to set.",
        unknown[0],
    )


def _malformed_messages(route: str, body: Mapping[str, object]) -> tuple[str, str] | None:
    """Why a chat request's `messages` is not the OpenAI shape, or None.

    LiteLLM would fail on it with a 400 whose message carries its traceback (paths, versions).
    """
    if route not in contract.CHAT_ROUTES:
        return None
    messages = body.get("messages")
    if isinstance(messages, list) and messages and all(_is_message(message) for message in messages):
        return None
    return "`messages` must be a non-empty list of objects, each with a string `role`.", "messages"


def _is_message(message: object) -> bool:
    return isinstance(message, Mapping) and isinstance(message.get("role"), str)
