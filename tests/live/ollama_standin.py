"""Stand-in for Ollama (Ollama itself needs model weights and cannot run here).

Serves the slice of the Ollama API that LiteLLM's `ollama_chat/` provider uses, `POST /api/chat`
(streamed NDJSON or `stream: false`), its `ollama/` provider's `POST /api/embed` (vectors made up
from the input's length), plus `GET /api/tags` and `GET /api/version`. Replies are
fixed words, sent `chunk_delay` seconds apart when streamed, so tests can see whether the
proxies in front pass each chunk on as it is produced. With `busy` set it answers chats as Ollama
does when its queue (OLLAMA_MAX_QUEUE) is full: 503 and Ollama's error text. Inside `stopped()`
nothing listens (connections are refused) and open connections are cut, as while Ollama is down or
its new container is still starting. With `dropping` set it closes the connection on a chat
without answering, as an Ollama that stops mid-request. `reply_delay` holds each chat's reply
(its first chunk, when streamed) back, as a model generating; a caller that hangs up meanwhile
ends the generation, as in Ollama, and is recorded in `abandoned`. With `slots` set, at most that
many chats generate at once (OLLAMA_NUM_PARALLEL); the others wait their turn, as in Ollama's queue.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLY_WORDS = ("Hello", " from", " the", " Ollama", " stand-in", ".")


class OllamaStandin:
    """An Ollama-API stand-in on `address:port`, serving `models` (Ollama tags)."""

    def __init__(self, address: str, port: int, models: tuple[str, ...], chunk_delay: float = 0.0) -> None:
        self.models = models
        self.chunk_delay = chunk_delay
        self.busy = False
        self.dropping = False
        self.reply_delay = 0.0
        self.slots: threading.Semaphore | None = None
        self.abandoned: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self._address = (address, port)
        self.open_connections: set[socket.socket] = set()
        self._start()

    def _start(self) -> None:
        handler = type("Handler", (_Handler,), {"standin": self})
        self._server = ThreadingHTTPServer(self._address, handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="ollama-standin", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving, and cut the connections clients keep open."""
        self._server.shutdown()
        self._server.server_close()
        for connection in list(self.open_connections):
            with suppress(OSError):  # the client may have closed it meanwhile
                connection.shutdown(socket.SHUT_RDWR)

    @contextmanager
    def stopped(self) -> Iterator[None]:
        """Not there for the duration: connections are refused, as while Ollama is down or starting."""
        self.close()
        try:
            yield
        finally:
            self._start()


class _Handler(BaseHTTPRequestHandler):
    standin: OllamaStandin
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, keep-alive clients wait ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `standin.requests` instead."""

    def setup(self) -> None:
        super().setup()
        self.standin.open_connections.add(self.connection)

    def finish(self) -> None:
        self.standin.open_connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        if self.path == "/api/version":
            self._json(200, {"version": "0.0.0-stand-in"})
        elif self.path == "/api/tags":
            self._json(200, {"models": [{"name": tag, "model": tag} for tag in self.standin.models]})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        self.standin.requests.append({"path": self.path, "body": body})
        if self.path == "/api/embed":
            self._embed(body)
        elif self.path != "/api/chat":
            self._json(404, {"error": f"stand-in does not serve {self.path}"})
        elif self.standin.dropping:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif self.standin.busy:
            self._json(503, {"error": "server busy, please try again.  maximum pending requests exceeded"})
        elif body.get("model") not in self.standin.models:
            self._json(404, {"error": f"model '{body.get('model')}' not found"})
        else:
            with self.standin.slots or nullcontext():
                self._generate(body)

    def _generate(self, body: dict[str, Any]) -> None:
        if self._abandoned_while_generating():
            self.close_connection = True
        elif body.get("stream", True):
            self._stream(body["model"])
        else:
            message = {"role": "assistant", "content": "".join(REPLY_WORDS)}
            self._json(200, {**_final(body["model"]), "message": message})

    def _abandoned_while_generating(self) -> bool:
        """Wait `reply_delay`; whether the caller hung up meanwhile (then the stand-in records it)."""
        deadline = time.monotonic() + self.standin.reply_delay
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.05))
            # The request is read in full, so a readable socket with nothing to read is the caller's close.
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                self.standin.abandoned.append(self.path)
                return True
        return False

    def _embed(self, body: dict[str, Any]) -> None:
        """Ollama's /api/embed: one vector per input (a string or a list of them)."""
        if body.get("model") not in self.standin.models:
            self._json(404, {"error": f"model '{body.get('model')}' not found"})
            return
        inputs = body["input"] if isinstance(body.get("input"), list) else [body.get("input")]
        vectors = [[float(len(str(text))), 0.5, -0.5] for text in inputs]
        self._json(200, {"model": body["model"], "embeddings": vectors, "prompt_eval_count": len(inputs)})

    def _stream(self, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for word in REPLY_WORDS:
            line = {"model": model, "created_at": _now(), "message": {"role": "assistant", "content": word}}
            self._chunk(json.dumps({**line, "done": False}) + "\n")
            time.sleep(self.standin.chunk_delay)
        self._chunk(json.dumps({**_final(model), "message": {"role": "assistant", "content": ""}}) + "\n")
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _final(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "created_at": _now(),
        "done": True,
        "done_reason": "stop",
        "total_duration": 1_000_000,
        "prompt_eval_count": 3,
        "eval_count": len(REPLY_WORDS),
    }
