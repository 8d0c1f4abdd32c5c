"""The kill switch (`paused: true`) removes exactly the containers clients reach and keeps the rest.

Rendered twice with one state (the offline engine's stand-in for an unchanged Pulumi state), as in
test_rotation.py: pausing deletes nginx (and the tunnel connector) and touches nothing else, so no
secret, key, volume, model or network changes, and unpausing brings back the same container.
"""

from __future__ import annotations

from typing import Any

from components.monitoring import PROMETHEUS_PORT
from components.program import run
from offline.engine import OfflineRun, reveal, run_offline
from tests.support import TUNNEL, namespaced

LOCAL: dict[str, Any] = {"basicAuth": "true", "clients": {"editor": {}}}


def deploy(base: dict[str, Any], **changes: Any) -> OfflineRun:
    return run_offline(run, stack="kill", config=namespaced({**base, **changes}), seed=b"one-state")


def state(deployed: OfflineRun) -> dict[str, Any]:
    return {r.name: reveal(r.inputs) for r in deployed.resources}


def test_pausing_removes_only_the_edge_container_and_keeps_every_secret() -> None:
    serving, paused = state(deploy(LOCAL)), state(deploy(LOCAL, paused="true"))
    assert set(serving) - set(paused) == {"edge-container"}
    assert set(paused) <= set(serving)
    assert {name for name in paused if paused[name] != serving[name]} == set()
    # Only the operator's Prometheus stays published, on the host's loopback (monitoring keeps watching).
    published = [port for r in paused.values() for port in r.get("ports") or []]
    assert [(p["ip"], p["internal"]) for p in published] == [("127.0.0.1", PROMETHEUS_PORT)]


def test_unpausing_brings_back_the_same_edge_and_the_same_keys() -> None:
    before, paused, after = deploy(LOCAL), deploy(LOCAL, paused="true"), deploy(LOCAL, paused="false")
    assert state(after) == state(before)
    for outputs in (paused.outputs, after.outputs):
        assert outputs["clients"] == before.outputs["clients"]
        assert outputs["masterKey"] == before.outputs["masterKey"]
        assert outputs["basicAuthPassword"] == before.outputs["basicAuthPassword"]


def test_pausing_a_tunnel_stack_stops_the_connector_and_keeps_the_tunnel() -> None:
    base = {**TUNNEL, "clients": {"editor": {}}}
    serving, paused = state(deploy(base)), state(deploy(base, paused="true"))
    # The watch lives in the connector's network namespace: it goes with it.
    assert set(serving) - set(paused) == {"edge-container", "tunnel-container", "tunnel-watch"}
    assert {"tunnel-tunnel", "tunnel-secret", "tunnel-image"} <= set(paused)
    assert {name for name in paused if paused[name] != serving[name]} == set()
