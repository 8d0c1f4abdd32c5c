"""What the program declares, under Pulumi mocks (test double for the engine and providers)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from offline.engine import OfflineRun, is_secret, reveal
from offline.render import read_stack_config
from tests.support import LAN, PROJECT_DIR, STACK_FILES, TUNNEL

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
Deploy = Callable[..., OfflineRun]


def containers(result: OfflineRun) -> dict[str, dict[str, Any]]:
    return {c.name: reveal(c.inputs) for c in result.of_type(CONTAINER)}


def networks_of(container: dict[str, Any]) -> set[str]:
    return {n["name"] for n in container.get("networksAdvanced") or []}


def internal_networks(result: OfflineRun) -> set[str]:
    return {n.inputs["name"] for n in result.of_type(NETWORK) if n.inputs.get("internal")}


CLIENTS = {"editor": {"models": ["qwen2.5-0.5b"], "apis": ["chat", "models"]}, "ops": {"admin": True}}


@pytest.fixture(params=["local", "lan"])
def any_mode(request: pytest.FixtureRequest, deploy: Deploy) -> OfflineRun:
    return deploy(clients=CLIENTS) if request.param == "local" else deploy(**LAN, clients=CLIENTS)


def test_ollama_is_never_published(any_mode: OfflineRun) -> None:
    ollama = containers(any_mode)["ollama-container"]
    assert not ollama.get("ports")
    assert not ollama.get("publishAllPorts")


def test_only_the_gateway_and_the_probe_share_a_network_with_ollama(any_mode: OfflineRun, deploy: Deploy) -> None:
    found = containers(any_mode)
    ollama_networks = networks_of(found["ollama-container"])
    neighbours = {name for name, c in found.items() if name != "ollama-container" and networks_of(c) & ollama_networks}
    # The probe (monitoring) only asks Ollama for its model list; without monitoring, LiteLLM alone.
    assert neighbours == {"gateway-container", "monitoring-probe"}
    without = containers(deploy(clients=CLIENTS, monitoring="false"))
    assert {name for name, c in without.items() if networks_of(c) & ollama_networks} == {
        "ollama-container",
        "gateway-container",
    }
    shared = networks_of(found["gateway-container"]) & ollama_networks
    assert shared <= internal_networks(any_mode), "Ollama and LiteLLM must talk over an internal network"


def test_serving_ollama_has_no_route_out_and_only_the_pulls_do(any_mode: OfflineRun) -> None:
    found = containers(any_mode)
    assert networks_of(found["ollama-container"]) <= internal_networks(any_mode), "serving Ollama: no egress"
    egress = {
        n.inputs["name"] for n in any_mode.of_type("docker:index/network:Network") if n.name.endswith("-model-egress")
    }
    users = sorted(name for name, c in found.items() if networks_of(c) & egress)
    assert users, "the pulls reach the registry through it"
    assert all(u.startswith("ollama-pull-") for u in users), users


def test_model_pulls_run_their_own_server_one_after_another(deploy: Deploy) -> None:
    result = deploy(models=["small=qwen2.5:0.5b", "embed=nomic-embed-text:v1.5"])
    found = containers(result)
    pullers = {name: c for name, c in found.items() if name.startswith("ollama-pull-")}
    assert set(pullers) == {"ollama-pull-small", "ollama-pull-embed"}
    volume = result.named("ollama-models").inputs["name"]
    for puller in pullers.values():
        assert "networkMode" not in puller, "no longer in the serving Ollama's network namespace"
        assert [n["name"] for n in puller["networksAdvanced"]] == [
            n.inputs["name"] for n in result.of_type("docker:index/network:Network") if n.name.endswith("-model-egress")
        ]
        assert not puller.get("ports")
        assert puller["mustRun"] is False
        assert puller["attach"] is True
        assert puller["entrypoints"] == ["/bin/sh", "-c"]
        assert [(v["volumeName"], v.get("readOnly", False)) for v in puller["volumes"]] == [(volume, False)]
    assert sorted(p["command"][2] for p in pullers.values()) == ["nomic-embed-text:v1.5", "qwen2.5:0.5b"]
    assert "ollama-pull-small" in result.named("ollama-pull-embed").options["dependsOn"]


def test_only_the_edge_publishes_on_the_configured_address_and_prometheus_on_loopback(deploy: Deploy) -> None:
    for result, address, port in [
        (deploy(), "127.0.0.1", 8443),
        (deploy(**LAN, httpsPort="9443"), LAN["listenAddress"], 9443),
        (deploy(monitoring="false"), "127.0.0.1", 8443),
    ]:
        publishing = {
            name: [(p["ip"], int(p["external"])) for p in c["ports"]]
            for name, c in containers(result).items()
            if c.get("ports")
        }
        assert publishing.pop("edge-container") == [(address, port)]
        assert publishing in ({"monitoring-prometheus": [("127.0.0.1", 9090)]}, {})
        assert bool(publishing) == any(r.name == "monitoring" for r in result.resources)


def test_internal_services_bind_inside_internal_networks_only(any_mode: OfflineRun) -> None:
    found = containers(any_mode)
    assert networks_of(found["gateway-container"]) <= internal_networks(any_mode)


def test_model_volume_is_protected_and_survives_deletion(any_mode: OfflineRun) -> None:
    volume = any_mode.named("ollama-models")
    assert volume.options["protect"] is True
    assert volume.options["retainOnDelete"] is True
    mounts = containers(any_mode)["ollama-container"]["volumes"]
    # Mounted read-only, out of /root (0700: a non-root uid could not reach a mount below it).
    assert [(m["volumeName"], m["containerPath"], m["readOnly"]) for m in mounts] == [
        (volume.inputs["name"], "/var/lib/ollama", True)
    ]


def test_bans_live_on_their_own_unprotected_volume_and_reach_the_hook(any_mode: OfflineRun) -> None:
    # Not protected: losing the file lifts the bans, nothing more; `pulumi destroy` must stay possible.
    volume = any_mode.named("gateway-bans")
    assert not volume.options.get("protect")
    gateway = containers(any_mode)["gateway-container"]
    mounts = {m["containerPath"]: m for m in gateway["volumes"]}
    assert mounts["/var/lib/llmstack/bans"]["volumeName"] == volume.inputs["name"]
    assert not mounts["/var/lib/llmstack/bans"].get("readOnly")
    assert volume.inputs["name"].endswith("-litellm-bans")
    envs = dict(e.split("=", 1) for e in gateway["envs"])
    assert envs["LLMSTACK_BANS_FILE"].startswith("/var/lib/llmstack/bans/")
    assert (envs["LLMSTACK_BAN_MAX_RETRY"], envs["LLMSTACK_BAN_FIND_SECONDS"], envs["LLMSTACK_BAN_SECONDS"]) == (
        "3",
        "600",
        "3600",
    )


def test_ban_keys_reach_the_gateway_and_admins_are_spared_only_when_asked(deploy: Deploy) -> None:
    def ban_env(**config: object) -> dict[str, str]:
        gateway = containers(deploy(**config))["gateway-container"]
        return {k: v for k, v in (e.split("=", 1) for e in gateway["envs"]) if k.startswith("LLMSTACK_BAN")}

    spared = ban_env(
        **LAN, adminCidrs=["192.168.50.0/28"], banExemptAdmins="true", banMaxRetry="5", banTimeSeconds="60"
    )
    assert spared["LLMSTACK_BAN_EXEMPT_CIDRS"] == "192.168.50.0/28"
    assert (spared["LLMSTACK_BAN_MAX_RETRY"], spared["LLMSTACK_BAN_SECONDS"]) == ("5", "60")
    assert ban_env(**LAN, adminCidrs=["192.168.50.0/28"])["LLMSTACK_BAN_EXEMPT_CIDRS"] == ""


def test_editing_the_model_list_leaves_ollama_and_its_volume_untouched(deploy: Deploy) -> None:
    before = deploy(models=["small=qwen2.5:0.5b"])
    after = deploy(models=["small=qwen2.5:1.5b", "coder=qwen2.5-coder:1.5b"])
    for name in ("ollama-container", "ollama-models", "ollama-image"):
        assert before.named(name).inputs == after.named(name).inputs, f"{name} would be updated"
    assert before.named("ollama-pull-small").inputs != after.named("ollama-pull-small").inputs


def test_every_secret_output_is_secret(any_mode: OfflineRun) -> None:
    keys = [any_mode.outputs["masterKey"], *(c["apiKey"] for c in any_mode.outputs["clients"].values())]
    holding_a_key = {name for name, value in any_mode.outputs.items() if any(k in json.dumps(value) for k in keys)}
    assert holding_a_key == {"masterKey", "clients"}
    assert holding_a_key <= any_mode.secret_outputs
    assert "PRIVATE KEY" not in json.dumps(any_mode.outputs)


def test_every_key_is_generated_long_and_prefixed(any_mode: OfflineRun) -> None:
    keys = [any_mode.outputs["masterKey"], *(c["apiKey"] for c in any_mode.outputs["clients"].values())]
    assert len(set(keys)) == 3
    for key in keys:
        assert key.startswith("sk-")
        assert len(key) - len("sk-") >= 32
    passwords = {r.name for r in any_mode.of_type("random:index/randomPassword:RandomPassword")}
    assert passwords == {
        "gateway-master-key",
        "gateway-boot-key",
        "gateway-client-keys-editor-0",
        "gateway-client-keys-ops-0",
    }


def test_the_master_key_reaches_litellm_only_as_a_digest_and_its_boot_key_only_as_a_secret(
    any_mode: OfflineRun,
) -> None:
    master = any_mode.outputs["masterKey"]
    gateway = any_mode.named("gateway-container")
    assert is_secret(gateway.inputs["envs"])
    inputs = reveal(gateway.inputs)
    carrier = reveal(any_mode.named("gateway-files-carrier").inputs)
    config_text = carrier["uploads"][0]["content"]
    assert yaml.safe_load(config_text)["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert master not in json.dumps([inputs, carrier]), "no file or variable of LiteLLM's carries the key itself"
    boot = next(e.split("=", 1)[1] for e in inputs["envs"] if e.startswith("LITELLM_MASTER_KEY="))
    assert boot != master
    writer = reveal(any_mode.named("gateway-client-keys-inbox-carrier").inputs)
    keys_file = json.loads(next(u["content"] for u in writer["uploads"] if u["file"].endswith("clients.json")))
    assert keys_file["master"] == [{"sha256": hashlib.sha256(master.encode()).hexdigest(), "not_after": None}]
    assert master not in json.dumps(writer)
    assert boot not in json.dumps(writer)


def test_tls_private_key_is_delivered_as_a_secret_to_nginx_alone(any_mode: OfflineRun) -> None:
    carrier = any_mode.named("edge-files-carrier")
    assert is_secret(carrier.inputs["uploads"])
    key_upload = next(u for u in reveal(carrier.inputs)["uploads"] if u["file"].endswith(".key"))
    # Root-owned 0444 in a volume only nginx (uid 101, master and workers alike) mounts.
    assert key_upload["permissions"] == "0444"
    files_volume = reveal(carrier.inputs)["volumes"][0]["volumeName"]
    readers = [
        name
        for name, c in containers(any_mode).items()
        if files_volume in {v["volumeName"] for v in c.get("volumes") or []}
    ]
    assert sorted(readers) == ["edge-container", "edge-files-carrier"]
    assert any_mode.named("edge-container").inputs["volumes"][0]["readOnly"] is True
    assert "PRIVATE KEY" in key_upload["content"]


def test_ollama_queue_is_bounded_for_admission_control(deploy: Deploy) -> None:
    envs = containers(deploy(ollamaMaxQueue="4", ollamaNumParallel="2"))["ollama-container"]["envs"]
    assert "OLLAMA_MAX_QUEUE=4" in envs
    assert "OLLAMA_NUM_PARALLEL=2" in envs


def test_the_context_window_is_the_servers_setting(deploy: Deploy) -> None:
    envs = containers(deploy(ollamaContextLength="32768"))["ollama-container"]["envs"]
    assert "OLLAMA_CONTEXT_LENGTH=32768" in envs
    default = containers(deploy())["ollama-container"]["envs"]
    assert not any(env.startswith("OLLAMA_CONTEXT_LENGTH=") for env in default), "0 keeps Ollama's own default"


def test_gpus_are_requested_only_when_configured(deploy: Deploy) -> None:
    none = containers(deploy(gpus="none"))["ollama-container"]
    assert "gpus" not in none
    assert "deviceRequests" not in none
    every = containers(deploy(gpus="all"))["ollama-container"]
    assert every["gpus"] == "all"
    assert "deviceRequests" not in every, "the provider refuses gpus and device_requests together"


def test_a_gpu_list_is_a_device_request_never_a_gpus_string(deploy: Deploy) -> None:
    # `gpus="device=0,1"` parses as Count=1 plus DeviceIDs=[0]: the engine refuses to start it.
    listed = containers(deploy(gpus="0,1"))["ollama-container"]
    assert "gpus" not in listed
    assert listed["deviceRequests"] == [{"driver": "nvidia", "deviceIds": ["0", "1"], "capabilities": ["gpu"]}]


def test_every_container_is_hardened(any_mode: OfflineRun) -> None:
    for name, container in containers(any_mode).items():
        assert container["capabilities"]["drops"] == ["ALL"], name
        assert container["securityOpts"] == ["no-new-privileges"], name
        assert container["logOpts"] == {"max-size": "10m", "max-file": "3"}, name
        assert container.get("memory", 0) > 0, name
        assert not container.get("privileged"), name
        if container.get("mustRun", True):
            assert container["restart"] == "unless-stopped", name
            if name in NO_SHELL:
                continue
            assert container["healthcheck"]["tests"][0] == "CMD", name


NAMED_CONTAINERS = 14
"""The stack's Docker containers with monitoring on, carriers and one-shot jobs included: Ollama and
its pull, LiteLLM with its files carrier, key writer and inbox and the ban list's setup, nginx and
its files carrier, Prometheus and its carrier, the nginx exporter, the probe and its carrier."""
NO_SHELL = {"monitoring-nginx-exporter"}
"""Images FROM scratch, with nothing to run a healthcheck: Prometheus's `up` (alert TargetDown) watches them."""


