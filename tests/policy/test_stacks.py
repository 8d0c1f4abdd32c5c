"""The repo's stacks pass every mandatory rule; weakened ones fail the rule they break."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.program import run
from offline.engine import SECRET_SIG, SIG_KEY, OfflineRun, reveal, run_offline
from offline.render import read_stack_config
from policy.audit import evaluate, mandatory_failures
from tests.policy.resources import (
    API_KEY,
    CONTAINER,
    Deploy,
    failing,
    weakened,
)
from tests.support import ACME, LAN, STACK_FILES, TUNNEL, namespaced


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_every_stack_file_passes_every_mandatory_rule(stack_file: Path, deploy: Deploy) -> None:
    config, _ = read_stack_config(stack_file, notify=lambda _: None)
    plain = {k.removeprefix("llmstack:"): v for k, v in config.items()}
    result = deploy(stack=stack_file.name.split(".")[1], **plain)
    assert mandatory_failures(evaluate(result.resources)) == []
    assert len(result.of_type(CONTAINER)) >= 3, "the rules must have had containers to judge"


def test_an_acme_stack_passes_every_mandatory_rule(deploy: Deploy) -> None:
    result = deploy("prod", **ACME)
    assert {"acme-container", "acme-volume-setup", "acme-dns-token"} <= {r.name for r in result.resources}
    assert mandatory_failures(evaluate(result.resources)) == []


def test_a_stack_with_an_alert_receiver_passes_every_mandatory_rule() -> None:
    """Alertmanager runs only with a receiver: its confinement is judged here, its config a secret."""
    config = namespaced({"alertWebhookUrl": "https://hooks.example.test/T0K3N"})
    result = run_offline(run, stack="dev", config=config, secret_keys=frozenset({"llmstack:alertWebhookUrl"}))
    names = {r.name for r in result.resources}
    assert {"monitoring-alertmanager", "monitoring-alertmanager-files-carrier", "monitoring-prometheus"} <= names
    assert mandatory_failures(evaluate(result.resources)) == []


def test_lan_mode_on_every_address_passes_thanks_to_its_allow_list(deploy: Deploy) -> None:
    result = deploy(**{**LAN, "listenAddress": "0.0.0.0"})  # noqa: S104
    assert result.named("edge-container").inputs["ports"][0]["ip"] == "0.0.0.0"  # noqa: S104
    assert failing(result) == {"image-digest-pinned"}


def test_a_weakened_stack_fails_exactly_the_rules_it_breaks(deploy: Deploy) -> None:
    stack = deploy()
    assert failing(stack) == {"image-digest-pinned"}

    def drop_healthcheck(inputs: dict[str, Any]) -> None:
        del inputs["healthcheck"]

    def make_privileged(inputs: dict[str, Any]) -> None:
        inputs["privileged"] = True

    def publish_everywhere(inputs: dict[str, Any]) -> None:  # dev: the edge's ports are plain
        inputs["ports"][0]["ip"] = "0.0.0.0"  # noqa: S104

    weak = weakened(stack, "gateway-container", drop_healthcheck)
    weak = weakened(weak, "ollama-container", make_privileged)
    weak = weakened(weak, "edge-container", publish_everywhere)
    results = {result.rule.name: result for result in evaluate(weak.resources)}
    assert {name for name, result in results.items() if not result.passed} == {
        "healthcheck",
        "no-privileged-containers",
        "no-wildcard-publish",
        "image-digest-pinned",
    }
    assert [f.resource for f in results["healthcheck"].failures] == ["gateway-container"]
    assert [f.resource for f in results["no-privileged-containers"].failures] == ["ollama-container"]
    assert [f.resource for f in results["no-wildcard-publish"].failures] == ["edge-container"]


def test_revealing_the_master_key_in_envs_fails_only_the_secret_rule(deploy: Deploy) -> None:
    stack = deploy()

    def reveal_envs(inputs: dict[str, Any]) -> None:
        assert any(SIG_KEY in env for env in inputs["envs"]), "the render must mark the key secret to mean anything"
        inputs["envs"] = reveal(inputs["envs"])

    assert failing(weakened(stack, "gateway-container", reveal_envs)) == {"plaintext-secrets", "image-digest-pinned"}


def secret_holding(stack: OfflineRun, name: str, key: str) -> bool:
    """Whether the program's own deserialised inputs mark the whole list secret (what hid elements before)."""
    return bool(stack.named(name).inputs[key].get(SIG_KEY) == SECRET_SIG)


def test_the_audit_finds_a_plaintext_secret_planted_beside_secret_elements(deploy: Deploy) -> None:
    stack = deploy()
    assert secret_holding(stack, "gateway-container", "envs")
    assert secret_holding(stack, "edge-files-carrier", "uploads")

    def plant_env(inputs: dict[str, Any]) -> None:
        inputs["envs"].append(f"OPENAI_API_KEY={API_KEY}")

    def plant_upload(inputs: dict[str, Any]) -> None:
        inputs["uploads"].append({"file": "/etc/nginx/db.ini", "content": "dsn=pg://db?password=hunter2\n"})

    for name, plant, planted in [
        ("gateway-container", plant_env, "OPENAI_API_KEY"),
        ("edge-files-carrier", plant_upload, "/etc/nginx/db.ini"),
    ]:
        results = {r.rule.name: r for r in evaluate(weakened(stack, name, plant).resources)}
        (failure,) = results["plaintext-secrets"].failures
        assert (failure.resource, planted in failure.message) == (name, True)


