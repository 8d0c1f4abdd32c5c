"""LiteLLM proxy config.yaml: typed context in, exact YAML text out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import yaml

from components.settings.model import ModelKind
from components.shipped.litellm.llmstack_contract import AUTH_MODULE, ERRORS_MODULE, MASTER_KEY_ENV, TIMEOUTS_MODULE

OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_LOG": "ERROR",
    "NO_DOCS": "True",
    "NO_REDOC": "True",
    "NO_OPENAPI": "True",
    "DISABLE_ADMIN_UI": "True",
}
"""Environment that keeps LiteLLM from fetching data from the internet at start, quiet and
without its docs and API description (clients never need them). DISABLE_ADMIN_UI only replaces
the admin UI's pages: LiteLLM still serves /ui/ without a key, so the edge refuses it (with every
route that is not a client's)."""

RUNTIME_ENV = {
    # DEV (its default) loads any .env file in its directory, the working directory or their parents.
    "LITELLM_MODE": "PRODUCTION",
    # Off without a database anyway (no stored consent); this vetoes it explicitly.
    "LITELLM_TELEMETRY_DISABLED": "True",
    # Python would write __pycache__ next to the hooks it loads from the config's directory.
    "PYTHONDONTWRITEBYTECODE": "1",
}
"""A hardened runtime; the LiteLLM image sets none of these."""

NETWORK_ENV = {"AIOHTTP_TTL_DNS_CACHE": "5"}
"""How long LiteLLM trusts a resolved address of Ollama, in seconds. Its default is 300: after
Ollama's container came back on another address, requests would go on waiting at the silent old
one for five minutes (only a refused connection is retried, once, on a fresh client that looks the
name up; the cached address stays). Each worker keeps its own cache. Docker's DNS is on the host,
and pooled connections rarely need a lookup."""


LOCAL_MODEL_INFO: Final[Mapping[str, object]] = MappingProxyType(
    {
        "litellm_provider": "ollama_chat",
        "mode": "chat",
        "input_cost_per_token": 0.0,
        "output_cost_per_token": 0.0,
    }
)
"""What LiteLLM's model map would say about a local model: a chat model, free per token.

LiteLLM looks each model up in that map several times per request. An Ollama tag is not in it, and
a failed lookup is not cached, so without this entry every lookup rescans the whole map (4,000+
models): more than half of the latency the gateway added (benchmarks/gateway_latency.py)."""


_PROVIDERS: Final[Mapping[ModelKind, str]] = MappingProxyType({"chat": "ollama_chat", "embedding": "ollama"})
"""LiteLLM provider per model kind."""


def _model_info(kind: ModelKind) -> dict[str, object]:
    """LOCAL_MODEL_INFO for a model of `kind`."""
    if kind == "chat":
        return dict(LOCAL_MODEL_INFO)
    return {**LOCAL_MODEL_INFO, "litellm_provider": _PROVIDERS[kind], "mode": "embedding"}


@dataclass(frozen=True, kw_only=True)
class ServedModel:
    """One model as LiteLLM routes it."""

    name: str
    """The client-facing model name."""
    ollama_tag: str
    """The Ollama tag behind it."""
    kind: ModelKind = "chat"
    """Chat models go through `ollama_chat/` (it keeps tool calls; LiteLLM then only calls
    POST /api/chat); embedding models through `ollama/` (POST /api/embed), which `ollama_chat/`
    lacks."""


@dataclass(frozen=True, kw_only=True)
class LiteLLMContext:
    """Everything the LiteLLM config depends on."""

    models: tuple[ServedModel, ...]
    """Served models, in order."""
    ollama_url: str
    """Base URL of Ollama on the private network."""
    generation_timeout_seconds: int
    """How long one generation may take: Ollama's answer may stay silent that long (each gap in
    a stream too), and a chat stream ends that long after the request arrived."""


def litellm_config(context: LiteLLMContext) -> dict[str, object]:
    """The config as data; secrets appear only as `os.environ/…` references."""
    return {
        "model_list": [
            {
                "model_name": model.name,
                "litellm_params": {
                    "model": f"{_PROVIDERS[model.kind]}/{model.ollama_tag}",
                    "api_base": context.ollama_url,
                    "timeout": context.generation_timeout_seconds,
                },
                "model_info": _model_info(model.kind),
            }
            for model in context.models
        ],
        "litellm_settings": {
            # Makes LiteLLM apply the model allow-list to what the auth hook returns.
            "enable_post_custom_auth_checks": True,
            "drop_params": True,
            "request_timeout": context.generation_timeout_seconds,
            "json_logs": True,
            # Ollama reports both counts; LiteLLM would run tiktoken over prompt and reply anyway.
            "disable_token_counter": True,
            # A 503 naming the model, not LiteLLM's 500 naming Ollama's address; the time limits.
            "callbacks": [f"{ERRORS_MODULE}.model_server_errors", f"{TIMEOUTS_MODULE}.generation_deadline"],
        },
        "router_settings": {
            "timeout": context.generation_timeout_seconds,
            "num_retries": 0,
            # Cooldowns take a failing deployment out of rotation in favour of another. Each model
            # has one deployment, so there is none: one client's error (a 404 for a model Ollama
            # has lost) would become 429s for every client of that model for a while.
            "disable_cooldowns": True,
        },
        "general_settings": {
            # A boot key the hook never accepts: unset, LiteLLM would run in its no-auth mode.
            "master_key": f"os.environ/{MASTER_KEY_ENV}",
            # One key per client without a database: llmstack's hook (the master key's digest too).
            "custom_auth": f"{AUTH_MODULE}.user_api_key_auth",
            "custom_auth_run_common_checks": True,
            # A client that hangs up before its answer began ends the call to Ollama, which stops
            # generating; otherwise it would hold an OLLAMA_NUM_PARALLEL slot to the end, for nobody.
            "cancel_on_disconnect": True,
        },
    }


def render_litellm_config(context: LiteLLMContext) -> str:
    """The exact config.yaml text for `context`."""
    return yaml.safe_dump(litellm_config(context), sort_keys=False, default_flow_style=False)
