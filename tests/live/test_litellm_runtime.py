"""LiteLLM as the stack runs it: what it serves without a key, how it logs, how it connects.

The real LiteLLM on the dev stack's gateway container (command, environment, files).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live.conftest import Gateway
from tests.support import load_shipped


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc"])
def test_litellm_itself_serves_no_api_description_or_docs(path: str, gateway: Gateway) -> None:
    # The edge refuses these anyway (tests/live/test_chain.py); LiteLLM does not even have them.
    assert httpx.get(f"http://{gateway.address}:4000{path}").status_code == 404


def test_litellm_runs_forked_gunicorn_workers_that_log_json(gateway: Gateway) -> None:
    workers = [pid for pid in _children(gateway.process.pid) if "python" in _command(pid)]
    assert len(workers) == 2, "the dev stack's two workers, forked by the gunicorn master"
    httpx.get(f"http://{gateway.address}:4000/v1/models")  # no key: LiteLLM logs an error
    time.sleep(0.5)
    lines = [line for line in _log(gateway).splitlines() if line.startswith("{")]
    components = {json.loads(line).get("component") for line in lines}
    assert "LiteLLM Proxy" in components
    assert not [line for line in _log(gateway).splitlines() if line.startswith("[") and "] [" in line], (
        "no plain-text gunicorn lines"
    )


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _log(gateway: Gateway) -> str:
    return (gateway.keys_volume.parent / "litellm.log").read_text(errors="replace")


@pytest.fixture
def unanswered() -> Iterator[tuple[str, int]]:
    """An address whose connection attempts get no answer: its listen queue is full."""
    server = socket.socket()
    server.bind(("127.0.0.97", 0))
    server.listen(0)
    fillers = []
    for _ in range(4):  # fill the accept queue; further SYNs are dropped
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(server.getsockname())
        fillers.append(filler)
    time.sleep(0.2)
    yield server.getsockname()
    for filler in fillers:
        filler.close()
    server.close()


def test_litellm_gives_up_connecting_after_5_seconds(unanswered: tuple[str, int], gateway: Gateway) -> None:
    # LiteLLM's own HTTP client with llmstack's cap applied, against an address that never answers.

    from litellm.exceptions import Timeout
    from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

    directory = gateway.rendered.container_dir("gateway-container") / "etc/litellm"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LLMSTACK_GENERATION_TIMEOUT", "60")
        module = load_shipped("llmstack_timeouts", directory, name="llmstack_timeouts_under_test")

    async def call() -> float:
        handler = AsyncHTTPHandler()
        started = time.monotonic()
        with pytest.raises(Timeout):
            await handler.post(f"http://{unanswered[0]}:{unanswered[1]}/api/chat", json={}, timeout=60)
        return time.monotonic() - started

    assert module.CONNECT_SECONDS == 5.0
    loop = asyncio.new_event_loop()  # not asyncio.run: it would unset the loop later renders use
    try:
        took = loop.run_until_complete(call())
    finally:
        loop.close()
    assert 4.5 < took < 8, f"gave up after {took:.1f} s, not the generation's 60"
