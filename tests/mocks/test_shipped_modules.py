"""The files shipped into LiteLLM's container work there alone: beside config.yaml, nothing else."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from components.render.litellm import METRICS_DIR_ENV
from offline.render import render_stack

PROBE = """
import json, sys
from litellm.proxy.types_utils.utils import get_instance_fn

config, names = sys.argv[1], json.loads(sys.argv[2])
found = {name: type(get_instance_fn(name, config_file_path=config)).__name__ for name in names}
print(json.dumps({"found": found, "contract": sys.modules["llmstack_contract"].__file__}))
"""
"""Loads the config's hook and callbacks with LiteLLM's own loader, run as `python -c` from elsewhere:
only the container's environment (PYTHONPATH) says where they are, as for a worker uvicorn spawns."""


def test_the_hook_and_callbacks_load_from_the_rendered_directory_alone(tmp_path: Path) -> None:
    render_stack("dev", tmp_path / "render", notify=lambda _: None)
    container = tmp_path / "render/containers/gateway-container"
    # A copy holding only what its files volume holds: the source tree is nowhere on the path.
    etc = shutil.copytree(tmp_path / "render/containers/gateway-files-carrier/etc/litellm", tmp_path / "etc-litellm")
    settings = yaml.safe_load((etc / "config.yaml").read_text())
    # LiteLLM's own callbacks go by a plain name (`prometheus`); llmstack's are modules beside the config.
    callbacks = [name for name in settings["litellm_settings"]["callbacks"] if "." in name]
    names = [settings["general_settings"]["custom_auth"], *callbacks]
    env = json.loads((container / "env.json").read_text())
    assert env["PYTHONPATH"] == "/etc/litellm"
    metrics_dir = {}
    if METRICS_DIR_ENV in env:
        metrics_dir = {METRICS_DIR_ENV: str(tmp_path / "metrics")}
        (tmp_path / "metrics").mkdir()
    run = subprocess.run(
        [sys.executable, "-c", PROBE, str(etc / "config.yaml"), json.dumps(names)],
        cwd=tmp_path,
        # The metrics directory llmstack_serve.py makes before any worker loads the hook, here too.
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env, "PYTHONPATH": str(etc), **metrics_dir},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["found"] == {
        "llmstack_auth.user_api_key_auth": "function",
        "llmstack_errors.model_server_errors": "ModelServerErrors",
        "llmstack_timeouts.generation_deadline": "GenerationDeadline",
        "llmstack_auth.refused_clients": "RefusedClients",
    }
    assert report["contract"] == str(etc / "llmstack_contract.py")
