"""ollama-behind-mutual-tls: a published nginx reaching Ollama requires the gateway's client certificate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from offline.engine import reveal
from policy.audit import evaluate, mandatory_failures
from tests.policy.resources import Deploy, edge, violations

POOL: dict[str, Any] = {
    "monitoring": "false",  # not built for a pool yet
    "gatewayAddress": "10.0.0.2",
    "gpuHosts": {
        "gpu1": {"dockerHost": "ssh://ops@gpu1", "address": "10.0.0.11"},
        "gpu2": {"dockerHost": "ssh://ops@gpu2", "address": "10.0.0.12"},
    },
}


@pytest.fixture
def terminator(deploy: Deploy) -> dict[str, Any]:
    """gpu1's terminator as the program registers it: its real rendered nginx.conf."""
    inputs: dict[str, Any] = reveal(deploy(**POOL).named("gpu-gpu1-terminator").inputs)
    return inputs


def with_conf(container: dict[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    """The terminator with its nginx.conf changed where the rules read it (its label, since #22)."""
    labels = [
        {**label, "value": change(label["value"])} if label["label"] == "llmstack.nginx.conf" else label
        for label in container["labels"]
    ]
    assert labels != container["labels"], "the change must reach the config the rules read"
    return {**container, "labels": labels}


def test_a_pool_stack_passes_every_mandatory_rule(deploy: Deploy) -> None:
    result = deploy(**POOL)
    assert mandatory_failures(evaluate(result.resources)) == []


def test_the_rendered_terminator_passes(terminator: dict[str, Any]) -> None:
    assert terminator["ports"][0]["ip"] == "10.0.0.11"
    assert violations("ollama-behind-mutual-tls", terminator) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(
            lambda c: c.replace("ssl_verify_client on;", "ssl_verify_client optional;"), "optional", id="optional"
        ),
        pytest.param(lambda c: c.replace("ssl_verify_client on;", ""), "ssl_verify_client is off", id="no-verify"),
        pytest.param(lambda c: c.replace("listen 11443 ssl;", "listen 11443;"), "without ssl", id="plain-listen"),
        pytest.param(
            lambda c: "\n".join(line for line in c.splitlines() if "ssl_client_certificate" not in line),
            "no ssl_client_certificate",
            id="no-client-ca",
        ),
    ],
)
def test_a_weakened_terminator_fails(terminator: dict[str, Any], change: Callable[[str], str], reason: str) -> None:
    found = violations("ollama-behind-mutual-tls", with_conf(terminator, change))
    assert len(found) == 1
    assert reason in found[0]
    assert ":11434" in found[0]


def test_an_unpublished_nginx_reaching_ollama_is_not_judged(terminator: dict[str, Any]) -> None:
    weakened = with_conf({**terminator, "ports": []}, lambda c: c.replace("ssl_verify_client on;", ""))
    assert violations("ollama-behind-mutual-tls", weakened) == []


def test_the_edge_which_reaches_litellm_only_is_not_judged() -> None:
    assert violations("ollama-behind-mutual-tls", edge()) == []