def test_docker_objects_are_named_per_stack(deploy: Deploy) -> None:
    names = [c["name"] for c in containers(deploy(stack="blue")).values() if "name" in c]
    assert len(names) == NAMED_CONTAINERS, names
    assert all(name.startswith("llmstack-blue-") for name in names)


@pytest.mark.parametrize("config", [{}, LAN, TUNNEL], ids=["local", "lan", "tunnel"])
def test_every_network_can_be_replaced_under_its_fixed_name(config: dict[str, Any], deploy: Deploy) -> None:
    result = deploy(stack="blue", **config)
    networks = result.of_type(NETWORK)
    # Monitoring's (on by default): its internal network, Prometheus's published one, Alertmanager's way out;
    # in tunnel mode the tunnel watch's too.
    assert len(networks) == (6 if config is TUNNEL else 4) + 3
    for network in networks:
        # Docker refuses a second network of the same name: the old one must go first.
        assert network.inputs["name"] == f"llmstack-blue-{network.name.removeprefix('network-')}"
        assert network.options.get("deleteBeforeReplace") is True, network.name


def test_every_resource_sits_under_a_component(any_mode: OfflineRun) -> None:
    components = {r.name for r in any_mode.resources if r.type.startswith("llmstack:")}
    for resource in any_mode.resources:
        if resource.parent is None:
            assert resource.type.startswith("llmstack:"), f"{resource.name} has no component"
        else:
            assert resource.parent in components, resource.name
            assert resource.name.startswith(f"{resource.parent}-"), resource.name


