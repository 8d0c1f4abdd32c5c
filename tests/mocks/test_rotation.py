"""Key rotation is a stack update: each epoch rotates exactly its secret and touches nothing else.

Each case renders the stack twice with the same seed (the offline engine's stand-in for an
unchanged Pulumi state: a resource keeps its value until its inputs, keepers included, change)
and compares what `pulumi up` would touch.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.program import run
from offline.engine import OfflineRun, reveal, run_offline
from tests.support import TUNNEL, namespaced

BASE: dict[str, Any] = {
    "basicAuth": "true",
    "clients": {"editor": {}, "indexer": {"apis": ["embeddings"]}},
}
NEVER = {"ollama-container", "ollama-models", "ollama-image"}
SERVING = {"gateway-container", "edge-container", "ollama-container"}


def deploy(**changes: Any) -> OfflineRun:
    return run_offline(run, stack="rot", config=namespaced({**BASE, **changes}), seed=b"one-state")


def touched(before: OfflineRun, after: OfflineRun) -> set[str]:
    old = {r.name: reveal(r.inputs) for r in before.resources}
    new = {r.name: reveal(r.inputs) for r in after.resources}
    return {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}


@pytest.fixture(scope="module")
def before() -> OfflineRun:
    return deploy()


def test_an_unchanged_config_touches_nothing(before: OfflineRun) -> None:
    assert touched(before, deploy()) == set()


def test_a_client_rotation_changes_only_that_clients_key_and_its_delivery(before: OfflineRun) -> None:
    after = deploy(clients={**BASE["clients"], "editor": {"epoch": "2026-12"}})
    assert touched(before, after) == {
        "gateway-client-keys-editor-0",
        "gateway-client-keys-editor-2026-12",
        "gateway-client-keys-inbox-carrier",
        "gateway-client-keys-writer",
    }
    old, new = before.outputs["clients"], after.outputs["clients"]
    assert new["editor"]["apiKey"] != old["editor"]["apiKey"]
    assert new["indexer"]["apiKey"] == old["indexer"]["apiKey"]
    assert after.outputs["masterKey"] == before.outputs["masterKey"]


def test_a_grace_window_keeps_the_previous_key_in_state_and_in_the_keys_file(before: OfflineRun) -> None:
    rotated = {"epoch": "2026-12", "previousEpoch": "0", "previousValidUntil": "2026-12-01T00:00:00Z"}
    after = deploy(clients={**BASE["clients"], "editor": rotated})
    assert touched(before, after) == {
        "gateway-client-keys-editor-2026-12",
        "gateway-client-keys-inbox-carrier",
        "gateway-client-keys-writer",
    }
    uploads = reveal(after.named("gateway-client-keys-inbox-carrier").inputs)["uploads"]
    keys_file = next(u["content"] for u in uploads if u["file"].endswith("clients.json"))
    assert '"not_after": 1796083200.0' in keys_file
    assert SERVING.isdisjoint(touched(before, after))


def test_a_master_key_rotation_changes_only_the_key_and_its_delivery(before: OfflineRun) -> None:
    after = deploy(masterKeyEpoch="2026-12")
    # Its digest reaches LiteLLM through the keys writer's inbox: a new carrier and writer, LiteLLM untouched.
    assert touched(before, after) == {
        "gateway-master-key",
        "gateway-client-keys-inbox-carrier",
        "gateway-client-keys-writer",
    }
    assert after.outputs["masterKey"] != before.outputs["masterKey"]


def htpasswd_users(run: OfflineRun) -> list[str]:
    uploads = reveal(run.named("edge-basic-auth-inbox-carrier").inputs)["uploads"]
    return [line.split(":")[0] for line in uploads[0]["content"].splitlines()]


def test_a_basic_auth_rotation_changes_only_the_password_and_its_delivery(before: OfflineRun) -> None:
    after = deploy(basicAuthEpoch="2026-12")
    # The htpasswd reaches nginx through its own volume: a new inbox carrier and writer, nginx untouched.
    assert touched(before, after) == {
        "edge-basic-auth-password",  # epoch 0's, gone
        "edge-basic-auth-password-2026-12",
        "edge-basic-auth-inbox-carrier",
        "edge-basic-auth-writer",
    }
    assert after.outputs["basicAuthPassword"] != before.outputs["basicAuthPassword"]
    assert (before.outputs["basicAuthUser"], after.outputs["basicAuthUser"]) == ("llmstack", "llmstack-2026-12")
    assert htpasswd_users(after) == ["llmstack-2026-12"]


def test_a_basic_auth_grace_window_keeps_the_previous_password_beside_the_new(before: OfflineRun) -> None:
    after = deploy(basicAuthEpoch="2026-12", basicAuthPreviousEpoch="0")
    assert touched(before, after) == {
        "edge-basic-auth-password-2026-12",
        "edge-basic-auth-inbox-carrier",
        "edge-basic-auth-writer",
    }
    assert htpasswd_users(after) == ["llmstack-2026-12", "llmstack"]
    ended = deploy(basicAuthEpoch="2026-12")
    assert touched(after, ended) == {
        "edge-basic-auth-password",
        "edge-basic-auth-inbox-carrier",
        "edge-basic-auth-writer",
    }
    assert ended.outputs["basicAuthPassword"] == after.outputs["basicAuthPassword"]


def test_the_stack_wide_epoch_rotates_every_secret_but_never_ollama(before: OfflineRun) -> None:
    after = deploy(rotationEpoch="compromise-1")
    changed = touched(before, after)
    assert {"gateway-master-key", "gateway-client-keys-editor-0", "gateway-client-keys-indexer-0",
            "edge-basic-auth-password"} <= changed  # fmt: skip
    assert NEVER.isdisjoint(changed)
    assert "gateway-boot-key" not in changed, "LiteLLM's boot key opens nothing; rotating it would restart LiteLLM"
    assert after.outputs["masterKey"] != before.outputs["masterKey"]
    for name in BASE["clients"]:
        assert after.outputs["clients"][name]["apiKey"] != before.outputs["clients"][name]["apiKey"]


def test_a_tunnel_secret_rotation_touches_the_tunnel_only() -> None:
    def tunnel(**changes: Any) -> OfflineRun:
        config = namespaced({**TUNNEL, "clients": {"editor": {}}, **changes})
        return run_offline(run, stack="rot", config=config, seed=b"one-state")

    before, after = tunnel(), tunnel(tunnelSecretEpoch="2026-12")
    changed = touched(before, after)
    assert "tunnel-secret" in changed
    assert all(name.startswith("tunnel-") for name in changed), changed
    assert SERVING.isdisjoint(changed)
    assert NEVER.isdisjoint(changed)
