"""LiteLLM proxy config.yaml and the GPU pool's deployments file: typed context in, exact YAML text out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import yaml

from components.settings.model import ModelKind
from components.shipped.litellm.llmstack_contract import (
    ABANDONED_MODULE,
    AUTH_MODULE,
    ERRORS_MODULE,
    MASTER_KEY_ENV,
    TIMEOUTS_MODULE,
    pool_deployments_digest,
)

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
class PoolHost:
    """One GPU host as LiteLLM's router sees it: a deployment of each model it carries."""

    name: str
    """The host's name in the stack."""
    url: str
    """Its Ollama API as LiteLLM reaches it (through the egress, which adds mutual TLS)."""
    models: tuple[str, ...]
    """Client-facing names of the models it carries."""
    max_parallel_requests: int
    """Requests one LiteLLM worker sends it at once (its parallel slots plus Ollama's queue); more get 429."""


POOL_COOLDOWN_SECONDS = 10
"""How long a failing host stays out of rotation for a model before LiteLLM tries it again."""
_NEVER = 1_000_000
"""An allowed-fails count no minute reaches: that kind of error never takes a host out."""


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
    pool: tuple[PoolHost, ...] = ()
    """GPU hosts, each with its own deployments; empty: every model is served at `ollama_url`."""
    metrics: bool = False
    """Whether LiteLLM counts requests, latency and tokens for Prometheus (its `prometheus` callback)."""


METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus_client's multi-process mode: every worker writes its samples to files in this directory
and `/metrics`, on whichever worker answers, sums them. Without it each worker would answer with its
own counts only. It must be set before prometheus_client is imported, so in the environment."""

SERVED_METRICS = (
    "litellm_proxy_total_requests_metric", "litellm_proxy_failed_requests_metric",
    "litellm_request_total_latency_metric", "litellm_llm_api_latency_metric",
    "litellm_llm_api_time_to_first_token_metric",
    "litellm_input_tokens_metric", "litellm_output_tokens_metric", "litellm_total_tokens_metric",
    "litellm_in_flight_requests", "litellm_deployment_state", "litellm_deployment_cooled_down",
)  # fmt: skip
"""The series LiteLLM keeps (`prometheus_metrics_config`): requests by client, model and status,
latency and time to first token, tokens, requests in flight, and a pool host's health. Every other
metric is LiteLLM's no-op: spend and budget series mean nothing without a database, and each
metric costs every request a write to the multi-process files (benchmarks/watch_cost.py)."""
EXCLUDED_METRIC_LABELS = (
    "hashed_api_key", "user", "user_email", "user_alias", "end_user", "team", "team_alias", "project_id",
    "project_alias", "org_id", "org_alias", "client_ip", "user_agent", "api_base", "model_id",
)  # fmt: skip
"""Labels LiteLLM would put on its series and llmstack drops: `hashed_api_key` is derived from a
key; `end_user` and `user_agent` are whatever a client sends (unbounded series); `api_base` is an
internal address; the rest are empty without a database. The client is `api_key_alias`, which the
auth hook sets to the client's name."""