def test_a_named_docker_host_gets_an_explicit_provider(deploy: Deploy) -> None:
    result = deploy(dockerHost="ssh://ops@gpu-host")
    (provider,) = result.of_type("pulumi:providers:docker")
    assert provider.inputs["host"] == "ssh://ops@gpu-host"
    for container in result.of_type(CONTAINER):
        urn, _, _id = container.options["provider"].rpartition("::")
        assert urn.endswith(f"pulumi:providers:docker::{provider.name}"), container.name


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_every_stack_file_in_the_repo_deploys(stack_file: Any, deploy: Deploy) -> None:
    config, _ = read_stack_config(stack_file, notify=lambda _: None)
    plain = {k.removeprefix("llmstack:"): v for k, v in config.items()}
    result = deploy(stack=stack_file.name.split(".")[1], **plain)
    assert {c.name for c in result.of_type(CONTAINER)} >= {"ollama-container", "gateway-container", "edge-container"}


def test_the_dev_stack_never_imports_cloudflare(tmp_path: Any) -> None:
    script = (
        "import sys; from pathlib import Path; from offline.render import render_stack; "
        f"render_stack('dev', Path({str(tmp_path)!r}), notify=lambda _: None); "
        "print(sorted(m for m in sys.modules if m.startswith('pulumi_cloudflare')))"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "resources.json").is_file(), "the render must have run for the check to mean anything"


