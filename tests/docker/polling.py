"""A client that keeps calling the edge from a thread, for outage and no-drop measurements."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

from tests.docker.conftest import Stack


@dataclass
class Poller:
    """GET /v1/models with `key` every `interval` s until stopped (at most `limit` s): (time, status).

    With `chat_model`, a chat completion from that model instead, which needs Ollama too.
    """

    stack: Stack
    key: str
    chat_model: str | None = None
    interval: float = 0.15
    """Below the edge's per-client rate (10 r/s by default): the poller must not be rate limited."""
    headers: dict[str, str] | None = None
    """Instead of `Authorization: Bearer <key>` (basic auth's headers); read on every call, so a
    test can switch the client to new credentials as a client would after a rotation."""
    limit: float = 180.0
    results: list[tuple[float, int]] = field(default_factory=list)
    error_bodies: list[str] = field(default_factory=list)
    """The body of every answer other than 200."""

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="poller", daemon=True)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=40)

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit
        with self.stack.client() as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                headers = self.headers or {"Authorization": f"Bearer {self.key}"}
                try:
                    answer = self._call(client, headers)
                    status = answer.status_code
                    if status != 200:
                        self.error_bodies.append(answer.text)
                except httpx.HTTPError:
                    status = 0  # no HTTP answer at all
                self.results.append((time.monotonic(), status))
                time.sleep(self.interval)

    def _call(self, client: httpx.Client, headers: dict[str, str]) -> httpx.Response:
        if self.chat_model is None:
            return client.get("/v1/models", headers=headers, timeout=10)
        body = {"model": self.chat_model, "messages": [{"role": "user", "content": "hi"}]}
        return client.post("/v1/chat/completions", headers=headers, json=body, timeout=10)

    def wait_for(self, status: int, after: float, timeout: float) -> float | None:
        """The time of the first `status` answer after `after`, waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, got in list(self.results):
                if at > after and got == status:
                    return at
            time.sleep(0.1)
        return None

    def failures(self) -> list[tuple[float, int]]:
        """Answers other than 200."""
        return [(at, status) for at, status in self.results if status != 200]
