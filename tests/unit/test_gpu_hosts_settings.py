"""The `gpuHosts` map and `gatewayAddress`: a GPU pool, or exactly the single-host stack without them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.settings import parse_settings
from components.settings.model import GpuPool, Settings
from components.settings.rules import SettingsError

MODELS = json.dumps(["small=qwen2.5:0.5b", "big=qwen2.5:14b"])
TWO_HOSTS: dict[str, Any] = {
    "gpu1": {"dockerHost": "ssh://ops@gpu1", "address": "10.0.0.11", "parallel": 2},
    "gpu2": {"dockerHost": "tcp://10.0.0.12:2376", "address": "10.0.0.12", "gpus": "0,1", "models": ["big"]},
}


def parse(hosts: object, gateway: str = "10.0.0.2", **raw: str) -> Settings:
    values = {"models": MODELS, "gpuHosts": json.dumps(hosts), "monitoring": "false", **raw}
    if gateway:
        values["gatewayAddress"] = gateway
    return parse_settings(values, stack="test", secret_keys=frozenset())


def pool_of(settings: Settings) -> GpuPool:
    assert settings.pool is not None
    return settings.pool


def test_without_gpu_hosts_the_stack_is_single_host() -> None:
    assert parse_settings({"models": MODELS}, stack="test", secret_keys=frozenset()).pool is None


def test_hosts_are_parsed_with_their_defaults() -> None:
    pool = pool_of(parse(TWO_HOSTS))
    assert pool.gateway_address == "10.0.0.2"
    first, second = pool.hosts
    assert (first.name, first.docker_host, first.address, first.parallel) == ("gpu1", "ssh://ops@gpu1", "10.0.0.11", 2)
    assert first.models == ("small", "big"), "a host without a models list carries every served model"
    assert first.gpus.docker_gpus == "all"
    assert (second.models, second.parallel, second.gpus.device_ids) == (("big",), 1, ("0", "1"))


def _with(host: str, **fields: object) -> dict[str, Any]:
    hosts: dict[str, Any] = json.loads(json.dumps(TWO_HOSTS))
    hosts[host].update(fields)
    return hosts


BAD = [
    pytest.param([], "gpuHosts", "[]", "non-empty map of host name", id="not-a-map"),
    pytest.param({"GPU_1": TWO_HOSTS["gpu1"]}, "gpuHosts.GPU_1", "GPU_1", "lowercase", id="name"),
    pytest.param(
        _with("gpu1", dockerHost="http://gpu1"), "gpuHosts.gpu1.dockerHost", "http://gpu1", "ssh://", id="scheme"
    ),
    pytest.param(
        _with("gpu1", dockerHost="unix:///var/run/docker.sock"),
        "gpuHosts.gpu1.dockerHost",
        "unix",
        "ssh://",
        id="local-socket",
    ),
    pytest.param(_with("gpu1", address="gpu1.lan"), "gpuHosts.gpu1.address", "gpu1.lan", "private IP", id="not-an-ip"),
    pytest.param(_with("gpu1", address="8.8.8.8"), "gpuHosts.gpu1.address", "8.8.8.8", "private IP", id="public-ip"),
    pytest.param(
        _with("gpu1", address="127.0.0.1"), "gpuHosts.gpu1.address", "127.0.0.1", "not loopback", id="loopback"
    ),
    pytest.param(
        _with("gpu2", address="10.0.0.11"),
        "gpuHosts.gpu2.address",
        "10.0.0.11",
        "gpuHosts.gpu1 has it",
        id="dup-address",
    ),
    pytest.param(
        _with("gpu2", dockerHost="ssh://ops@gpu1"),
        "gpuHosts.gpu2.dockerHost",
        "ssh://ops@gpu1",
        "gpuHosts.gpu1 has it",
        id="dup-engine",
    ),
    pytest.param(
        _with("gpu2", models=["huge"]),
        "gpuHosts.gpu2.models",
        "huge",
        "one of the served models: small, big",
        id="unknown-model",
    ),
    pytest.param(_with("gpu2", models=[]), "gpuHosts.gpu2.models", "[]", "non-empty list", id="no-models"),
    pytest.param(_with("gpu1", parallel=0), "gpuHosts.gpu1.parallel", "0", "from 1 to 64", id="parallel-range"),
    pytest.param(_with("gpu1", parallel="2"), "gpuHosts.gpu1.parallel", '"2"', "from 1 to 64", id="parallel-type"),
    pytest.param(_with("gpu1", gpus="some"), "gpuHosts.gpu1.gpus", "some", "none, all", id="gpus"),
    pytest.param(_with("gpu1", port=1), "gpuHosts.gpu1.port", "1", "one of the fields", id="unknown-field"),
    pytest.param(
        {"gpu2": TWO_HOSTS["gpu2"]}, "gpuHosts", "small", "every served model on at least one host", id="unserved"
    ),
]


@pytest.mark.parametrize(("hosts", "key", "value", "allowed"), BAD)
def test_a_bad_host_names_key_value_and_what_is_allowed(hosts: object, key: str, value: str, allowed: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse(hosts)
    lines = [line for line in str(raised.value).splitlines() if f"llmstack:{key} = " in line]
    assert lines, str(raised.value)
    assert value in lines[0]
    assert allowed in lines[0]


def test_a_pool_needs_the_gateway_address() -> None:
    with pytest.raises(SettingsError, match=r"llmstack:gatewayAddress = '' .*private IP"):
        parse(TWO_HOSTS, gateway="")


def test_the_gateway_address_must_be_private() -> None:
    with pytest.raises(SettingsError, match=r"llmstack:gatewayAddress = '203.0.113.300'"):
        parse(TWO_HOSTS, gateway="203.0.113.300")


def test_a_gateway_address_without_a_pool_is_an_error() -> None:
    with pytest.raises(SettingsError, match=r"llmstack:gatewayAddress = '10.0.0.2' .*unless gpuHosts is set"):
        parse_settings({"gatewayAddress": "10.0.0.2"}, stack="test", secret_keys=frozenset())


@pytest.mark.parametrize(("key", "value", "field"), [("gpus", "all", "gpus"), ("ollamaNumParallel", "4", "parallel")])
def test_single_host_gpu_settings_are_refused_beside_a_pool(key: str, value: str, field: str) -> None:
    with pytest.raises(SettingsError, match=rf"llmstack:{key} = '{value}' .*give each host its own {field}"):
        parse(TWO_HOSTS, **{key: value})


def test_monitoring_watches_a_pool() -> None:
    """The probe asks each host through the egress (tests/mocks/test_gpu_pool.py)."""
    assert parse(TWO_HOSTS, monitoring="true").monitoring is not None
