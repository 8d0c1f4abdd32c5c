"""Brute-force bans on the real engine: the dev stack's defaults (3 failures in 600 s, 3600 s).

The ban list is a file on the gateway's named volume: a ban holds after the LiteLLM container
restarts, and the commands docs/OPERATIONS.md gives (`docker exec … llmstack_bans.py list|lift`)
show and lift it. Every request here comes from this machine, through Docker's proxy for the
published port: one address, the one nginx logs.
"""

from __future__ import annotations

import json
import subprocess

from tests.docker.conftest import BANS_COMMAND, HEALTHY_WITHIN, Stack, host_address
from tests.docker.images import DOCKER

WRONG = {"Authorization": "Bearer sk-not-a-key-of-this-stack"}


def _events(stack: Stack, address: str) -> list[str]:
    logged = [json.loads(line) for line in stack.applier.logs("gateway-container").splitlines() if line.startswith("{")]
    return [line["event"] for line in logged if line.get("address") == address and "event" in line]


def test_a_ban_outlives_a_restart_of_litellm_and_lifts_by_hand(dev: Stack) -> None:
    valid = {"Authorization": f"Bearer {dev.outputs['clients']['dev']['apiKey']}"}
    with dev.client() as client:
        assert [client.get("/v1/models", headers=WRONG).status_code for _ in range(3)] == [401, 401, 403]
        address = host_address(dev)
        assert address is not None
        listed = dev.exec("gateway-container", *BANS_COMMAND, "list")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.startswith(f"{address}\tbanned until "), listed.stdout

        gateway = dev.container_name("gateway-container")
        subprocess.run([DOCKER, "restart", "--time", "30", gateway], check=True, capture_output=True, timeout=120)
        dev.applier.wait_healthy("gateway-container", HEALTHY_WITHIN)
        refused = client.get("/v1/models", headers=valid)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["type"] == "address_banned"
        assert 3000 < int(refused.headers["retry-after"]) <= 3600

        lifted = dev.exec("gateway-container", *BANS_COMMAND, "lift", address)
        assert lifted.stdout.strip() == "lifted 1 ban(s)", lifted.stdout + lifted.stderr
        assert client.get("/v1/models", headers=valid).status_code == 200
    # `docker logs` spans the restart: the ban before it, the unban (logged by the next request) after.
    assert _events(dev, address)[-2:] == ["ban", "unban"]
