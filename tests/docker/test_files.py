"""Rendered files are readable by the processes that use them, with the images' real users.

A second stack (basic auth on, published on 8444) runs next to the dev stack for the htpasswd case:
nginx (master and workers) runs as uid 101 and reads it on every request (unreadable → 500, missing → 403).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest

from components.edge import CONF_DIR, HTPASSWD_FILE
from offline.engine import OfflineRun
from tests.docker.conftest import Stack, apply_stack, dev_config

GATEWAY_FILES = ("/etc/litellm/config.yaml", "/etc/litellm/llmstack_auth.py", "/run/llmstack/keys/clients.json")


@pytest.fixture(scope="module")
def guarded(engine: str, render_stack: Callable[..., OfflineRun]) -> Iterator[Stack]:
    stack = apply_stack(render_stack("dockerauth", **{**dev_config(), "basicAuth": True, "httpsPort": 8444}))
    yield stack
    stack.applier.destroy()
    stack.applier.close()


def _worker_uids(stack: Stack) -> set[str]:
    listing = stack.exec("edge-container", "bash", "-c", "grep -H '^Uid:' /proc/[0-9]*/status")
    uids = set()
    for line in listing.stdout.splitlines():
        pid = line.split("/")[2]
        comm = stack.exec("edge-container", "cat", f"/proc/{pid}/cmdline").stdout
        if comm.startswith("nginx: worker"):
            uids.add(line.split()[1])
    return uids


def test_nginx_workers_run_as_uid_101(dev: Stack) -> None:
    assert _worker_uids(dev) == {"101"}


def test_basic_auth_passes_with_the_rendered_htpasswd(guarded: Stack) -> None:
    headers = guarded.outputs["clients"]["dev"]["headers"]
    with guarded.client() as client:
        assert client.get("/v1/models", headers=headers).status_code == 200
        assert client.get("/v1/models", headers={"x-litellm-api-key": headers["x-litellm-api-key"]}).status_code == 401
        wrong = "Basic " + base64.b64encode(b"llmstack:wrong").decode()
        assert client.get("/v1/models", headers={**headers, "Authorization": wrong}).status_code == 401


def test_htpasswd_is_readable_by_the_worker_user(guarded: Stack) -> None:
    # In its own volume, which the writer fills by rename (edge_auth.py).
    result = guarded.exec("edge-container", "cat", f"{CONF_DIR}/{HTPASSWD_FILE}", user="101")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("llmstack:")


def test_the_tls_key_is_readable_by_nginx_and_writable_by_no_one_inside(dev: Stack) -> None:
    """Since #22 master and workers share uid 101: no root master keeps the key from its workers.

    The key lies in a read-only volume that not even root inside the container can change.
    """
    assert dev.exec("edge-container", "cat", "/etc/nginx/tls/server.key", user="101").stdout.startswith("-----BEGIN")
    assert dev.exec("edge-container", "sh", "-c", ": >> /etc/nginx/tls/server.key", user="101").returncode != 0
    # Root inside owns the directory, so without the read-only mount it could swap the key.
    result = dev.exec("edge-container", "sh", "-c", "mv /etc/nginx/tls/server.key /etc/nginx/tls/old", user="0")
    assert "Read-only file system" in result.stderr


@pytest.mark.parametrize("path", GATEWAY_FILES)
def test_litellm_can_read_its_files(dev: Stack, path: str) -> None:
    result = dev.exec("gateway-container", "python3", "-c", f"print(len(open({path!r}).read()))")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 0


def test_the_keys_volume_is_read_only_for_litellm(dev: Stack) -> None:
    result = dev.exec("gateway-container", "python3", "-c", "open('/run/llmstack/keys/x', 'w')")
    assert result.returncode != 0
    assert "Read-only file system" in result.stderr
