"""Stand-in for the LiteLLM gateway, for edge tests that must see what nginx forwards.

Speaks enough of the OpenAI API for nginx to proxy (`/v1/chat/completions` plain and SSE-streamed,
`/v1/models`) and echoes every other request as JSON. It records each request's path and headers,
and sends the internal headers LiteLLM sends, so tests can check the edge strips them.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INTERNAL_HEADERS = {"x-litellm-model-api-base": "http://ollama:11434", "x-litellm-version": "1.108.7"}


class GatewayStandin:
    """A LiteLLM stand-in on `address:port`."""

    def __init__(self, address: str, port: int) -> None:
        self.requests: list[dict[str, Any]] = []
        self.chunk_delay = 0.0
        self.extra_headers: dict[str, str] = {}
        """Sent with every JSON answer, as an upstream could (X-Accel-Redirect, say)."""
        handler = type("Handler", (_Handler,), {"standin": self})
        self._server = ThreadingHTTPServer((address, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway-standin", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    standin: GatewayStandin
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, keep-alive clients wait ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `standin.requests` instead."""

    def do_GET(self) -> None:
        self._record(b"")
        if self.path == "/v1/models":
            self._json({"object": "list", "data": [{"id": "standin-model", "object": "model"}]})
        else:
            self._json({"echo": self.path})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._record(body)
        request = json.loads(body or b"{}")
        if self.path == "/v1/chat/completions" and request.get("stream"):
            self._stream()
        else:
            self._json({"echo": self.path, "object": "chat.completion", "choices": []})

    def _record(self, body: bytes) -> None:
        self.standin.requests.append({"path": self.path, "headers": dict(self.headers), "size": len(body)})

    def _stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index in range(4):
            event = {"index": index, "sent_at": time.time()}
            self._chunk(f"data: {json.dumps(event)}\n\n")
            time.sleep(self.standin.chunk_delay)
        self._chunk("data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in {**INTERNAL_HEADERS, **self.standin.extra_headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