def litellm_config(context: LiteLLMContext) -> dict[str, object]:
    """The config as data; secrets appear only as `os.environ/…` references."""
    return {
        # A pool's deployments are in their own file (render_pool_deployments), which LiteLLM takes
        # without a restart (shipped/litellm/llmstack_pool.py); LiteLLM's router starts empty.
        "model_list": [] if context.pool else _model_list(context),
        "litellm_settings": {
            # Makes LiteLLM apply the model allow-list to what the auth hook returns.
            "enable_post_custom_auth_checks": True,
            "drop_params": True,
            "request_timeout": context.generation_timeout_seconds,
            "json_logs": True,
            # Ollama reports both counts; LiteLLM would run tiktoken over prompt and reply anyway.
            "disable_token_counter": True,
            # A 503 naming the model, not LiteLLM's 500 naming Ollama's address; the time limits.
            "callbacks": [
                f"{ERRORS_MODULE}.model_server_errors",
                f"{TIMEOUTS_MODULE}.generation_deadline",
                # Least-busy's count of a chat whose client left (pool only: one host has no choice).
                *([f"{ABANDONED_MODULE}.abandoned_calls"] if context.pool else []),
                # The refused request's client, then the metrics that read it (in this order).
                *([f"{AUTH_MODULE}.refused_clients", "prometheus"] if context.metrics else []),
            ],
            **(
                {
                    "prometheus_metrics_config": [{"group": "llmstack", "metrics": list(SERVED_METRICS)}],
                    "prometheus_exclude_labels": list(EXCLUDED_METRIC_LABELS),
                    # Prometheus scrapes without a key, on the monitoring network; the edge never
                    # proxies /metrics (render/nginx.py), so nobody else reaches it.
                    "require_auth_for_metrics_endpoint": False,
                }
                if context.metrics
                else {}
            ),
        },
        "router_settings": _pool_router_settings(context) if context.pool else _router_settings(context),
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


def _deployment(context: LiteLLMContext, model: ServedModel, api_base: str, **limits: int) -> dict[str, object]:
    return {
        "model_name": model.name,
        "litellm_params": {
            "model": f"{_PROVIDERS[model.kind]}/{model.ollama_tag}",
            "api_base": api_base,
            "timeout": context.generation_timeout_seconds,
            **limits,
        },
        "model_info": _model_info(model.kind),
    }


def _model_list(context: LiteLLMContext) -> list[dict[str, object]]:
    """One deployment per model, all on the one Ollama."""
    return [_deployment(context, model, context.ollama_url) for model in context.models]


def _pool_model_list(context: LiteLLMContext) -> list[dict[str, object]]:
    """One deployment per model per host that carries it."""
    # Not `rpm`: LiteLLM would make a per-minute count a concurrency limit when this is unset
    # (utils.calculate_max_parallel_requests), and a minute says little about long generations.
    return [
        _deployment(context, model, host.url, max_parallel_requests=host.max_parallel_requests)
        for model in context.models
        for host in context.pool
        if model.name in host.models
    ]


def _router_settings(context: LiteLLMContext) -> dict[str, object]:
    return {
        "timeout": context.generation_timeout_seconds,
        "num_retries": 0,
        # Cooldowns take a failing deployment out of rotation in favour of another. Each model
        # has one deployment, so there is none: one client's error (a 404 for a model Ollama
        # has lost) would become 429s for every client of that model for a while.
        "disable_cooldowns": True,
    }


def _pool_router_settings(context: LiteLLMContext) -> dict[str, object]:
    """Several hosts: the least busy one gets a request, a failing one rests, a refused connection moves on."""
    return {
        "timeout": context.generation_timeout_seconds,
        # In-flight requests per deployment (router_strategy/least_busy.py): a long generation
        # counts for as long as it runs, and a host that finishes sooner gets more. Usage-based
        # routing counts requests and tokens per minute, which a 10-minute generation barely moves.
        "routing_strategy": "least-busy",
        # One retry, for a host that cannot be reached: the egress answers 500 for it
        # (InternalServerError; Ollama's own rare 500, a model that failed to load, is a failing host
        # too) and a refused or cut connection to the egress is an APIConnectionError (DefaultRetries).
        # Nothing that may have started a generation elsewhere is retried, and a stream that has sent
        # content never is (router.py, stream_with_fallbacks).
        "num_retries": 1,
        "retry_policy": {
            "BadRequestErrorRetries": 0,
            "AuthenticationErrorRetries": 0,
            "TimeoutErrorRetries": 0,
            "RateLimitErrorRetries": 0,
            "ContentPolicyViolationErrorRetries": 0,
            "InternalServerErrorRetries": 1,
            "ServiceUnavailableErrorRetries": 0,
            "NotFoundErrorRetries": 0,
            "DefaultRetries": 1,
        },
        # A host that cannot be reached rests at its first failure, so the retry and the next requests
        # go elsewhere; nothing else takes a host out. Ollama's queue-full 503 in particular must not:
        # with every host full, all would rest and clients would get LiteLLM's 429 "no deployments"
        # for cooldown_time after the queues drained (measured). Its error class has no allowed-fails
        # entry of its own, hence the high default. LiteLLM never rests a deployment for an
        # APIConnectionError (router_utils/cooldown_handlers.py), hence the egress's 500.
        "disable_cooldowns": False,
        "allowed_fails": _NEVER,
        "allowed_fails_policy": {
            "BadRequestErrorAllowedFails": _NEVER,
            "AuthenticationErrorAllowedFails": _NEVER,
            "RateLimitErrorAllowedFails": _NEVER,
            "ContentPolicyViolationErrorAllowedFails": _NEVER,
            "TimeoutErrorAllowedFails": _NEVER,
            "InternalServerErrorAllowedFails": 0,
        },
        "cooldown_time": POOL_COOLDOWN_SECONDS,
    }


def render_litellm_config(context: LiteLLMContext) -> str:
    """The exact config.yaml text for `context`."""
    return yaml.safe_dump(litellm_config(context), sort_keys=False, default_flow_style=False)


def render_pool_deployments(context: LiteLLMContext) -> str:
    """The exact pool deployments file: one deployment per model per host, then their digest."""
    if not context.pool:
        raise ValueError("render_pool_deployments: a single-host stack has no pool deployments")
    model_list = _pool_model_list(context)
    # The digest comes last: a file read while it is being written fails the check (llmstack_pool.py).
    document = {"model_list": model_list, "sha256": pool_deployments_digest(model_list)}
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
