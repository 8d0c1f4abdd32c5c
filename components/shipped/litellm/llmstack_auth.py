"""llmstack's LiteLLM auth hook: one scoped, revocable key per client, without a database.

Shipped into the LiteLLM container next to its config (`general_settings.custom_auth:
llmstack_auth.user_api_key_auth`); this file is data to the Pulumi program, never imported by it.

Keys live in the JSON file named by LLMSTACK_KEYS_FILE, which a one-shot container writes into a
volume: only SHA-256 digests of the keys, never a key. The file is re-read when it changes, so
adding, removing or rotating a client needs no restart. A key may carry `not_after` (epoch
seconds): the previous key of a rotated client keeps working until then. Every digest is compared
in constant time, and every entry is compared, so timing says nothing about which one matched.

With a custom auth hook LiteLLM no longer checks the master key itself, so this hook does: the
keys file carries its digest beside the clients', so it too rotates without a restart. LiteLLM's
own LITELLM_MASTER_KEY is a boot key this hook never accepts. The model is decided here, on the
exact name a request sends (LiteLLM's own checks on what this returns,
`custom_auth_run_common_checks` and `enable_post_custom_auth_checks`, check it again); API
families too, and each client's request rate, counted across all workers for every
admitted model call (llmstack_limits.py, shipped alongside). Before all of it, an address
banned for too many failed authentications is refused (llmstack_bans.py, alongside).
What a client may send (routes, parameters, headers) is llmstack_requests.py, also alongside.
In the GPU pool, the hook first brings the router to the pool's deployments file (llmstack_pool.py).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import importlib.util
import json
import os
import re
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from fastapi import Request
from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy._types import LitellmUserRoles, ProxyErrorTypes, ProxyException, UserAPIKeyAuth
from litellm.proxy.common_utils.http_parsing_utils import read_request_body

if TYPE_CHECKING:  # the program's name for the same file
    from components.shipped.litellm import llmstack_contract as contract
else:  # in the container: uploaded beside this file, whose directory is first on sys.path
    import llmstack_contract as contract

_loaded: dict[str, Any] = {"stamp": None, "clients": [], "master": []}


def _sibling(name: str) -> ModuleType:
    """A module shipped next to this one (LiteLLM loads this file by path, not from a package)."""
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"llmstack: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_sibling(contract.SPEEDUPS_MODULE).apply()
_limits = _sibling(contract.LIMITS_MODULE)
_requests = _sibling(contract.REQUESTS_MODULE)
_bans = _sibling(contract.BANS_MODULE)
_pool = _sibling(contract.POOL_MODULE)


@functools.cache
def _shared_rate() -> Any:
    """The per-client request counter all workers share, opened on first use."""
    return _limits.SharedRate(os.environ[contract.RATES_FILE_ENV])


@functools.cache
def _ban_list() -> Any:
    """Failed authentications and bans, shared by all workers, opened on first use."""
    return _bans.BanList(os.environ.get(contract.BANS_FILE_ENV, ""), _bans.BanPolicy.from_environment(os.environ))


def _client_address(request: Request) -> str:
    """The client's address as nginx saw it; empty for a request that did not come through nginx.

    nginx replaces any X-Real-IP a client sends with its own `$remote_addr`, and nothing but nginx
    reaches LiteLLM, so this header is the one address that cannot be forged. A request without it
    (the container's healthcheck, a test calling LiteLLM directly) is never banned nor counted.
    """
    return request.headers.get(contract.CLIENT_ADDRESS_HEADER, "")


def _banned(seconds: int) -> ProxyException:
    return ProxyException(
        message=f"Too many failed authentications from your address: it is refused for {seconds} more seconds.",
        # LiteLLM's error body carries the status as `code`: the type says what happened.
        type="address_banned",
        param=None,
        code=403,
        headers={"retry-after": str(seconds)},
    )


def _check_ban(address: str) -> None:
    """Refuse a banned address before anything else is looked at."""
    wait = _ban_list().banned(address, time.time()) if address else 0
    if wait:
        raise _banned(wait)


def _count_failure(address: str, reason: str) -> None:
    """Count a failed authentication; refuse with the ban it starts, if it starts one."""
    wait = _ban_list().failed(address, reason, time.time())
    if wait:
        raise _banned(wait)


def _edge_refusal(request: Request, address: str) -> ProxyException | None:
    """The answer to a basic-auth refusal nginx reports (nginx.conf's basic-auth location), counted."""
    reported = request.headers.get(contract.EDGE_CHECK_HEADER)
    if reported is None:
        return None
    if reported == "failed":  # credentials were sent and were wrong; a first request without any is no guess
        _count_failure(address, "basic_auth")
    return _refuse(401, "Authentication required.")


def _served_models() -> frozenset[str]:
    """The model names LiteLLM's router serves, exactly as configured (no aliases, no ids)."""
    from litellm.proxy import proxy_server  # loaded by now: it is what calls this hook

    router = proxy_server.llm_router
    return frozenset(router.model_names) if router is not None else frozenset()


def _keys_file() -> dict[str, Any]:
    """The clients and master-key digests from the keys file, re-read only when the file changed."""
    path = os.environ.get(contract.KEYS_FILE_ENV, "")
    try:
        status = os.stat(path)
    except OSError:
        return {"clients": [], "master": []}
    stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
    if stamp != _loaded["stamp"]:
        with open(path, encoding="utf-8") as keys_file:
            content = json.load(keys_file)
        _loaded.update(clients=content["clients"], master=content["master"], stamp=stamp)
    return _loaded


def _clients() -> list[dict[str, Any]]:
    clients: list[dict[str, Any]] = _keys_file()["clients"]
    return clients


def _is_master(presented: str, now: float) -> bool:
    """Whether `presented` is a live master key; every digest compared in constant time."""
    digest = hashlib.sha256(presented.encode()).hexdigest()
    found = False
    for key in _keys_file()["master"]:
        matches = hmac.compare_digest(digest, key["sha256"])
        found |= matches and (key.get("not_after") is None or now < key["not_after"])
    return found


def _refuse(status: int, message: str) -> ProxyException:
    error_type = ProxyErrorTypes.auth_error if status == 401 else "permission_error"
    return ProxyException(message=message, type=error_type, param="api_key", code=status)


def _find(presented: str, now: float) -> dict[str, Any] | None:
    digest = hashlib.sha256(presented.encode()).hexdigest()
    found = None
    for client in _clients():
        for key in client["keys"]:
            matches = hmac.compare_digest(digest, key["sha256"])
            live = key.get("not_after") is None or now < key["not_after"]
            if matches and live:
                found = client
    return found


def _invalid(message: str, param: str | None) -> ProxyException:
    return ProxyException(message=message, type="invalid_request_error", param=param, code=400)


async def _checked_model(request: Request) -> str:
    """The one model the request names, from a request that changes no setting; refused (400) otherwise.

    LiteLLM would turn `"model": "a,b,c"` into one Ollama call per name: a client could multiply its
    load on Ollama, and one such request, counted once, would pass its rate limit.
    """
    if "model" in request.query_params:
        # LiteLLM would take it over the body's, past the allow-list (the edge drops query strings).
        raise _invalid("Name the model in the request body, not in the query string.", "model")
    # LiteLLM has read and parsed the body before calling the hook; this is its cached copy.
    body = await read_request_body(request)
    model = body.get("model")
    if not isinstance(model, str) or not model or "," in model:
        raise _invalid("Name exactly one model in `model` (llmstack does not fan a request out to several).", "model")
    refused = _requests.refusal(request.url.path, body, request.headers.keys())
    if refused:
        raise _invalid(*refused)
    return model


KEY_FORM = re.compile(r"(?:bearer )?([a-z0-9_-]+)", re.IGNORECASE)
"""How a key may be sent: `Bearer <key>` or the bare key. The edge's per-key rate limit reads the
same form (nginx.conf's `$api_key` map) and forwards only the key it read, in x-litellm-api-key,
so the key checked here is the bucket counted there, however the client spelt the header."""


def _presented_key(request: Request) -> str | None:
    """The key from x-litellm-api-key if sent, else from Authorization; one header, in KEY_FORM.

    LiteLLM's own reading is laxer (it removes every `Bearer `, takes `Basic <key>` and an AWS
    signature's credential): each such spelling would be a fresh bucket at the edge.
    """
    values = request.headers.getlist(_requests.KEY_HEADER) or request.headers.getlist("authorization")
    if len(values) != 1:
        return None
    match = KEY_FORM.fullmatch(values[0])
    return match.group(1) if match else None


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    """LiteLLM's custom-auth entry point (`api_key` is LiteLLM's reading; see _presented_key)."""
    _pool.refresh()  # first: the model check below and the routing after it see the pool's hosts now
    address = _client_address(request)
    _check_ban(address)
    refused = _edge_refusal(request, address)
    if refused is not None:
        raise refused
    presented = _presented_key(request)
    if presented is None:
        raise _refuse(401, "Missing or malformed API key: send `Authorization: Bearer <key>`.")
    if _is_master(presented, time.time()):
        digest = hashlib.sha256(presented.encode()).hexdigest()
        return UserAPIKeyAuth(api_key=digest, user_role=LitellmUserRoles.PROXY_ADMIN, key_alias="admin")
    client = _find(presented, time.time())
    if client is None:
        _count_failure(address, "api_key")
        raise _refuse(401, "Invalid API key.")
    contract.REFUSED_CLIENT.set(client["name"])  # any refusal from here on is this client's
    route = request.url.path
    allowed = [path for family in client["apis"] for path in contract.API_ROUTES[family]]
    if route not in allowed and not (client.get("admin") and _requests.is_admin_route(route)):
        raise _refuse(403, f"This key may not call {route}.")
    if route not in _requests.MODEL_ROUTES:
        return _authorized(presented, client)
    model = await _checked_model(request)
    if model not in (client["models"] or _served_models()):
        # Decided here, on the exact name: LiteLLM would turn `small[1m]`, `claude-router-<hex>`
        # or a deployment id into a served model after this hook, past the count below.
        raise _refuse(403, f"Model {model[:100]!r} is not available for this API key.")
    limit = client.get("rpm_limit")
    if limit:
        wait = _shared_rate().admit(client["name"], limit, time.time())
        if wait:
            raise ProxyException(
                message=f"Rate limit exceeded for client {client['name']}: {limit} requests per minute. "
                f"Retry after {wait} s.",
                type="rate_limit_error",
                param=None,
                code=429,
                headers={"retry-after": str(wait)},
                openai_code="rate_limit_exceeded",
            )
    return _authorized(presented, client)


def _authorized(presented: str, client: dict[str, Any]) -> UserAPIKeyAuth:
    digest = hashlib.sha256(presented.encode()).hexdigest()
    # No `token`: there is no database row behind the key. `api_key` is the digest, never the key.
    # No `rpm_limit`: LiteLLM would count it again, per worker; the shared count above is the limit.
    return UserAPIKeyAuth(
        api_key=digest,
        key_alias=client["name"],
        models=list(client["models"]),
        user_role=LitellmUserRoles.PROXY_ADMIN if client.get("admin") else LitellmUserRoles.INTERNAL_USER,
    )


class RefusedClients(CustomLogger):
    """Names the client in the failure LiteLLM logs for a request this hook refused (403, 400, 429).

    LiteLLM's failure hooks get an identity without the client for any refusal raised here, so its
    metrics would count a client's 429s under no client. Listed before `prometheus` in the callbacks,
    this fills in the name the hook found (`key_alias`: the client's name, no key-derived value).
    """

    async def async_post_call_failure_hook(
        self,
        request_data: dict[str, Any],
        original_exception: Exception,
        user_api_key_dict: UserAPIKeyAuth,
        traceback_str: str | None = None,
    ) -> None:
        """Set the refused request's client name where the later callbacks read it."""
        name = contract.REFUSED_CLIENT.get()
        if name is not None and user_api_key_dict.key_alias is None:
            user_api_key_dict.key_alias = name


refused_clients = RefusedClients()
