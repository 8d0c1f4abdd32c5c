"""Every rendered nginx.conf is accepted by the real nginx and passes gixy-ng, as rendered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from offline.render import render_config, render_stack
from tests.live.conftest import nginx_binary
from tests.support import STACK_FILES, namespaced

STACKS = [path.name.split(".")[1] for path in STACK_FILES]
VARIANTS: dict[str, dict[str, object]] = {
    "basic-auth": {"basicAuth": "true"},
    "intermediate": {"tlsProfile": "intermediate"},
    "lan-admin": {
        "exposure": "lan",
        "listenAddress": "192.168.50.10",
        "allowedCidrs": ["192.168.50.0/24", "10.8.0.0/16"],
        "adminCidrs": ["192.168.50.0/28"],
    },
}


def rendered_conf(name: str, tmp_path: Path) -> Path:
    if name in STACKS:
        render_stack(name, tmp_path, notify=lambda _: None)
    else:
        render_config(name, tmp_path, namespaced(VARIANTS[name]), notify=lambda _: None)
    return tmp_path / "containers/edge-container/etc/nginx"


@pytest.mark.parametrize("name", STACKS + list(VARIANTS))
def test_rendered_nginx_conf_passes_nginx_t(name: str, tmp_path: Path, sandbox: None) -> None:
    conf_dir = rendered_conf(name, tmp_path)
    checked = subprocess.run(
        [nginx_binary(), "-t", "-p", f"{conf_dir}/", "-c", "nginx.conf", "-g", f"pid {tmp_path}/nginx.pid;"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


@pytest.mark.parametrize("name", STACKS + list(VARIANTS))
def test_gixy_finds_nothing(name: str, tmp_path: Path) -> None:
    conf_dir = rendered_conf(name, tmp_path)
    gixy = Path(sys.executable).parent / "gixy"
    scanned = subprocess.run(
        [str(gixy), "--format", "json", str(conf_dir / "nginx.conf")], capture_output=True, text=True, check=False
    )
    findings = json.loads(scanned.stdout or "null")
    assert findings == [], json.dumps(findings, indent=1)[:2000]