def test_downgrading_tls_inside_the_secret_uploads_fails_only_the_tls_rule(deploy: Deploy) -> None:
    stack = deploy()

    def allow_tls12_only(inputs: dict[str, Any]) -> None:
        for upload in inputs["uploads"]:
            if isinstance(upload.get("content"), str):
                upload["content"] = upload["content"].replace("ssl_protocols TLSv1.3;", "ssl_protocols TLSv1.2;")

    assert failing(weakened(stack, "edge-files-carrier", allow_tls12_only)) == {
        "tls-modern-or-intermediate",
        "image-digest-pinned",
    }


def _run_as_root(inputs: dict[str, Any]) -> None:
    inputs["user"] = "0:0"


def _writable_root(inputs: dict[str, Any]) -> None:
    inputs["readOnly"] = False


def _add_capability(inputs: dict[str, Any]) -> None:
    inputs["capabilities"] = {"drops": ["ALL"], "adds": ["CAP_NET_ADMIN"]}


def _privileged(inputs: dict[str, Any]) -> None:
    inputs["privileged"] = True


def _host_pid(inputs: dict[str, Any]) -> None:
    inputs["pidMode"] = "host"


def _docker_socket(inputs: dict[str, Any]) -> None:
    inputs["volumes"].append({"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock"})


def _unbounded_tmpfs(inputs: dict[str, Any]) -> None:
    inputs["tmpfs"] = {"/tmp": "rw"}  # noqa: S108 - a path inside the container


def _no_ceilings(inputs: dict[str, Any]) -> None:
    inputs.pop("ulimits")


@pytest.mark.parametrize(
    ("name", "change", "rules"),
    [
        ("gateway-container", _run_as_root, {"non-root"}),
        ("edge-container", _run_as_root, {"non-root"}),
        ("ollama-container", _writable_root, {"read-only-root"}),
        ("edge-container", _add_capability, {"capabilities-dropped"}),
        ("gateway-container", _privileged, {"no-privileged-containers"}),
        ("ollama-container", _host_pid, {"no-host-namespaces"}),
        ("gateway-container", _docker_socket, {"no-docker-socket", "no-host-paths"}),
        ("edge-container", _unbounded_tmpfs, {"tmpfs-capped"}),
        ("gateway-container", _no_ceilings, {"resource-ceilings"}),
        # The root exemption is for one-shot jobs with a read-only root and no capability only.
        ("gateway-client-keys-writer", _writable_root, {"non-root", "read-only-root"}),
        ("gateway-client-keys-writer", _add_capability, {"non-root", "capabilities-dropped"}),
    ],
    ids=lambda value: value if isinstance(value, str) else getattr(value, "__name__", "rules"),
)
def test_a_least_privilege_violation_fails_exactly_its_rules(
    deploy: Deploy, name: str, change: Callable[[dict[str, Any]], None], rules: set[str]
) -> None:
    stack = deploy()
    assert failing(stack) == {"image-digest-pinned"}, "the unchanged stack must pass for the test to mean anything"
    assert failing(weakened(stack, name, change)) == {*rules, "image-digest-pinned"}


@pytest.mark.parametrize("network", ["network-publish", "network-monitoring-publish"])
def test_a_publish_network_that_masquerades_fails_only_the_nat_rule(deploy: Deploy, network: str) -> None:
    stack = deploy(monitoring="true")
    assert failing(stack) == {"image-digest-pinned"}, "the unchanged stack must pass for the test to mean anything"
    assert failing(weakened(stack, network, lambda wire: wire.pop("options"))) == {
        "publish-without-nat-out",
        "image-digest-pinned",
    }


def test_the_tunnel_watch_passes_and_sharing_a_namespace_otherwise_fails(deploy: Deploy) -> None:
    """Only the tunnel watch joins another container's network namespace; nothing joins the host's."""
    stack = deploy("prod", **TUNNEL)
    assert reveal(stack.named("tunnel-watch").inputs)["networkMode"] == "container:tunnel-container-id"
    assert failing(stack) == {"image-digest-pinned"}

    def host_network(inputs: dict[str, Any]) -> None:
        inputs["networkMode"] = "host"

    def join_the_connector(inputs: dict[str, Any]) -> None:
        inputs["networkMode"] = "container:tunnel-container-id"
        del inputs["networksAdvanced"]

    def publish(inputs: dict[str, Any]) -> None:
        inputs["ports"] = [{"internal": 9104.0, "external": 9104.0, "ip": "127.0.0.1", "protocol": "tcp"}]

    def join_ollama(inputs: dict[str, Any]) -> None:
        inputs["networkMode"] = "container:ollama-container-id"

    for name, change in (("tunnel-watch", host_network), ("gateway-container", join_the_connector)):
        results = {r.rule.name: r for r in evaluate(weakened(stack, name, change).resources)}
        assert [f.resource for f in results["own-network-namespace"].failures] == [name]
    assert "own-network-namespace" in failing(weakened(stack, "tunnel-watch", publish))
    # The joined container is not judged (an engine id names no role): the mocks test pins it.
    assert "own-network-namespace" not in failing(weakened(stack, "tunnel-watch", join_ollama))
