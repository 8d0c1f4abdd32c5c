"""Per-client keys under Pulumi mocks: what a client change touches, and where keys never appear."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import yaml

from components.program import run
from offline.engine import OfflineRun, reveal, run_offline
from tests.support import PROJECT_DIR, namespaced

TWO_MODELS = ["small=qwen2.5:0.5b", "coder=qwen2.5-coder:1.5b"]
CLIENTS = {
    "editor": {"models": ["coder"], "apis": ["chat", "models"], "rpmLimit": 60},
    "indexer": {"apis": ["embeddings"]},
    "ops": {"admin": True},
}
KEY_DELIVERY = {"llmstack:index:ClientKeys", "random:index/randomPassword:RandomPassword"}


def deploy(clients: dict[str, Any], seed: bytes = b"same-state", **config: object) -> OfflineRun:
    """The stack with the same random state (seed) as a previous `pulumi up` would have."""
    settings = {"models": TWO_MODELS, "clients": clients, **config}
    return run_offline(run, stack="keys", config=namespaced(settings), seed=seed)


def keys_file(result: OfflineRun) -> dict[str, Any]:
    uploads = reveal(result.named("gateway-client-keys-inbox-carrier").inputs)["uploads"]
    content: dict[str, Any] = json.loads(next(u["content"] for u in uploads if u["file"].endswith("clients.json")))
    return content


def changed(before: OfflineRun, after: OfflineRun) -> set[str]:
    """Resources whose inputs differ, or that exist on one side only: what `pulumi up` would touch."""
    old = {r.name: reveal(r.inputs) for r in before.resources}
    new = {r.name: reveal(r.inputs) for r in after.resources}
    return {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}


def test_each_client_gets_its_own_key_and_config() -> None:
    result = deploy(CLIENTS)
    clients = result.outputs["clients"]
    assert set(clients) == set(CLIENTS)
    assert len({c["apiKey"] for c in clients.values()}) == 3
    assert clients["editor"]["models"] == ["coder"]
    assert clients["ops"]["models"] == ["small", "coder"]
    continue_models = yaml.safe_load(clients["editor"]["continueConfig"])["models"]
    assert [m["model"] for m in continue_models] == ["coder"]
    assert f"Bearer {clients['editor']['apiKey']}" in clients["editor"]["curl"]
    assert "clients" in result.secret_outputs


def test_each_clients_configs_use_only_what_its_key_may_call() -> None:
    result = deploy({**CLIENTS, "lister": {"apis": ["models"]}})
    clients = result.outputs["clients"]
    assert "/v1/chat/completions" in clients["editor"]["curl"]
    assert [m["roles"] for m in yaml.safe_load(clients["editor"]["continueConfig"])["models"]] == [
        ["chat", "edit", "apply"]
    ]
    # Embeddings without an embedding model, or the model list only: the curl test lists the
    # models, and there is no Continue config (nothing Continue could use).
    for client in ("indexer", "lister"):
        assert clients[client]["curl"].rstrip().endswith("/v1/models"), client
        assert " -d " not in clients[client]["curl"]
        assert clients[client]["continueConfig"] is None


def test_embedding_models_are_served_by_the_ollama_provider_and_offered_for_embeddings() -> None:
    result = deploy(CLIENTS, embeddingModels=["embed=nomic-embed-text"])
    uploads = reveal(result.named("gateway-files-carrier").inputs)["uploads"]
    config = yaml.safe_load(next(u["content"] for u in uploads if u["file"].endswith("config.yaml")))
    deployments = {m["model_name"]: m for m in config["model_list"]}
    assert deployments["embed"]["litellm_params"]["model"] == "ollama/nomic-embed-text"
    assert deployments["embed"]["model_info"]["mode"] == "embedding"
    assert deployments["coder"]["litellm_params"]["model"] == "ollama_chat/qwen2.5-coder:1.5b"
    assert any(resource.name.endswith("-pull-embed") for resource in result.resources)
    clients = result.outputs["clients"]
    assert '"model": "embed", "input": "Say hello."' in clients["indexer"]["curl"]
    assert "/v1/embeddings" in clients["indexer"]["curl"]
    indexer = yaml.safe_load(clients["indexer"]["continueConfig"])["models"]
    assert [(m["model"], m["roles"]) for m in indexer] == [("embed", ["embed"])]
    # The admin client may call everything: chat roles for chat models, embed for the other.
    ops = yaml.safe_load(clients["ops"]["continueConfig"])["models"]
    assert [(m["model"], m["roles"][0]) for m in ops] == [("small", "chat"), ("coder", "chat"), ("embed", "embed")]


def test_the_continue_config_carries_the_ca_itself_in_full_per_model() -> None:
    result = deploy(CLIENTS)
    models = yaml.safe_load(result.outputs["clients"]["ops"]["continueConfig"])["models"]
    assert len(models) == 2
    for model in models:
        scheme, encoded = model["requestOptions"]["caBundlePath"].split(",", 1)
        assert scheme == "data:application/x-pem-file;base64"
        assert base64.b64decode(encoded).decode() == result.outputs["caCertificate"]
    # No YAML anchors: editing one model's block by hand must not change the other's.
    assert "&id" not in result.outputs["clients"]["ops"]["continueConfig"]


def test_the_keys_file_holds_digests_and_permissions_never_keys() -> None:
    result = deploy(CLIENTS)
    entries = {entry["name"]: entry for entry in keys_file(result)["clients"]}
    for name, client in result.outputs["clients"].items():
        digest = hashlib.sha256(client["apiKey"].encode()).hexdigest()
        assert [k["sha256"] for k in entries[name]["keys"]] == [digest]
    assert entries["editor"]["models"] == ["coder"]
    assert entries["editor"]["apis"] == ["chat", "models"]
    assert entries["editor"]["rpm_limit"] == 60
    assert entries["indexer"]["models"] == []  # LiteLLM: every model
    assert entries["ops"]["admin"] is True


def test_no_client_key_is_in_any_container_input() -> None:
    result = deploy(CLIENTS)
    keys = [c["apiKey"] for c in result.outputs["clients"].values()]
    for container in result.of_type("docker:index/container:Container"):
        text = json.dumps(reveal(container.inputs))
        assert [k for k in keys if k in text] == [], container.name


def test_adding_removing_and_changing_clients_touches_only_key_delivery() -> None:
    before = deploy(CLIENTS)
    variants = {
        "added": {**CLIENTS, "tester": {}},
        "removed": {k: v for k, v in CLIENTS.items() if k != "indexer"},
        "narrowed": {**CLIENTS, "ops": {"admin": False, "apis": ["models"]}},
    }
    for label, clients in variants.items():
        touched = changed(before, deploy(clients))
        assert touched, label
        kinds = {r.type for r in [*before.resources, *deploy(clients).resources] if r.name in touched}
        assert kinds <= {*KEY_DELIVERY, "docker:index/container:Container"}, (label, kinds)
        # The only container touched is the one-shot writer: LiteLLM, Ollama and nginx keep running.
        assert {n for n in touched if n.endswith("-container")} == set(), (label, touched)


def test_removing_a_client_revokes_its_key() -> None:
    before = deploy(CLIENTS)
    after = deploy({k: v for k, v in CLIENTS.items() if k != "indexer"})
    revoked = hashlib.sha256(before.outputs["clients"]["indexer"]["apiKey"].encode()).hexdigest()
    digests = [k["sha256"] for entry in keys_file(after)["clients"] for k in entry["keys"]]
    assert revoked not in digests
    assert "gateway-client-keys-indexer-0" not in {r.name for r in after.resources}
    assert len(digests) == 2


def test_litellm_is_configured_for_the_auth_hook_and_mounts_keys_read_only() -> None:
    result = deploy(CLIENTS)
    gateway = reveal(result.named("gateway-container").inputs)
    uploads = {u["file"]: u["content"] for u in reveal(result.named("gateway-files-carrier").inputs)["uploads"]}
    config = yaml.safe_load(uploads["/etc/litellm/config.yaml"])
    assert config["general_settings"]["custom_auth"] == "llmstack_auth.user_api_key_auth"
    assert config["general_settings"]["custom_auth_run_common_checks"] is True
    assert config["litellm_settings"]["enable_post_custom_auth_checks"] is True
    assert config["general_settings"]["cancel_on_disconnect"] is True
    assert "async def user_api_key_auth" in uploads["/etc/litellm/llmstack_auth.py"]
    assert "def apply(" in uploads["/etc/litellm/llmstack_speedups.py"]
    # llmstack's answer when Ollama cannot be reached and its time limits, shipped beside the config.
    # With monitoring (on by default), LiteLLM's own metrics too, after the hook's refused-client names.
    callbacks = [
        "llmstack_errors.model_server_errors",
        "llmstack_timeouts.generation_deadline",
        "llmstack_auth.refused_clients",
        "prometheus",
    ]
    assert config["litellm_settings"]["callbacks"] == callbacks
    for module in ("llmstack_errors", "llmstack_timeouts", "llmstack_serve"):
        shipped = (PROJECT_DIR / f"components/shipped/litellm/{module}.py").read_text()
        assert uploads[f"/etc/litellm/{module}.py"] == shipped
    # Its files and the keys, both read-only; the ban list's volume writable.
    assert [(v["containerPath"], v.get("readOnly")) for v in gateway["volumes"]] == [
        ("/etc/litellm", True),
        ("/run/llmstack/keys", True),
        ("/var/lib/llmstack/bans", None),
    ]
    assert "LLMSTACK_KEYS_FILE=/run/llmstack/keys/clients.json" in gateway["envs"]
    assert "AIOHTTP_TTL_DNS_CACHE=5" in gateway["envs"], "LiteLLM finds a moved Ollama within seconds"
    writer = reveal(result.named("gateway-client-keys-writer").inputs)
    assert writer["networkMode"] == "none"
    keys_volume = gateway["volumes"][1]["volumeName"]
    assert [(v["volumeName"], v["containerPath"], v.get("readOnly", False)) for v in writer["volumes"]][1] == (
        keys_volume,
        "/keys",
        False,
    )
