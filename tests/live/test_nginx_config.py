"""Every rendered nginx.conf is accepted by the real nginx, as rendered."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from offline.render import render_stack
from tests.live.conftest import nginx_binary
from tests.support import STACK_FILES

STACKS = [path.name.split(".")[1] for path in STACK_FILES]


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_nginx_conf_passes_nginx_t(stack: str, tmp_path: Path, sandbox: None) -> None:
    render_stack(stack, tmp_path, notify=lambda _: None)
    conf_dir = tmp_path / "containers/edge-container/etc/nginx"
    checked = subprocess.run(
        [nginx_binary(), "-t", "-p", f"{conf_dir}/", "-c", "nginx.conf", "-g", f"pid {tmp_path}/nginx.pid;"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