def test_resource_names_are_unique(any_mode: OfflineRun) -> None:
    # Mocks do not detect duplicate URNs; the engine would refuse the update.
    counts = Counter((r.type, r.name) for r in any_mode.resources)
    assert [key for key, count in counts.items() if count > 1] == []


def test_basic_auth_adds_a_stable_cheap_htpasswd_and_client_headers(deploy: Deploy) -> None:
    first = deploy(basicAuth="true", clients={"dev": {}})
    assert {r.name for r in first.of_type("random:index/randomPassword:RandomPassword")} == {
        "gateway-master-key",
        "gateway-boot-key",
        "gateway-client-keys-dev-0",
        "edge-basic-auth-password",
    }
    inbox = reveal(first.named("edge-basic-auth-inbox-carrier").inputs)
    writer = reveal(first.named("edge-basic-auth-writer").inputs)
    (line,) = (u["content"] for u in inbox["uploads"])
    assert line.startswith("llmstack:$apr1$")
    assert first.outputs["basicAuthPassword"] not in line
    assert is_secret(first.named("edge-basic-auth-inbox-carrier").inputs["uploads"])
    assert writer["networkMode"] == "none"
    edge = reveal(first.named("edge-container").inputs)
    files = reveal(first.named("edge-files-carrier").inputs)["uploads"]
    assert not [u for u in files if "htpasswd" in u["file"]], "nginx reads it from its own volume"
    _, mount = edge["volumes"]
    assert (mount["containerPath"], mount["readOnly"]) == ("/etc/nginx/auth", True)
    assert mount["volumeName"] == writer["volumes"][1]["volumeName"]
    assert {"basicAuthPassword", "clients"} <= first.secret_outputs
    client = first.outputs["clients"]["dev"]
    assert client["headers"]["x-litellm-api-key"] == client["apiKey"]
    continue_models = yaml.safe_load(client["continueConfig"])["models"]
    assert all("apiKey" not in m for m in continue_models)
    assert all(m["requestOptions"]["headers"]["Authorization"].startswith("Basic ") for m in continue_models)


def test_without_basic_auth_clients_need_no_extra_headers(deploy: Deploy) -> None:
    result = deploy(clients={"dev": {}})
    assert result.outputs["clients"]["dev"]["headers"] == {}
    assert "basicAuthPassword" not in result.outputs
    assert not [u for u in reveal(result.named("edge-files-carrier").inputs)["uploads"] if "htpasswd" in u["file"]]


def test_same_state_gives_the_same_edge_container(deploy: Deploy) -> None:
    # With the password and salt unchanged in state, a second `pulumi up` must not replace nginx.
    from components.program import run
    from offline.engine import run_offline
    from tests.support import namespaced

    config = namespaced({"basicAuth": "true"})
    first = run_offline(run, stack="s", config=config, seed=b"state")
    second = run_offline(run, stack="s", config=config, seed=b"state")
    for name in ("edge-container", "edge-files-carrier", "edge-basic-auth-inbox-carrier", "edge-basic-auth-writer"):
        assert reveal(first.named(name).inputs) == reveal(second.named(name).inputs), name


def test_litellm_runs_the_configured_workers_sharing_one_rate_count(deploy: Callable[..., OfflineRun]) -> None:
    gateway = containers(deploy(litellmWorkers=3))["gateway-container"]
    command = gateway["command"]
    assert command[command.index("--num_workers") + 1] == "3"
    (rates_env,) = [env for env in gateway["envs"] if env.startswith("LLMSTACK_RATES_FILE=")]
    # The container's own /tmp: shared by its workers, never by another container.
    container_tmp = "/tmp/"  # noqa: S108 - a path inside the container, checked, not used
    assert rates_env.removeprefix("LLMSTACK_RATES_FILE=").startswith(container_tmp)
    assert not any(volume["containerPath"].startswith(container_tmp) for volume in gateway["volumes"])


def nat_networks(result: OfflineRun) -> set[str]:
    """Networks whose containers' own connections are masqueraded to the host's address: a way out."""
    return {
        n.inputs["name"]
        for n in result.of_type(NETWORK)
        if not n.inputs.get("internal") and (n.inputs.get("options") or {}).get(MASQUERADE) != "false"
    }


MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"


def test_only_the_model_pulls_have_a_way_out(any_mode: OfflineRun) -> None:
    """Publishing needs a non-internal bridge, not NAT out: nginx's and Prometheus's bridges have none."""
    outbound = nat_networks(any_mode)
    with_way_out = {name for name, c in containers(any_mode).items() if networks_of(c) & outbound}
    assert with_way_out == {"ollama-pull-qwen2.5-0.5b"}
    published = [n for n in any_mode.of_type(NETWORK) if n.name.endswith("publish")]
    assert {n.name for n in published} == {"network-publish", "network-monitoring-publish"}
    assert all(n.inputs["options"] == {MASQUERADE: "false"} for n in published)
