"""The names the Pulumi program and the code it ships into LiteLLM's container must agree on.

One file, imported by both: by the program as `components.shipped.litellm.llmstack_contract`, and
inside the container, where it is uploaded beside config.yaml and the hooks, as `llmstack_contract`
(the directory of `llmstack_serve.py`, the container's command, is first on its sys.path). It
imports only the standard library, so it loads the same in both places.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from contextvars import ContextVar
from typing import Any, Final, Literal

TESTED_LITELLM_VERSION: Final = "1.108.7"
"""The LiteLLM release the stack pins (image tag, PyPI package) and patches; other versions are left alone."""

MASTER_KEY_ENV: Final = "LITELLM_MASTER_KEY"
"""The environment variable that carries LiteLLM's boot key (never accepted: the admin key is a
digest in the keys file); the config file only names it."""
KEYS_FILE_ENV: Final = "LLMSTACK_KEYS_FILE"
"""The path of the keys file (client names and key digests) the auth hook reads."""
RATES_FILE_ENV: Final = "LLMSTACK_RATES_FILE"
"""The path of the SQLite file in which all workers count each client's requests."""
BANS_FILE_ENV: Final = "LLMSTACK_BANS_FILE"
"""The path of the SQLite file, on a named volume, in which all workers keep failures and bans."""
BAN_MAX_RETRY_ENV: Final = "LLMSTACK_BAN_MAX_RETRY"
"""Failed authentications within the window that ban an address (banMaxRetry); 0: no bans."""
BAN_FIND_SECONDS_ENV: Final = "LLMSTACK_BAN_FIND_SECONDS"
"""The window failures are counted in (banFindTimeSeconds)."""
BAN_SECONDS_ENV: Final = "LLMSTACK_BAN_SECONDS"
"""How long a ban lasts (banTimeSeconds)."""
BAN_EXEMPT_CIDRS_ENV: Final = "LLMSTACK_BAN_EXEMPT_CIDRS"
"""Comma-separated networks never banned (adminCidrs with banExemptAdmins)."""
EDGE_CHECK_HEADER: Final = "x-llmstack-basic-auth"
"""Set by nginx, and only by nginx, when it refused a request's basic-auth credentials and asks the
gateway to count the failure (`failed`) or just to answer (`missing`: no credentials were sent)."""
CLIENT_ADDRESS_HEADER: Final = "x-real-ip"
"""The client's address as nginx saw it (after real_ip); nginx replaces any such header a client sends."""
POOL_HOST_UNREACHABLE: Final = "the GPU host cannot be reached"
"""The body text of the pool egress's 500 for a GPU host it cannot reach; the errors callback
answers the client 503 "cannot be reached" when every host failed so."""
POOL_FILE_ENV: Final = "LLMSTACK_POOL_FILE"
"""The path of the GPU pool's deployments file, which LiteLLM's workers apply when it changes
(llmstack_pool.py); unset in the single-host stack, whose deployments are in config.yaml."""
TIMEOUT_ENV: Final = "LLMSTACK_GENERATION_TIMEOUT"
"""Seconds a generation may take, from the request's arrival (generationTimeoutSeconds)."""

