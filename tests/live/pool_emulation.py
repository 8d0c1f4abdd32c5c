"""What Docker would provide to the GPU pool's nginx containers, emulated in one place.

The exact rendered nginx.conf and certificates run in the real nginx; only these differ:
- a terminator listens on its host's private address, as Docker publishes it (`listen <address>:11443`);
- each host's own Docker DNS answers `ollama` with that host's Ollama stand-in
  (`ollama-<host>-standin` in the sandbox's one DNS);
- the egress's connections leave from the gateway host's address, as Docker's masquerading
  makes them (`proxy_bind`), and it listens on its emulated container address;
- each container's health listener (its own loopback) moves to its emulated address.
Addresses are added to the sandbox's loopback: a network namespace the tests made themselves.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.pool_egress import ROUTES_FILE
from tests.live.conftest import Rendered, _wait_for_port, start_nginx


@dataclass
class Nginx:
    """One emulated nginx container."""

    process: subprocess.Popen[bytes]
    conf_dir: Path
    log: Path

    def stop(self) -> None:
        """Stop it as Docker would (SIGTERM)."""
        self.process.terminate()
        self.process.wait(timeout=10)


def add_address(address: str) -> None:
    found = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=True)
    if f" {address}/" not in found.stdout:
        subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True)


def _start(
    source: Path, workdir: Path, edits: dict[str, str], listen: tuple[str, int], files: dict[str, str] | None = None
) -> Nginx:
    """Run nginx on a copy of a rendered container's /etc/nginx, with the emulation's `edits` applied.

    Its health listener, on the container's own loopback, moves to the emulated container address.
    `files` (path under /etc/nginx → text) replace delivered files before nginx starts.
    """
    edits = {**edits, "listen 127.0.0.1:8081;": f"listen {listen[0]}:8081;"}
    conf_dir = workdir / "etc-nginx"
    shutil.copytree(source, conf_dir)
    conf = (conf_dir / "nginx.conf").read_text()
    for old, new in edits.items():
        if old not in conf:
            pytest.fail(f"the rendered nginx.conf no longer has {old!r}: update the emulation")
        conf = conf.replace(old, new)
    (conf_dir / "nginx.conf").write_text(conf)
    for path, text in (files or {}).items():
        (conf_dir / path).write_text(text)
    log = workdir / "nginx.log"
    process = start_nginx(conf_dir, workdir, log)
    _wait_for_port(listen[0], 8081, process, log)  # bound last: every listener is up
    return Nginx(process, conf_dir, log)


def start_terminator(pool: Rendered, host: str, address: str, workdir: Path, *, as_host: str | None = None) -> Nginx:
    """`host`'s terminator on `address` (another host's, `as_host`, to play an impostor)."""
    workdir.mkdir(parents=True, exist_ok=True)
    edits = {
        "listen 11443 ssl;": f"listen {address}:11443 ssl;",
        "set $ollama ollama:11434;": f"set $ollama ollama-{as_host or host}-standin:11434;",
    }
    return _start(pool.container_dir(f"gpu-{host}-terminator") / "etc/nginx", workdir, edits, (address, 11443))


def start_egress(
    pool: Rendered, address: str, gateway_address: str, workdir: Path, *, routes: str | None = None
) -> Nginx:
    """The gateway host's egress at `address`, its connections leaving from `gateway_address`.

    `routes` replaces the delivered hosts file (pool/routes.conf), as a later stack update would.
    """
    edits = {
        "listen 11434 default_server;": f"listen {address}:11434 default_server;",
        "proxy_ssl_session_reuse on;": f"proxy_ssl_session_reuse on;\n            proxy_bind {gateway_address};",
    }
    files = {ROUTES_FILE: routes} if routes is not None else None
    return _start(pool.container_dir("pool-egress-container") / "etc/nginx", workdir, edits, (address, 11434), files)
