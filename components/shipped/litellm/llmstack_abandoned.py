"""Gives a GPU host back the in-flight count of a chat its client abandoned before the answer began.

Shipped into the LiteLLM container next to its config and registered as a LiteLLM callback in a
GPU pool (`litellm_settings.callbacks: llmstack_abandoned.abandoned_calls`); this file is data to
the Pulumi program, never imported by it.

LiteLLM 1.108.7's least-busy router counts a call in flight from its start
(`LeastBusyLoggingHandler.log_pre_api_call`) until its success or failure event. A client that
hangs up before the answer began makes the proxy cancel the call (`cancel_on_disconnect`): a
`CancelledError`, for which no event fires, so the count stays up for an hour (its cache TTL) in
that worker, and least-busy passes the host over as long as any other looks less busy. After a
host's link came back, chats whose clients gave up on it kept it out of rotation (docs/SCALING.md).
The proxy then answers the gone client 499 through the failure hook, with the request's metadata,
where the router wrote the deployment it picked: this gives that count back, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException
from litellm.constants import LITELLM_CLIENT_DISCONNECT_DETAIL
from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy._types import UserAPIKeyAuth

CLIENT_LEFT_STATUS = 499


def client_left(error: BaseException) -> bool:
    """Whether `error` is the proxy's answer to a client that hung up before its answer began."""
    return (
        isinstance(error, HTTPException)
        and error.status_code == CLIENT_LEFT_STATUS
        and error.detail == LITELLM_CLIENT_DISCONNECT_DETAIL
    )


def picked_deployment(request_data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The call as least-busy's events name it (model group, deployment id), if the router picked one."""
    metadata = request_data.get("metadata")
    if not isinstance(metadata, Mapping):
        return None
    model_info = metadata.get("model_info")
    group = metadata.get("model_group")
    if not isinstance(model_info, Mapping) or model_info.get("id") is None or not group:
        return None
    return {"litellm_params": {"metadata": {"model_group": group}, "model_info": {"id": model_info["id"]}}}


class AbandonedCalls(CustomLogger):
    """Ends, for least-busy, a call cancelled because its client left."""

    async def async_post_call_failure_hook(
        self,
        request_data: dict[str, Any],
        original_exception: Exception,
        user_api_key_dict: UserAPIKeyAuth,
        traceback_str: str | None = None,
    ) -> None:
        """The failure event LiteLLM does not send for a cancelled call; the answer is left as it is."""
        if not client_left(original_exception):
            return
        call = picked_deployment(request_data)
        # Imported here: the proxy module imports the callbacks while it loads.
        from litellm.proxy import proxy_server

        counter = getattr(proxy_server.llm_router, "leastbusy_logger", None)
        if call is not None and counter is not None:
            await counter.async_log_failure_event(call, None, None, None)


abandoned_calls = AbandonedCalls()
"""The instance `litellm_settings.callbacks` names."""
