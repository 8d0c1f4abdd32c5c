"""The probe's exposition: Ollama down, a model missing and an unreadable certificate each show."""

from __future__ import annotations

import socket

from components.shipped.probe.llmstack_probe import (
    CERTIFICATE_EXPIRY,
    CERTIFICATE_PROBE,
    MODEL_PRESENT,
    MODEL_SERVER_UP,
    certificate_expiry,
    exposition,
    ollama_tags,
)

MODELS = {"small": "qwen2.5:0.5b", "embed": "nomic-embed-text"}


def _samples(text: str) -> dict[str, float]:
    return {line.rpartition(" ")[0]: float(line.rpartition(" ")[2]) for line in text.splitlines() if line[:1] != "#"}


def test_every_model_present_and_the_certificate_date() -> None:
    samples = _samples(exposition(MODELS, {"qwen2.5:0.5b", "nomic-embed-text:latest"}, 1_900_000_000.0))
    assert samples == {
        MODEL_SERVER_UP: 1,
        f'{MODEL_PRESENT}{{model="embed",tag="nomic-embed-text"}}': 1,
        f'{MODEL_PRESENT}{{model="small",tag="qwen2.5:0.5b"}}': 1,
        CERTIFICATE_PROBE: 1,
        CERTIFICATE_EXPIRY: 1_900_000_000,
    }


def test_a_missing_model_and_an_unreadable_certificate() -> None:
    samples = _samples(exposition(MODELS, {"qwen2.5:0.5b"}, None))
    assert samples[f'{MODEL_PRESENT}{{model="embed",tag="nomic-embed-text"}}'] == 0
    assert samples[CERTIFICATE_PROBE] == 0
    assert CERTIFICATE_EXPIRY not in samples, "no date rather than a made-up one: the expiry alert stays quiet"


def test_ollama_down_means_server_down_and_no_model_present() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, not listening: connections are refused
        tags = ollama_tags(f"http://127.0.0.1:{port}")
        expiry = certificate_expiry(f"127.0.0.1:{port}")
    assert tags is None
    assert expiry is None
    samples = _samples(exposition(MODELS, tags, expiry))
    assert samples[MODEL_SERVER_UP] == 0
    assert {v for k, v in samples.items() if k.startswith(MODEL_PRESENT)} == {0}
