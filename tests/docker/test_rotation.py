"""Client-key rotation on the real engine, applied as `pulumi up` applies it.

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
