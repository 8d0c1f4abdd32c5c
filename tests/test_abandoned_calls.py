"""The wrapper that ends abandoned model calls (components/render/llmstack_abandoned.py), in-process.

The server side is a stand-in that speaks ASGI as uvicorn does: the request body, then (once the
body is read) `http.disconnect` when the client leaves. The real LiteLLM behind the real nginx is
tests/live/test_gateway.py.
"""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import pytest

from tests.support import load_shipped

WATCHED = "/v1/chat/completions"


@pytest.fixture(scope="module")
def abandoned() -> ModuleType:
    return load_shipped("llmstack_abandoned")


class Connection:
    """Stand-in for the server side of one request: body chunks, then a disconnect on `leave()`."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for index, chunk in enumerate(chunks):
            self.messages.put_nowait({"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1})
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        """The next message, as from the server."""
        return await self.messages.get()

    async def send(self, message: dict[str, Any]) -> None:
        """Record what the app sends."""
        self.sent.append(message)

    def leave(self) -> None:
        """The client hangs up."""
        # uvicorn answers every receive() after a disconnect with http.disconnect.
        for _ in range(4):
            self.messages.put_nowait({"type": "http.disconnect"})


class Handler:
    """An app that reads the whole body, then waits for `answer` before responding."""

    def __init__(self) -> None:
        self.body = b""
        self.answer = asyncio.Event()
        self.cancelled = False
        self.finished = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Read the body, wait for `answer`, respond."""
        await asyncio.sleep(0.01)  # LiteLLM's middleware runs before the body is read
        more = True
        while more:
            message = await receive()
            self.body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            await self.answer.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await asyncio.sleep(0.05)  # a response still being sent when the client leaves
            await send({"type": "http.response.body", "body": b"done"})
            self.finished = True
        except asyncio.CancelledError:
            self.cancelled = True
            raise


def run(abandoned: ModuleType, path: str, steps: Any) -> tuple[Handler, Connection, asyncio.Task[None]]:
    async def scenario() -> tuple[Handler, Connection, asyncio.Task[None]]:
        handler, connection = Handler(), Connection([b'{"model":', b' "m"}'])
        app = abandoned.CancelAbandonedCalls(handler, [WATCHED])
        request = asyncio.ensure_future(app({"type": "http", "path": path}, connection.receive, connection.send))
        await steps(handler, connection, request)
        await asyncio.wait([request], timeout=1)
        return handler, connection, request

    return asyncio.run(scenario())


def test_a_call_whose_client_leaves_before_the_answer_is_cancelled_quietly(abandoned: ModuleType) -> None:
    async def steps(handler: Handler, connection: Connection, request: asyncio.Task[None]) -> None:
        await asyncio.sleep(0.05)
        connection.leave()

    handler, connection, request = run(abandoned, WATCHED, steps)
    assert handler.body == b'{"model": "m"}', "the watcher took no part of the body"
    assert handler.cancelled
    assert request.done()
    assert not request.cancelled(), "the server sees a request that ended, not a cancelled one"
    assert request.exception() is None
    assert connection.sent == []


def test_a_client_that_leaves_after_the_answer_began_is_left_to_litellm(abandoned: ModuleType) -> None:
    async def steps(handler: Handler, connection: Connection, request: asyncio.Task[None]) -> None:
        handler.answer.set()
        await asyncio.sleep(0.01)
        connection.leave()

    handler, _, request = run(abandoned, WATCHED, steps)
    assert handler.finished
    assert not handler.cancelled
    assert request.exception() is None


def test_other_routes_are_not_watched(abandoned: ModuleType) -> None:
    async def steps(handler: Handler, connection: Connection, request: asyncio.Task[None]) -> None:
        await asyncio.sleep(0.05)
        connection.leave()
        await asyncio.sleep(0.05)
        handler.answer.set()

    handler, _, _ = run(abandoned, "/v1/models", steps)
    assert not handler.cancelled
    assert handler.finished


def test_a_server_cancelling_the_request_still_cancels_it(abandoned: ModuleType) -> None:
    async def steps(handler: Handler, connection: Connection, request: asyncio.Task[None]) -> None:
        await asyncio.sleep(0.05)
        request.cancel()  # a server shutting down
        await asyncio.sleep(0)
        connection.leave()

    handler, _, request = run(abandoned, WATCHED, steps)
    assert handler.cancelled
    assert request.cancelled()


def test_installing_wraps_the_built_stack_once(abandoned: ModuleType) -> None:
    class App:
        middleware_stack: Any = None

        def build_middleware_stack(self) -> str:
            return "built"

    app = App()
    abandoned.install(app, [WATCHED])
    abandoned.install(app, [WATCHED])
    assert isinstance(app.middleware_stack, abandoned.CancelAbandonedCalls)
    assert app.middleware_stack.app == "built"
