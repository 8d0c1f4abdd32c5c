#!/usr/bin/env python3
"""Stand-in for the `ollama` binary of the ollama/ollama image (test double: no Ollama, no weights).

Installed as /bin/ollama, the official image's entrypoint, with `serve` as its default command. It
answers the verbs the stack runs:
- `ollama serve`: the Ollama HTTP API slice of `tests/live/ollama_standin.py` (`/api/chat`, `/api/tags`,
  `/api/version`) on OLLAMA_HOST, plus `POST /api/pull`, which records the tag in the models
  directory (OLLAMA_MODELS or `~/.ollama/models`, the model volume) instead of downloading weights; only pulled tags
  are served, so "models present after deploy" is observable.
- `ollama list`: GET /api/tags, prints the table, exit 1 when the server does not answer (healthcheck).
- `ollama pull TAG`: POST /api/pull, exit 0 on success (the pull containers).
As Ollama, at most OLLAMA_NUM_PARALLEL chats generate at once (the others wait their turn). A test
may make each chat take time, as a model generating: seconds in `$HOME/standin-reply-seconds` (the
container's tmpfs; `docker exec` writes it), read at every request.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, "/opt/standin")
from tests.live import ollama_standin

# Ollama's envconfig.Models(): OLLAMA_MODELS, else ~/.ollama/models.
MODELS = Path(os.environ.get("OLLAMA_MODELS") or os.path.expanduser("~/.ollama/models"))
PULLED = MODELS / "pulled.json"
REPLY_SECONDS = Path(os.environ.get("HOME") or "/tmp") / "standin-reply-seconds"  # noqa: S108 - HOME unset: Ollama's tmp


def _address() -> tuple[str, int]:
    host, _, port = os.environ.get("OLLAMA_HOST", "127.0.0.1:11434").rpartition(":")
    return host or "127.0.0.1", int(port)


class _Store(ollama_standin.OllamaStandin):
    """The live tier's stand-in, serving the tags pulled into the model volume."""

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(json.loads(PULLED.read_text())) if PULLED.exists() else ()

    @models.setter
    def models(self, _: tuple[str, ...]) -> None:
        """The stand-in's constructor sets its fixed models; here they come from the volume."""

    @property
    def reply_delay(self) -> float:
        try:
            return float(REPLY_SECONDS.read_text())
        except (OSError, ValueError):
            return 0.0

    @reply_delay.setter
    def reply_delay(self, _: float) -> None:
        """The stand-in's constructor sets no delay; here it comes from the file."""

    def add(self, tag: str) -> None:
        MODELS.mkdir(parents=True, exist_ok=True)
        PULLED.write_text(json.dumps(sorted({*self.models, tag})))


class _PullHandler(ollama_standin._Handler):
    def do_POST(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler names its handlers so
        if self.path != "/api/pull":
            super().do_POST()
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        store: _Store = self.standin  # type: ignore[assignment]  # the handler's stand-in is a _Store here
        store.add(body.get("model") or body["name"])
        self._json(200, {"status": "success"})


def serve() -> int:
    ollama_standin._Handler = _PullHandler  # type: ignore[misc]  # the stand-in builds its handler from this name
    store = _Store(*_address(), models=())
    if os.environ.get("OLLAMA_NUM_PARALLEL"):
        store.slots = threading.Semaphore(int(os.environ["OLLAMA_NUM_PARALLEL"]))
    print(f"ollama stand-in listening on {_address()}", flush=True)
    store._thread.join()
    return 0


def _client(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    host, port = _address()
    host = "127.0.0.1" if host == "0.0.0.0" else host  # noqa: S104 - as the real client does
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{host}:{port}{path}", data=data)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        result: dict[str, Any] = json.loads(response.read())
        return result


def main(argv: list[str]) -> int:
    verb = argv[0] if argv else "serve"
    try:
        if verb == "serve":
            return serve()
        if verb == "list":
            print("NAME")
            for model in _client("/api/tags")["models"]:
                print(model["name"])
            return 0
        if verb == "pull" and len(argv) == 2:
            status = _client("/api/pull", {"model": argv[1], "stream": False}).get("status")
            print(status)
            return 0 if status == "success" else 1
    except OSError as error:
        print(f"Error: could not connect to ollama server: {error}", file=sys.stderr)
        return 1
    print(f"ollama stand-in: unsupported arguments {argv}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    # As PID 1 a process ignores SIGTERM unless it handles it; `ollama serve` exits on it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main(sys.argv[1:]))
