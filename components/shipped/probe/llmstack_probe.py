"""llmstack's probe: tells Prometheus whether Ollama and its models are up, and when the edge's certificate ends.

Shipped into a container of the LiteLLM image (its python3 and `cryptography`, nothing pulled);
this file is data to the Pulumi program, which imports only its metric names. On each scrape of
`/metrics` it asks Ollama's `GET /api/tags` (the models it holds) and reads the certificate the
edge serves (a TLS handshake, nothing sent): both are what clients meet, at the time of the scrape.
Ollama has no metrics of its own, and LiteLLM's deployment state changes only when a request fails.

    python3 llmstack_probe.py --listen 0.0.0.0:9101 --ollama http://ollama:11434 \
        --edge nginx:8443 --model qwen2.5-0.5b=qwen2.5:0.5b [--model ...]

A GPU pool names each host and the models it carries instead, and every series gets a `host` label
(each host is asked through the pool egress, over the mutual-TLS hop, as LiteLLM reaches it):

    python3 llmstack_probe.py --listen 0.0.0.0:9101 --edge nginx:8443 \
        --host gpu1 http://pool-egress:11434/hosts/gpu1 --host-model gpu1 qwen2.5-0.5b=qwen2.5:0.5b [...]
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import urllib.request
from dataclasses import dataclass, field
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


@dataclass
class Target:
    """One Ollama the probe asks: the stack's own (no name), or a GPU pool's host."""

    url: str
    host: str | None = None
    models: dict[str, str] = field(default_factory=dict)
    """Client-facing name → Ollama tag, of the models it should hold."""


def _labels(host: str | None, **more: str) -> str:
    pairs = ({"host": host} if host is not None else {}) | more
    return "{" + ",".join(f'{k}="{_quoted(v)}"' for k, v in pairs.items()) + "}" if pairs else ""


def exposition(answers: list[tuple[Target, set[str] | None]], expiry: float | None) -> str:
    """The metrics in Prometheus's text format, for each target and the tags it answered (None: down)."""
    lines = [f"# TYPE {MODEL_SERVER_UP} gauge"]
    lines += [f"{MODEL_SERVER_UP}{_labels(target.host)} {0 if tags is None else 1}" for target, tags in answers]
    lines.append(f"# TYPE {MODEL_PRESENT} gauge")
    for target, tags in answers:
        for name, tag in sorted(target.models.items()):
            # Ollama lists `qwen2.5:0.5b`; a tag without one is `:latest` there.
            present = tags is not None and (tag in tags or f"{tag}:latest" in tags)
            lines.append(f"{MODEL_PRESENT}{_labels(target.host, model=name, tag=tag)} {int(present)}")
    lines += [f"# TYPE {CERTIFICATE_PROBE} gauge", f"{CERTIFICATE_PROBE} {0 if expiry is None else 1}"]
    if expiry is not None:
        lines += [f"# TYPE {CERTIFICATE_EXPIRY} gauge", f"{CERTIFICATE_EXPIRY} {expiry:.0f}"]
    return "\n".join(lines) + "\n"


def targets(options: argparse.Namespace) -> list[Target]:
    """The stack's Ollama (`--ollama`, `--model`), or each pool host (`--host`, `--host-model`)."""
    if options.ollama is not None:
        if options.host or options.host_model:
            raise SystemExit("llmstack probe: --ollama or --host, not both")
        return [Target(url=options.ollama, models=dict(entry.split("=", 1) for entry in options.model))]
    if options.model or not options.host:
        raise SystemExit("llmstack probe: --ollama with --model, or --host with --host-model")
    found = {name: Target(url=url, host=name) for name, url in options.host}
    for name, entry in options.host_model:
        if name not in found:
            raise SystemExit(f"llmstack probe: --host-model names {name!r}, which no --host names")
        model, _, tag = entry.partition("=")
        found[name].models[model] = tag
    return list(found.values())


def _handler(options: argparse.Namespace) -> type[BaseHTTPRequestHandler]:
    asked = targets(options)

    class Probe(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/metrics":
                self.send_error(404)
                return
            answers = [(target, ollama_tags(target.url)) for target in asked]
            body = exposition(answers, certificate_expiry(options.edge)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Scrapes are not worth a log line each."""

    return Probe


def arguments() -> argparse.ArgumentParser:
    """The probe's command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="host:port to serve /metrics on")
    parser.add_argument("--ollama", help="Ollama's base URL (the stack's one Ollama)")
    parser.add_argument("--edge", required=True, help="host:port of the edge's HTTPS")
    parser.add_argument("--model", action="append", default=[], help="client-name=ollama-tag, repeated")
    parser.add_argument("--host", nargs=2, action="append", default=[], metavar=("NAME", "URL"), help="a pool host")
    parser.add_argument(
        "--host-model", nargs=2, action="append", default=[], metavar=("NAME", "MODEL=TAG"), help="a host's model"
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Serve `/metrics` until stopped."""
    options = arguments().parse_args(argv)
    host, _, port = options.listen.rpartition(":")
    ThreadingHTTPServer((host, int(port)), _handler(options)).serve_forever()


if __name__ == "__main__":
    main()
