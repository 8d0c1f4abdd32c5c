"""Client- and master-key rotation on the real engine, applied as `pulumi up` applies it.

The dev stack is re-rendered with the dev client's epoch changed (same seed: every other generated
value stays as in state) and only what changed is applied: the key writer and the never-started
carrier of its input (#22: the writer's root is read-only) are replaced, no serving container is,
and a client calling through the edge meanwhile gets no error.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

from offline.engine import OfflineRun
from tests.docker.conftest import MEASURED, Stack, dev_config
from tests.docker.polling import Poller

WRITER_AND_INBOX = ["gateway-client-keys-inbox-carrier", "gateway-client-keys-writer"]
HTPASSWD_WRITER_AND_INBOX = ["edge-basic-auth-inbox-carrier", "edge-basic-auth-writer"]


def _serving_state(dev: Stack) -> dict[str, tuple[str, str]]:
    return {
        name: (state["Id"], state["State"]["StartedAt"])
        for name, state in ((name, dev.applier.inspect(name)) for name in dev.serving())
    }


def _status(dev: Stack, key: str) -> int:
    with dev.client() as client:
        return client.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code


def test_rotating_a_client_key_replaces_only_the_writer_and_drops_nothing(
    dev: Stack, render_stack: Callable[..., OfflineRun]
) -> None:
    until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    config = dev_config()
    rotated = render_stack(
        "dev",
        **{**config, "clients": {"dev": {"epoch": "1", "previousEpoch": "0", "previousValidUntil": until.isoformat()}}},
    )
    old_key = dev.outputs["clients"]["dev"]["apiKey"]
    new_key = rotated.outputs["clients"]["dev"]["apiKey"]
    assert new_key != old_key
    before = _serving_state(dev)
    with Poller(dev, old_key) as poller:
        time.sleep(1)
        started = time.monotonic()
        replaced = dev.applier.update(rotated)
        applied_in = time.monotonic() - started
        time.sleep(2)  # the auth hook sees the new file; the client keeps calling
    try:
        assert replaced == WRITER_AND_INBOX
        assert _serving_state(dev) == before, "no serving container was replaced or restarted"
        assert len(poller.results) > 15
        assert poller.failures() == [], "a request failed during the rotation"
        assert _status(dev, new_key) == 200
        assert _status(dev, old_key) == 200, "inside the grace window"
        MEASURED.append(
            f"client-key rotation: applied in {applied_in:.1f} s, {len(poller.results)} requests meanwhile, 0 failed"
        )
    finally:
        original = render_stack("dev", **config)
        assert dev.applier.update(original) == WRITER_AND_INBOX
    assert _status(dev, old_key) == 200
    deadline = time.monotonic() + 10
    while _status(dev, new_key) != 401 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _status(dev, new_key) == 401, "rolling back to epoch 0 revokes the epoch-1 key"


def test_rotating_the_master_key_replaces_only_the_writer_and_drops_nothing(
    dev: Stack, render_stack: Callable[..., OfflineRun]
) -> None:
    config = dev_config()
    rotated = render_stack("dev", **{**config, "masterKeyEpoch": "1"})
    old_master, new_master = dev.outputs["masterKey"], rotated.outputs["masterKey"]
    assert new_master != old_master
    assert _status(dev, old_master) == 200
    before = _serving_state(dev)
    with Poller(dev, dev.outputs["clients"]["dev"]["apiKey"]) as poller:
        time.sleep(1)
        replaced = dev.applier.update(rotated)
        time.sleep(2)
    try:
        assert replaced == WRITER_AND_INBOX
        assert _serving_state(dev) == before, "no serving container was replaced or restarted"
        assert len(poller.results) > 15
        assert poller.failures() == [], "a request failed during the rotation"
        assert _status(dev, new_master) == 200
        assert _status(dev, old_master) == 401
        MEASURED.append(f"master-key rotation: {len(poller.results)} requests meanwhile, 0 failed")
    finally:
        assert dev.applier.update(render_stack("dev", **config)) == WRITER_AND_INBOX
    assert _status(dev, old_master) == 200


def test_every_rotation_handle_in_turn_then_all_at_once_drops_nothing(
    dev: Stack, render_stack: Callable[..., OfflineRun]
) -> None:
    """Client key, master key, basic-auth password, then all three at once, each with its grace window.

    The client follows each rotation as a client would, by switching to the new credentials after
    the update; the previous ones stay valid meanwhile, so no request fails and nothing serving restarts.
    """
    until = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).isoformat()
    config = {**dev_config(), "basicAuth": "true"}

    def epochs(client: int, master: int, basic: int) -> OfflineRun:
        dev_client = {"epoch": str(client)} | (
            {"previousEpoch": str(client - 1), "previousValidUntil": until} if client else {}
        )
        basic_auth = {"basicAuthEpoch": str(basic)} | ({"basicAuthPreviousEpoch": str(basic - 1)} if basic else {})
        return render_stack(
            "dev", **{**config, "clients": {"dev": dev_client}, "masterKeyEpoch": str(master), **basic_auth}
        )

    def headers(run: OfflineRun) -> dict[str, str]:
        found: dict[str, str] = run.outputs["clients"]["dev"]["headers"]
        return found

    start = epochs(0, 0, 0)
    dev.applier.update(start)  # basic auth on: nginx gains the htpasswd volume (setup, not a rotation)
    steps = [
        # Each writer with the never-started carrier of its input (#22: the writers' roots are read-only).
        ("client key", epochs(1, 0, 0), WRITER_AND_INBOX),
        ("master key", epochs(1, 1, 0), WRITER_AND_INBOX),
        ("basic-auth password", epochs(1, 1, 1), HTPASSWD_WRITER_AND_INBOX),
        ("all at once", epochs(2, 2, 2), sorted(HTPASSWD_WRITER_AND_INBOX + WRITER_AND_INBOX)),
    ]
    try:
        before = _serving_state(dev)
        previous = start
        with Poller(dev, "", headers=headers(start)) as poller:
            for what, run, writers in steps:
                time.sleep(1)
                assert sorted(dev.applier.update(run)) == writers, what
                time.sleep(1)
                with dev.client() as client:
                    old = client.get("/v1/models", headers=headers(previous)).status_code
                    admin = client.get(
                        "/v1/models", headers={**headers(run), "x-litellm-api-key": run.outputs["masterKey"]}
                    )
                assert (old, admin.status_code) == (200, 200), f"{what}: the previous credentials, the new master key"
                poller.headers = headers(run)  # the client switches after the update
                previous = run
        assert _serving_state(dev) == before, "no serving container was replaced or restarted"
        assert len(poller.results) > 30
        assert poller.failures() == [], "a request failed during a rotation"
        MEASURED.append(f"every rotation handle, then all at once: {len(poller.results)} requests, 0 failed")
        ended = render_stack(
            "dev", **{**config, "clients": {"dev": {"epoch": "2"}}, "masterKeyEpoch": "2", "basicAuthEpoch": "2"}
        )
        dev.applier.update(ended)
        with dev.client() as client:
            assert client.get("/v1/models", headers=headers(steps[2][1])).status_code == 401, "windows ended"
            assert client.get("/v1/models", headers=headers(ended)).status_code == 200
    finally:
        dev.applier.update(render_stack("dev", **dev_config()))
