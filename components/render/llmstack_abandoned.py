"""llmstack's end to a model call whose client left before the answer began.

Shipped into the LiteLLM container next to its config and installed by the auth hook when LiteLLM
loads that, in each worker (before the proxy serves a request); this file is data to the Pulumi
program, never imported by it.

LiteLLM 1.108.7 (like any Starlette app) does not stop a request handler when its client hangs
up: a non-streamed generation runs in Ollama to its end, and a streamed one until its first token,
holding one of Ollama's OLLAMA_NUM_PARALLEL slots (or its queue) for nobody. A client that times
out and retries (the `openai` SDK does, twice) then queues behind its own abandoned work. Ollama
stops a generation when its caller hangs up; so this wrapper, around LiteLLM's whole ASGI app,
cancels a model call whose client left before the response started, which closes the connection
to Ollama. Once the response has started, LiteLLM's own handling applies (a stream ends when
sending to a gone client fails), as do all other routes.

The signal is ASGI's `http.disconnect`, which a server also sends once the response is complete;
before the response starts it can only mean that the client left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class CancelAbandonedCalls:
    """ASGI middleware: cancels a call on `paths` when its client leaves before the answer starts."""

    def __init__(self, app: App, paths: Iterable[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; on a watched path, cancel it if the client leaves before it answers."""
        task = asyncio.current_task()
        if scope["type"] != "http" or scope["path"] not in self.paths or task is None:
            await self.app(scope, receive, send)
            return
        request_read = asyncio.Event()
        answering = False
        abandoned = False

        async def receive_request() -> Message:
            message = await receive()
            if not message.get("more_body", False):
                request_read.set()
            return message

        async def send_answer(message: Message) -> None:
            nonlocal answering
            answering = True
            await send(message)

        async def watch() -> None:
            nonlocal abandoned
            # Only after the app has the whole body: receiving earlier would take it from the app.
            await request_read.wait()
            while (await receive())["type"] != "http.disconnect":
                pass
            if not answering:
                abandoned = True
                task.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            await self.app(scope, receive_request, send_answer)
        except asyncio.CancelledError:
            # Ours, and nothing else cancelled the request (a server shutting down would have too).
            if not abandoned or task.uncancel() > 0:
                raise
        finally:
            watcher.cancel()


def install(app: Any, paths: Iterable[str]) -> None:
    """Wrap `app`'s middleware stack (Starlette builds it on the first ASGI call, the startup one)."""
    stack = app.middleware_stack
    if isinstance(stack, CancelAbandonedCalls):
        return
    if stack is None:
        stack = app.build_middleware_stack()
    app.middleware_stack = CancelAbandonedCalls(stack, paths)
