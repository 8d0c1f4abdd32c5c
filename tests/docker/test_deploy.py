"""The declared containers work together on Docker: health, published ports, network isolation."""

from __future__ import annotations

import pytest

from tests.docker.conftest import Stack

OLLAMA_PORT = 11434


def test_every_serving_container_is_running_and_healthy(dev: Stack) -> None:
    for name in dev.serving():
        state = dev.applier.inspect(name)["State"]
        assert state["Running"], name
        assert state["Health"]["Status"] == "healthy", (name, state["Health"]["Log"][-1:])


def test_every_one_shot_container_ran_to_completion(dev: Stack) -> None:
    assert dev.one_shots(), "the dev stack pulls its model and writes the client keys"
    for name in dev.one_shots():
        state = dev.applier.inspect(name)["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 0), name


def test_ports_are_published_exactly_where_the_settings_say(dev: Stack) -> None:
    published = {}
    for name in dev.serving():
        ports = dev.applier.inspect(name)["NetworkSettings"]["Ports"] or {}
        published[name] = {key: bindings for key, bindings in ports.items() if bindings}
    assert published == {
        "ollama-container": {},
        "gateway-container": {},
        "edge-container": {"8443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8443"}]},
    }


def test_the_models_are_present_after_deploy(dev: Stack) -> None:
    listed = dev.exec("ollama-container", "ollama", "list")
    assert listed.returncode == 0, listed.stderr
    assert "qwen2.5:0.5b" in listed.stdout.split()


def test_ollama_is_reachable_from_litellm(dev: Stack) -> None:
    probe = "import urllib.request as u; print(u.urlopen('http://ollama:11434/api/tags', timeout=5).read().decode())"
    result = dev.exec("gateway-container", "python3", "-c", probe)
    assert result.returncode == 0, result.stderr
    assert "qwen2.5:0.5b" in result.stdout


def _ollama_addresses(dev: Stack) -> list[str]:
    networks = dev.applier.inspect("ollama-container")["NetworkSettings"]["Networks"]
    return [network["IPAddress"] for network in networks.values()]


@pytest.mark.parametrize("target", ["name", "addresses"])
def test_ollama_is_unreachable_from_nginx(dev: Stack, target: str) -> None:
    """By its alias (no DNS answer off the models network) and by every address it has (no route)."""
    hosts = ["ollama"] if target == "name" else _ollama_addresses(dev)
    for host in hosts:
        probe = f"exec 3<>/dev/tcp/{host}/{OLLAMA_PORT}"
        result = dev.exec("edge-container", "timeout", "3", "bash", "-c", probe)
        assert result.returncode != 0, f"nginx connected to Ollama at {host}:{OLLAMA_PORT}"


def test_only_litellm_shares_a_network_with_ollama(dev: Stack) -> None:
    ollama_networks = set(dev.applier.inspect("ollama-container")["NetworkSettings"]["Networks"])
    sharing = {
        name
        for name in dev.serving()
        if name != "ollama-container"
        and ollama_networks & set(dev.applier.inspect(name)["NetworkSettings"]["Networks"])
    }
    assert sharing == {"gateway-container"}
