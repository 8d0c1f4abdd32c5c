"""The applier fails on what it cannot map instead of skipping it (no engine call is made)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.docker.applier import Applier, ApplyError, _duration_ns

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
    with pytest.raises(ApplyError, match=r"no mapping for input\(s\) \['readOnly'\]"):
        applier._container("ollama-container", {**BASE, "readOnly": True})


def test_go_durations_are_parsed_exactly() -> None:
    assert _duration_ns("15s") == 15 * 10**9
    assert _duration_ns("1m30s") == 90 * 10**9
    with pytest.raises(ApplyError):
        _duration_ns("15 s")
