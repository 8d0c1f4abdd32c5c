"""The applier fails on what it cannot map instead of skipping it (no engine call is made)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.docker.applier import (
    Applier,
    ApplyError,
    _comparable,
    _duration_ns,
    _go_duration,
    _normalized_capabilities,
)

BASE = {"name": "llmstack-x-ollama", "image": "ollama/ollama:0.12.6"}


@pytest.fixture
def applier() -> Iterator[Applier]:
    running = Applier(log=lambda _: None)
    yield running
    running.close()


@pytest.mark.parametrize("gpus", ["all", "device=0,1"])
def test_a_gpu_request_fails_with_a_clear_message(applier: Applier, gpus: str) -> None:
    with pytest.raises(ApplyError, match="needs a GPU"):
        applier._container("ollama-container", {**BASE, "gpus": gpus})


def test_an_input_without_a_mapping_fails(applier: Applier) -> None:
    with pytest.raises(ApplyError, match=r"no mapping for input\(s\) \['groupAdds'\]"):
        applier._container("ollama-container", {**BASE, "groupAdds": ["44"]})


def test_go_durations_are_parsed_exactly() -> None:
    assert _duration_ns("15s") == 15 * 10**9
    assert _duration_ns("1m30s") == 90 * 10**9
    with pytest.raises(ApplyError):
        _duration_ns("15 s")


def test_capabilities_are_sent_as_the_docker_go_client_rewrites_them() -> None:
    assert _normalized_capabilities(["chown", "CAP_SETUID", "CHOWN"]) == ["CAP_CHOWN", "CAP_SETUID"]
    assert _normalized_capabilities(["all"]) == ["ALL"]
    assert _normalized_capabilities(None) is None


def test_durations_read_back_as_go_formats_them() -> None:
    assert _go_duration(60 * 10**9) == "1m0s"
    assert _go_duration(15 * 10**9) == "15s"
    assert _go_duration(3600 * 10**9) == "1h0m0s"


def test_short_capability_names_are_drift_against_the_stored_form() -> None:
    declared = {"adds": ["CHOWN"], "drops": ["ALL"]}
    stored = {"adds": ["CAP_CHOWN"], "drops": ["ALL"]}
    assert _comparable("capabilities", declared) != _comparable("capabilities", stored)
    assert _comparable("capabilities", {"adds": ["CAP_CHOWN"], "drops": ["ALL"]}) == _comparable("capabilities", stored)