AUTH_MODULE: Final = "llmstack_auth"
"""The auth hook's module, a file next to config.yaml (LiteLLM resolves it there)."""
SPEEDUPS_MODULE: Final = "llmstack_speedups"
"""A fix for one slow LiteLLM lookup, next to the auth hook, which applies it."""
LIMITS_MODULE: Final = "llmstack_limits"
"""Per-client request rates shared by all workers, next to the auth hook, which uses it."""
REQUESTS_MODULE: Final = "llmstack_requests"
"""What a client may send (routes, parameters, headers), next to the auth hook, which applies it."""
BANS_MODULE: Final = "llmstack_bans"
"""Brute-force bans shared by all workers, next to the auth hook, which uses it."""
ERRORS_MODULE: Final = "llmstack_errors"
"""The answer when Ollama cannot be reached, a LiteLLM callback next to config.yaml."""
TIMEOUTS_MODULE: Final = "llmstack_timeouts"
"""A short connect to Ollama and a bounded chat stream, a LiteLLM callback next to config.yaml."""
ABANDONED_MODULE: Final = "llmstack_abandoned"
"""In a GPU pool, ends least-busy's count of a chat its client abandoned, a LiteLLM callback next to config.yaml."""
REFUSED_CLIENT: Final[ContextVar[str | None]] = ContextVar("llmstack_refused_client", default=None)
"""The client the auth hook identified in the request it then refuses (403, 400, 429), for the
failure LiteLLM logs. Here because this module is loaded once per process: LiteLLM loads the auth
hook and each callback from their files, each as a module object of its own."""
POOL_MODULE: Final = "llmstack_pool"
"""The GPU pool's deployments applied to LiteLLM's router without a restart, next to the auth hook, which calls it."""
SERVE_MODULE: Final = "llmstack_serve"
"""The container's command: LiteLLM's CLI with gunicorn's workers and JSON logs."""
CONTRACT_MODULE: Final = "llmstack_contract"
"""This module, shipped beside the others."""
SHIPPED_MODULES: Final = (
    AUTH_MODULE,
    SPEEDUPS_MODULE,
    LIMITS_MODULE,
    REQUESTS_MODULE,
    BANS_MODULE,
    POOL_MODULE,
    ERRORS_MODULE,
    TIMEOUTS_MODULE,
    ABANDONED_MODULE,
    SERVE_MODULE,
    CONTRACT_MODULE,
)
"""Every module uploaded to the LiteLLM container, in upload order."""


def pool_deployments_digest(model_list: list[Any]) -> str:
    """SHA-256 of a pool's deployments, written after them in the pool file and checked on reading it.

    A file read while it is being written may still parse, as a shorter list: its digest does not match.
    """
    return hashlib.sha256(json.dumps(model_list, sort_keys=True).encode()).hexdigest()


AUTH_FAILURES_METRIC: Final = "llmstack_auth_failures_total"
"""Counter of failed authentications, labelled `reason` (one of AUTH_FAILURE_REASONS) only."""
AUTH_FAILURE_REASONS: Final = ("api_key", "basic_auth")
BANS_METRIC: Final = "llmstack_bans_total"
"""Counter of bans begun."""
BANNED_ADDRESSES_METRIC: Final = "llmstack_banned_addresses"
"""Gauge of addresses banned now (multiprocess mode `mostrecent`)."""

CHAT_ROUTES: Final = ("/v1/chat/completions", "/chat/completions")
COMPLETION_ROUTES: Final = ("/v1/completions", "/completions")
EMBEDDING_ROUTES: Final = ("/v1/embeddings", "/embeddings")
MODEL_LIST_ROUTES: Final = ("/v1/models", "/models")

ApiFamily = Literal["chat", "embeddings", "models"]
API_ROUTES: Final[dict[ApiFamily, tuple[str, ...]]] = {
    "chat": CHAT_ROUTES + COMPLETION_ROUTES,
    "embeddings": EMBEDDING_ROUTES,
    "models": MODEL_LIST_ROUTES,
}
"""The routes of each API family a client may be granted (`clients.<name>.apis`)."""

ADMIN_PATH_PREFIXES: Final = (
    "key", "user", "team", "model", "config", "health", "metrics", "routes", "global", "spend", "cache",
    "v1/model",
)  # fmt: skip
"""LiteLLM's admin and info routes: `/<prefix>` and what lies below it. The edge proxies them only
for `adminCidrs`; of a key, only an admin client's (or the master key) may call them. Not LiteLLM's
API description (`/openapi.json`), UI or `/`: it serves those without a key, and admins need none
of them. Nor its other ways to call a model (`/engines/{model}/chat/completions`, `/v1/responses`,
…), which would skip the checks made on the model routes."""


def own_handler_logger(name: str) -> logging.Logger:
    """A logger whose every record is written, whatever LITELLM_LOG says (bans, pool changes).

    LiteLLM's JSON logs put one handler on the root logger, at LITELLM_LOG's level (ERROR, rendered):
    a warning propagated there is dropped. This logger writes through its own handler, in LiteLLM's
    JSON when LiteLLM is loaded (as in the container), and not through the root's, so never twice.
    """
    logger = logging.getLogger(name)
    if logger.handlers:  # a module using it loaded again in the same process
        return logger
    handler = logging.StreamHandler()
    litellm_logging = sys.modules.get("litellm._logging")
    if litellm_logging is not None:
        handler.setFormatter(litellm_logging.JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger
