"""The GPU pool under Pulumi mocks (test double for the engine and providers).

Per-host engines, nothing published but each terminator on its host's private address, keys
secret, the single-host stack unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.gateway import POOL_DIR, POOL_FILE
from components.program import run
from components.shipped.litellm.llmstack_contract import POOL_FILE_ENV
from offline.engine import OfflineRun, is_secret, reveal, run_offline
from tests.mocks.test_stack_resources import MASQUERADE, containers, nat_networks, networks_of
from tests.support import TUNNEL, namespaced

CONTAINER = "docker:index/container:Container"
PROVIDER = "pulumi:providers:docker"
MODELS = ["small=qwen2.5:0.5b", "big=qwen2.5:14b", "embed=nomic-embed-text:v1.5"]
HOSTS: dict[str, Any] = {
    "gpu1": {"dockerHost": "ssh://ops@gpu1", "address": "10.0.0.11", "parallel": 4},
    "gpu2": {"dockerHost": "ssh://ops@gpu2", "address": "10.0.0.12", "models": ["big"], "parallel": 2},
    "gpu3": {"dockerHost": "tcp://10.0.0.13:2376", "address": "10.0.0.13", "models": ["small", "big", "embed"]},
}
CLIENTS = {"editor": {"models": ["qwen2.5-0.5b"]}}
GOLDEN_URNS = Path(__file__).with_name("single_host_urns.json")
"""The single-host stack's resources before the pool existed (generated from main at 45088b1).
One missing now was renamed, which the engine would replace: rename only with aliases."""


def pool(hosts: dict[str, Any] = HOSTS, **extra: Any) -> OfflineRun:
    config = {
        "models": MODELS[:2],
        "embeddingModels": MODELS[2:],
        "monitoring": "false",
        "gatewayAddress": "10.0.0.2",
        "gpuHosts": hosts,
    }
    return run_offline(run, stack="pool", config=namespaced({**config, **extra}), seed=b"pool-state")


@pytest.fixture(scope="module")
def three() -> OfflineRun:
    return pool()


def urns(result: OfflineRun) -> list[str]:
    """Each resource's type chain and name: what its URN is made of."""
    by_name = {r.name: r for r in result.resources}
    found = []
    for resource in result.resources:
        chain, parent = [resource.type], resource.parent
        while parent is not None:
            chain.insert(0, by_name[parent].type)
            parent = by_name[parent].parent
        found.append("$".join(chain) + "::" + resource.name)
    return sorted(found)


@pytest.mark.parametrize("mode", ["local", "tunnel"])
def test_the_single_host_stack_keeps_every_resource_name(mode: str) -> None:
    config = {"clients": {"editor": {"models": ["qwen2.5-0.5b"]}}, **(TUNNEL if mode == "tunnel" else {})}
    result = run_offline(run, stack="dev", config=namespaced(config))
    # Resources may be added (a new capability); none may be renamed or go.
    missing = set(json.loads(GOLDEN_URNS.read_text())[mode]) - set(urns(result))
    assert missing == set()


def test_each_host_is_deployed_through_its_own_engine(three: OfflineRun) -> None:
    providers = {r.name: r.inputs["host"] for r in three.of_type(PROVIDER)}
    assert providers == {f"gpu-{name}-engine": host["dockerHost"] for name, host in HOSTS.items()}
    docker_resources = [r for r in three.resources if r.type.startswith("docker:")]
    for resource in docker_resources:
        host = next((name for name in HOSTS if resource.name.startswith(f"gpu-{name}-")), None)
        provider = resource.options.get("provider") or ""
        if host is None:
            assert not provider, f"{resource.name} is the gateway host's and uses the stack's engine"
        else:
            assert f"::gpu-{host}-engine::" in provider, f"{resource.name} must be created on {host}'s engine"


def test_only_the_edge_and_each_terminator_publish(three: OfflineRun) -> None:
    published = {r.name: reveal(r.inputs).get("ports") for r in three.of_type(CONTAINER) if r.inputs.get("ports")}
    expected = {f"gpu-{name}-terminator": host["address"] for name, host in HOSTS.items()}
    assert set(published) == {"edge-container", *expected}
    for name, address in expected.items():
        assert [(p["ip"], p["internal"]) for p in published[name]] == [(address, 11443)]


def test_each_host_pulls_only_its_models_into_its_own_volume(three: OfflineRun) -> None:
    pulls = {r.name for r in three.of_type(CONTAINER) if "-ollama-pull-" in r.name}
    assert pulls == {
        "gpu-gpu1-ollama-pull-small", "gpu-gpu1-ollama-pull-big", "gpu-gpu1-ollama-pull-embed",
        "gpu-gpu2-ollama-pull-big",
        "gpu-gpu3-ollama-pull-small", "gpu-gpu3-ollama-pull-big", "gpu-gpu3-ollama-pull-embed",
    }  # fmt: skip
    volumes = [r for r in three.resources if r.type == "docker:index/volume:Volume" and "ollama" in r.name]
    assert sorted(v.name for v in volumes) == [f"gpu-{n}-ollama-models" for n in sorted(HOSTS)]
    assert all(v.options.get("protect") and v.options.get("retainOnDelete") for v in volumes)
    assert not [r for r in three.resources if r.name.startswith("ollama-")], "no Ollama beside the gateway"


def test_ollama_on_a_host_shares_its_network_with_the_terminator_alone(three: OfflineRun) -> None:
    found = {r.name: reveal(r.inputs) for r in three.of_type(CONTAINER)}
    for name, host in HOSTS.items():
        ollama = found[f"gpu-{name}-ollama-container"]
        assert not ollama.get("ports")
        assert f"OLLAMA_NUM_PARALLEL={host.get('parallel', 1)}" in ollama["envs"]
        models_net = next(n["name"] for n in ollama["networksAdvanced"] if n["name"].endswith("-models"))
        sharing = {
            c for c, inputs in found.items() if models_net in {n["name"] for n in inputs.get("networksAdvanced") or []}
        }
        assert sharing == {f"gpu-{name}-ollama-container", f"gpu-{name}-terminator"}


def test_private_keys_reach_containers_as_secrets_only(three: OfflineRun) -> None:
    keys = 0
    for container in three.of_type(CONTAINER):
        # As the engine receives them: secrets marked value by value.
        for upload in container.wire.get("uploads") or []:
            if "PRIVATE KEY" in str(reveal(upload["content"])):
                keys += 1
                assert is_secret(upload["content"]), f"{container.name}: {upload['file']}"
                # Only carriers take files (#22); 0444 in a volume its one nginx (uid 101) mounts.
                assert container.name.endswith("files-carrier"), container.name
                assert upload["permissions"] == "0444"
    assert keys == 1 + 1 + len(HOSTS), "the edge's, the egress's client key and one per host"
    assert "PRIVATE KEY" not in json.dumps({k: v for k, v in three.outputs.items() if k not in three.secret_outputs})


def test_the_router_has_one_deployment_per_model_per_host(three: OfflineRun) -> None:
    uploads = {u["file"]: u["content"] for u in reveal(three.named("gateway-files-carrier").inputs)["uploads"]}
    config = yaml.safe_load(uploads["/etc/litellm/config.yaml"])
    assert config["model_list"] == [], "the deployments are in the pool file, which LiteLLM re-reads"
    pool_file = reveal(three.named("gateway-pool-carrier").inputs)["uploads"]
    assert [u["file"] for u in pool_file] == [POOL_FILE]
    deployments = sorted(
        (d["model_name"], d["litellm_params"]["api_base"], d["litellm_params"]["max_parallel_requests"])
        for d in yaml.safe_load(pool_file[0]["content"])["model_list"]
    )
    queue = 16  # ollamaMaxQueue's default
    assert deployments == sorted(
        [
            *((m, "http://pool-egress:11434/hosts/gpu1", 4 + queue) for m in ("small", "big", "embed")),
            ("big", "http://pool-egress:11434/hosts/gpu2", 2 + queue),
            *((m, "http://pool-egress:11434/hosts/gpu3", 1 + queue) for m in ("small", "big", "embed")),
        ]
    )
    router = config["router_settings"]
    assert router["routing_strategy"] == "least-busy"
    assert router["disable_cooldowns"] is False
    retried = {k for k, v in router["retry_policy"].items() if v}
    assert retried == {"DefaultRetries", "InternalServerErrorRetries"}, "connection failures and the egress's 500"
    assert all(v in (0, 1) for v in router["retry_policy"].values())


def test_the_egress_answers_for_every_host_and_publishes_nothing(three: OfflineRun) -> None:
    egress = reveal(three.named("pool-egress-container").inputs)
    assert not egress.get("ports")
    aliases = [a for n in egress["networksAdvanced"] for a in n.get("aliases") or []]
    assert aliases == ["pool-egress"], "one name whichever hosts exist: a new alias would replace it"
    # A vanished host is noticed in seconds, not Linux's 15 minutes (tests/docker/test_pool_engines.py).
    assert egress["sysctls"]["net.ipv4.tcp_retries2"] == "4"
    carrier = reveal(three.named("pool-egress-routes-carrier").inputs)
    [routes] = [u["content"] for u in carrier["uploads"] if u["file"] == "/etc/nginx/pool/routes.conf"]
    for name, host in HOSTS.items():
        assert f"upstream pool-host-{name} {{" in routes
        assert f"server {host['address']}:11443 max_fails=0;" in routes
        assert f"    {name} pool-host-{name};" in routes
    # Watched beside nginx (PID 1), which reloads gracefully when the hosts change.
    assert egress["entrypoints"] == ["sh", "-c"]
    watcher = "sh /etc/nginx/llmstack/reload-on-change.sh 2 1 /etc/nginx/pool/routes.conf &"
    assert egress["command"][0].startswith(watcher)
    assert egress["command"][0].endswith("& exec nginx -g 'daemon off; pid /tmp/nginx.pid;'")


def test_adding_a_host_touches_nothing_on_the_others() -> None:
    two = pool({k: v for k, v in HOSTS.items() if k != "gpu3"})
    three = pool()
    before = {r.name: reveal(r.inputs) for r in two.resources}
    after = {r.name: reveal(r.inputs) for r in three.resources}
    changed = {name for name in before if before[name] != after.get(name)}
    # LiteLLM's deployments and the egress's hosts are files of their own, taken in place: only
    # their carriers change (docs/SCALING.md).
    assert changed == {
        "gateway-pool-carrier",
        "pool-egress-routes-carrier",
    }
    assert {
        n for n in after.keys() - before.keys() if not n.startswith(("gpu-gpu3", "pool-certificates-gpu3"))
    } == set()


def test_a_host_more_replaces_only_the_pool_files_carrier_of_the_gateway() -> None:
    """LiteLLM's container (command, environment, mounts, options) is the same with two hosts and three."""
    two = pool({k: v for k, v in HOSTS.items() if k != "gpu3"})
    three = pool()
    gateway = {r.name for r in three.resources if r.name.startswith("gateway-")}
    changed = {n for n in gateway if reveal(two.named(n).inputs) != reveal(three.named(n).inputs)}
    assert changed == {"gateway-pool-carrier"}
    before, after = two.named("gateway-container"), three.named("gateway-container")
    assert before.wire == after.wire
    assert before.options == after.options
    assert f"{POOL_FILE_ENV}={POOL_FILE}" in reveal(after.inputs)["envs"]
    pool_volume = three.named("gateway-pool-volume").inputs["name"]
    assert {"volumeName": pool_volume, "containerPath": POOL_DIR, "readOnly": True} in after.inputs["volumes"]


def _touched(before: OfflineRun, after: OfflineRun) -> set[str]:
    old = {r.name: reveal(r.inputs) for r in before.resources}
    new = {r.name: reveal(r.inputs) for r in after.resources}
    return {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}


def test_moving_a_model_between_hosts_only_adds_and_drops_pulls() -> None:
    before = pool()
    moved = {**HOSTS, "gpu2": {**HOSTS["gpu2"], "models": ["small"]}}
    assert _touched(before, pool(moved)) == {
        "gateway-pool-carrier",  # the pool file lists the deployments; LiteLLM re-reads it
        "gpu-gpu2-ollama-pull-big",
        "gpu-gpu2-ollama-pull-small",
    }


def test_removing_a_host_touches_no_other_hosts_resources() -> None:
    before = pool()
    after = pool({k: v for k, v in HOSTS.items() if k != "gpu2"})
    touched = _touched(before, after)
    assert {n for n in touched if n != "gpu-gpu2" and not n.startswith(("gpu-gpu2-", "pool-certificates-gpu2-"))} == {
        "gateway-pool-carrier",
        "pool-egress-routes-carrier",
    }
    # The departing host's model volume is protected and retained: `pulumi up` refuses to drop it
    # until the operator unprotects it (docs/SCALING.md), and its models stay on that machine.
    volume = before.named("gpu-gpu2-ollama-models")
    assert volume.options.get("protect") is True
    assert volume.options.get("retainOnDelete") is True


def test_on_every_host_only_the_pulls_and_the_pool_egress_have_a_way_out(three: OfflineRun) -> None:
    """Each terminator publishes through a bridge without NAT out, like the edge (test_stack_resources)."""
    outbound = nat_networks(three)
    with_way_out = {name for name, c in containers(three).items() if networks_of(c) & outbound}
    pulls = {name for name in with_way_out if "-ollama-pull-" in name}
    assert with_way_out - pulls == {"pool-egress-container"}  # it must reach the hosts, masqueraded
    assert pulls
    assert all(name.startswith("gpu-") for name in pulls)
    for name in HOSTS:
        publish = three.named(f"gpu-{name}-publish")
        assert publish.inputs["options"] == {MASQUERADE: "false"}


def test_monitoring_probes_each_host_through_the_egress_for_the_models_it_carries() -> None:
    watched = pool(monitoring="true")
    probe = reveal(watched.named("monitoring-probe").inputs)
    command = probe["command"]
    hosts = [command[i + 1 : i + 3] for i, arg in enumerate(command) if arg == "--host"]
    assert hosts == [[name, f"http://pool-egress:11434/hosts/{name}"] for name in HOSTS]
    carried = sorted(tuple(command[i + 1 : i + 3]) for i, arg in enumerate(command) if arg == "--host-model")
    assert ("gpu2", "big=qwen2.5:14b") in carried
    assert not [c for c in carried if c[0] == "gpu2" and c[1] != "big=qwen2.5:14b"], "gpu2 carries big alone"
    assert len(carried) == 3 + 1 + 3
    assert "--ollama" not in command
    # It reaches the egress on the models network, where LiteLLM does.
    models_network = reveal(watched.named("network-models").inputs)["name"]
    assert models_network in {n["name"] for n in probe["networksAdvanced"]}
