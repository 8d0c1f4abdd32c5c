"""generationTimeoutSeconds as docs/CONFIGURATION.md documents it, in the real nginx and LiteLLM.

A stack rendered with the smallest allowed value (60 s) and then every place that value reaches
(LiteLLM's config, its environment, nginx's read timeout) scaled down to SECONDS, so each test
takes seconds, not minutes. Its own LiteLLM; Ollama is the stand-in, told to pause.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from components.gateway import CONFIG_PATH
from components.render.nginx import READ_TIMEOUT_MARGIN_SECONDS
from components.shipped.litellm.llmstack_contract import TIMEOUT_ENV
from tests.live.conftest import EdgeRunner, Gateway, Rendered, running_gateway
from tests.live.ollama_standin import REPLY_WORDS, OllamaStandin

ADDRESS = "127.0.0.24"
RENDERED_SECONDS = 60
SECONDS = 8
"""The scaled-down generationTimeoutSeconds; above the 5 s connect limit, below the standin's replies."""
MODEL = "qwen2.5-0.5b"


def _scaled(rendered: Rendered) -> Rendered:
    """`rendered` with generationTimeoutSeconds SECONDS wherever the render put RENDERED_SECONDS."""
    gateway = rendered.container_dir("gateway-container")
    config_file = gateway / CONFIG_PATH.lstrip("/")
    config = yaml.safe_load(config_file.read_text())
    for model in config["model_list"]:
        assert model["litellm_params"]["timeout"] == RENDERED_SECONDS
        model["litellm_params"]["timeout"] = SECONDS
    for section, key in (("litellm_settings", "request_timeout"), ("router_settings", "timeout")):
        assert config[section][key] == RENDERED_SECONDS
        config[section][key] = SECONDS
    _rewrite(config_file, yaml.safe_dump(config, sort_keys=False))
    env_file = gateway / "env.json"
    env = json.loads(env_file.read_text())
    assert env[TIMEOUT_ENV] == str(RENDERED_SECONDS)
    _rewrite(env_file, json.dumps({**env, TIMEOUT_ENV: str(SECONDS)}))
    nginx_conf = rendered.container_dir("edge-container") / "etc/nginx/nginx.conf"
    read_timeout = f"proxy_read_timeout {RENDERED_SECONDS + READ_TIMEOUT_MARGIN_SECONDS}s;"
    text, count = re.subn(
        re.escape(read_timeout), f"proxy_read_timeout {SECONDS + READ_TIMEOUT_MARGIN_SECONDS}s;", nginx_conf.read_text()
    )
    assert count >= 1
    _rewrite(nginx_conf, text)
    return rendered


def _rewrite(path: Path, text: str) -> None:
    mode = path.stat().st_mode
    path.chmod(0o644)
    path.write_text(text)
    path.chmod(mode)


@pytest.fixture(scope="module")
def timed(
    render: Callable[..., Rendered], ollama: OllamaStandin, edges: EdgeRunner, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rendered]:
    rendered = _scaled(render("timeouts", generationTimeoutSeconds=RENDERED_SECONDS, clients={"dev": {}}))
    running: Gateway
    with running_gateway(rendered, ADDRESS, tmp_path_factory.mktemp("litellm-timeouts")) as running:
        yield edges.serve(rendered, running.address)


@pytest.fixture
def paced(ollama: OllamaStandin) -> Iterator[OllamaStandin]:
    """The Ollama stand-in, its pauses reset after the test."""
    yield ollama
    ollama.chunk_delay = ollama.reply_delay = 0.0


def _key(rendered: Rendered) -> dict[str, str]:
    return {"Authorization": f"Bearer {rendered.outputs['clients']['dev']['apiKey']}"}


def test_a_stream_with_short_gaps_ends_at_the_generation_timeout(timed: Rendered, paced: OllamaStandin) -> None:
    # Gaps of 2 s, each well inside the timeout; in all the reply would take 12 s.
    paced.chunk_delay = 2.0
    words, events = [], []
    started = time.monotonic()
    with (
        timed.client() as https,
        https.stream(
            "POST",
            "/v1/chat/completions",
            headers=_key(timed),
            json={"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "Hi."}]},
        ) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: {"):
                event = json.loads(line.removeprefix("data: "))
                events.append(event)
                words += [choice["delta"].get("content") or "" for choice in event.get("choices", [])]
    ended = time.monotonic() - started
    assert SECONDS - 0.5 < ended < SECONDS + 2.5, f"the stream ended after {ended:.1f} s"
    assert 0 < len([w for w in words if w]) < len(REPLY_WORDS), "cut short, after some words"
    error = events[-1].get("error")
    assert error is not None, f"the stream ends with an error event, not silently: {events[-1]}"
    assert "longer than this server allows for one generation" in error["message"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_silent_ollama_is_cut_at_the_generation_timeout(stream: bool, timed: Rendered, paced: OllamaStandin) -> None:
    paced.reply_delay = SECONDS + 20
    abandoned = len(paced.abandoned)
    started = time.monotonic()
    with timed.client() as https:
        response = https.post(
            "/v1/chat/completions",
            headers=_key(timed),
            json={"model": MODEL, "stream": stream, "messages": [{"role": "user", "content": "hi"}]},
            timeout=SECONDS + 30,
        )
    ended = time.monotonic() - started
    assert SECONDS - 0.5 < ended < SECONDS + 2.5, f"answered after {ended:.1f} s"
    assert response.status_code == 408, response.text
    assert "408" in response.text or "imeout" in response.text
    deadline = time.monotonic() + 3
    while len(paced.abandoned) == abandoned and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(paced.abandoned) > abandoned, "LiteLLM hung up on Ollama, which stops generating"
