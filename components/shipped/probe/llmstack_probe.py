"""llmstack's probe: tells Prometheus whether Ollama and its models are up, and when the edge's certificate ends.

Shipped into a container of the LiteLLM image (its python3 and `cryptography`, nothing pulled);
this file is data to the Pulumi program, which imports only its metric names. On each scrape of
`/metrics` it asks Ollama's `GET /api/tags` (the models it holds) and reads the certificate the
edge serves (a TLS handshake, nothing sent): both are what clients meet, at the time of the scrape.
Ollama has no metrics of its own, and LiteLLM's deployment state changes only when a request fails.

    python3 llmstack_probe.py --listen 0.0.0.0:9101 --ollama http://ollama:11434 \
        --edge nginx:8443 --model qwen2.5-0.5b=qwen2.5:0.5b [--model ...]
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL_SERVER_UP = "llmstack_model_server_up"
MODEL_PRESENT = "llmstack_model_present"
CERTIFICATE_EXPIRY = "llmstack_edge_certificate_expiry_timestamp_seconds"
CERTIFICATE_PROBE = "llmstack_edge_certificate_probe_success"
TIMEOUT_SECONDS = 3.0


def ollama_tags(ollama_url: str) -> set[str] | None:
    """The tags Ollama holds, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{ollama_url}/api/tags", timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            body: dict[str, Any] = json.load(response)
    except (OSError, ValueError):
        return None
    return {str(model.get("name")) for model in body.get("models", [])} | {
        str(model.get("model")) for model in body.get("models", [])
    }


def certificate_expiry(edge: str) -> float | None:
    """The epoch seconds at which the certificate the edge serves expires, or None when unreadable."""
    from cryptography import x509

    host, _, port = edge.rpartition(":")
    context = ssl.create_default_context()
    # Only the date is read: the probe trusts nothing the certificate says, so it need not verify it.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, int(port)), timeout=TIMEOUT_SECONDS) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError):
        return None
    if der is None:
        return None
    return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition(models: dict[str, str], tags: set[str] | None, expiry: float | None) -> str:
    """The metrics in Prometheus's text format."""
    lines = [f"# TYPE {MODEL_SERVER_UP} gauge", f"{MODEL_SERVER_UP} {0 if tags is None else 1}"]
    lines.append(f"# TYPE {MODEL_PRESENT} gauge")
    for name, tag in sorted(models.items()):
        # Ollama lists `qwen2.5:0.5b`; a tag without one is `:latest` there.
        present = tags is not None and (tag in tags or f"{tag}:latest" in tags)
        lines.append(f'{MODEL_PRESENT}{{model="{_quoted(name)}",tag="{_quoted(tag)}"}} {int(present)}')
    lines += [f"# TYPE {CERTIFICATE_PROBE} gauge", f"{CERTIFICATE_PROBE} {0 if expiry is None else 1}"]
    if expiry is not None:
        lines += [f"# TYPE {CERTIFICATE_EXPIRY} gauge", f"{CERTIFICATE_EXPIRY} {expiry:.0f}"]
    return "\n".join(lines) + "\n"


def _handler(options: argparse.Namespace) -> type[BaseHTTPRequestHandler]:
    models = dict(entry.split("=", 1) for entry in options.model)

    class Probe(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/metrics":
                self.send_error(404)
                return
            body = exposition(models, ollama_tags(options.ollama), certificate_expiry(options.edge)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Scrapes are not worth a log line each."""

    return Probe


def main(argv: list[str] | None = None) -> None:
    """Serve `/metrics` until stopped."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="host:port to serve /metrics on")
    parser.add_argument("--ollama", required=True, help="Ollama's base URL")
    parser.add_argument("--edge", required=True, help="host:port of the edge's HTTPS")
    parser.add_argument("--model", action="append", default=[], help="client-name=ollama-tag, repeated")
    options = parser.parse_args(argv)
    host, _, port = options.listen.rpartition(":")
    ThreadingHTTPServer((host, int(port)), _handler(options)).serve_forever()


if __name__ == "__main__":
    main()
