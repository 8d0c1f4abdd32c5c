"""The probe's exposition: Ollama down, a model missing and an unreadable certificate each show."""

from __future__ import annotations

import argparse
import socket

import pytest

from components.shipped.probe.llmstack_probe import (
    CERTIFICATE_EXPIRY,
    CERTIFICATE_PROBE,
    MODEL_PRESENT,
    MODEL_SERVER_UP,
    Target,
    arguments,
    certificate_expiry,
    exposition,
    ollama_tags,
    targets,
)

MODELS = {"small": "qwen2.5:0.5b", "embed": "nomic-embed-text"}
OLLAMA = Target(url="http://ollama:11434", models=MODELS)


def _samples(text: str) -> dict[str, float]:
    return {line.rpartition(" ")[0]: float(line.rpartition(" ")[2]) for line in text.splitlines() if line[:1] != "#"}


def test_every_model_present_and_the_certificate_date() -> None:
    samples = _samples(exposition([(OLLAMA, {"qwen2.5:0.5b", "nomic-embed-text:latest"})], 1_900_000_000.0))
    assert samples == {
        MODEL_SERVER_UP: 1,
        f'{MODEL_PRESENT}{{model="embed",tag="nomic-embed-text"}}': 1,
        f'{MODEL_PRESENT}{{model="small",tag="qwen2.5:0.5b"}}': 1,
        CERTIFICATE_PROBE: 1,
        CERTIFICATE_EXPIRY: 1_900_000_000,
    }


def test_a_missing_model_and_an_unreadable_certificate() -> None:
    samples = _samples(exposition([(OLLAMA, {"qwen2.5:0.5b"})], None))
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
    samples = _samples(exposition([(OLLAMA, tags)], expiry))
    assert samples[MODEL_SERVER_UP] == 0
    assert {v for k, v in samples.items() if k.startswith(MODEL_PRESENT)} == {0}


def _options(*argv: str) -> argparse.Namespace:
    return arguments().parse_args(["--listen", "127.0.0.1:9101", "--edge", "nginx:8443", *argv])


def test_a_pool_labels_each_host_and_the_models_it_carries() -> None:
    asked = targets(
        _options(
            *("--host", "gpu1", "http://pool-egress:11434/hosts/gpu1", "--host", "gpu2", "http://x/hosts/gpu2"),
            *("--host-model", "gpu1", "small=qwen2.5:0.5b", "--host-model", "gpu2", "embed=nomic-embed-text"),
        )
    )
    samples = _samples(exposition([(asked[0], {"qwen2.5:0.5b"}), (asked[1], None)], None))
    assert samples[f'{MODEL_SERVER_UP}{{host="gpu1"}}'] == 1
    assert samples[f'{MODEL_SERVER_UP}{{host="gpu2"}}'] == 0
    assert samples[f'{MODEL_PRESENT}{{host="gpu1",model="small",tag="qwen2.5:0.5b"}}'] == 1
    assert samples[f'{MODEL_PRESENT}{{host="gpu2",model="embed",tag="nomic-embed-text"}}'] == 0
    assert len([k for k in samples if k.startswith(MODEL_PRESENT)]) == 2, "each host only its own models"


@pytest.mark.parametrize(
    "argv",
    [
        ("--ollama", "http://o", "--host", "gpu1", "http://x"),
        ("--host", "gpu1", "http://x", "--model", "small=qwen2.5:0.5b"),
        ("--host", "gpu1", "http://x", "--host-model", "gpu9", "small=qwen2.5:0.5b"),
        (),
    ],
)
def test_the_probe_refuses_mixed_or_dangling_targets(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit):
        targets(_options(*argv))
