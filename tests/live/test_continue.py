"""The generated Continue config, run by Continue's own code through the real nginx and LiteLLM.

Continue is a VS Code extension and cannot run here; its published packages can: the config parser
and validator (@continuedev/config-yaml) and the OpenAI client Continue uses
(@continuedev/openai-adapters, whose fetch applies a model's `requestOptions`: CA bundle, headers).
tests/continue/run_continue.mjs runs them on the rendered file, in a Node process told nothing else
about the CA or the key.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import EdgeRunner, Gateway, Rendered
from tests.live.ollama_standin import REPLY_WORDS
from tests.support import PROJECT_DIR

CONTINUE_DIR = PROJECT_DIR / "tests" / "continue"
REPLY = "".join(REPLY_WORDS)


def run_continue(config_text: str, home: Path) -> dict[str, Any]:
    if not (CONTINUE_DIR / "node_modules" / "@continuedev").is_dir():
        pytest.fail("Continue's packages are not installed: run `make node-deps` (npm ci in tests/continue)")
    config = home / "config.yaml"
    config.write_text(config_text)
    result = subprocess.run(
        ["node", str(CONTINUE_DIR / "run_continue.mjs"), str(config)],
        cwd=CONTINUE_DIR,
        env={"PATH": os.environ["PATH"], "HOME": str(home)},  # no NODE_EXTRA_CA_CERTS, no proxy
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ran: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return ran


def test_continue_chats_with_the_generated_config(edge: Rendered, tmp_path: Path) -> None:
    ran = run_continue(edge.outputs["clients"]["dev"]["continueConfig"], tmp_path)
    assert ran == {"errors": [], "roles": ["chat", "edit", "apply"], "reply": REPLY, "streamed": REPLY}


def test_continue_gets_through_basic_auth_with_the_generated_config(
    render: Callable[..., Rendered], edges: EdgeRunner, gateway: Gateway, tmp_path: Path
) -> None:
    protected = edges.serve(render("basic-auth", basicAuth="true", clients={"dev": {}}), gateway.address)
    ran = run_continue(protected.outputs["clients"]["dev"]["continueConfig"], tmp_path)
    assert (ran["reply"], ran["streamed"]) == (REPLY, REPLY)
