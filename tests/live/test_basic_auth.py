"""Basic auth in front of the API key, without breaking a stock OpenAI client.

Through the real nginx and the real LiteLLM: the generated client headers carry basic auth in
`Authorization` and the key in `x-litellm-api-key`; nginx checks the first and drops it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import openai
import pytest

from tests.live.conftest import GATEWAY_STANDIN_ADDRESS, EdgeRunner, Gateway, Rendered
from tests.live.gateway_standin import GatewayStandin
from tests.live.test_chain import MODEL, openai_client

# The seed's fail2ban filter (SECURITY.md), anchored after nginx's timestamp.
FAIL2BAN = re.compile(
    r' \[error\] \d+#\d+: \*\d+ user "\S+":? (password mismatch|was not found in), client: (?P<host>\S+),'
)


@pytest.fixture
def protected(render: Callable[..., Rendered], edges: EdgeRunner, gateway: Gateway) -> Rendered:
    return edges.serve(render("basic-auth", basicAuth="true", clients={"dev": {}}), gateway.address)


def dev_client(stack: Rendered) -> dict[str, Any]:
    client: dict[str, Any] = stack.outputs["clients"]["dev"]
    return client


def test_the_generated_client_headers_work_with_a_stock_openai_client(protected: Rendered) -> None:
    headers = dev_client(protected)["headers"]
    assert set(headers) == {"Authorization", "x-litellm-api-key"}
    with openai_client(protected, dev_client(protected)["apiKey"], default_headers=headers) as client:
        reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content
        assert [m.id for m in client.models.list()] == [MODEL]


def test_the_key_alone_is_refused_with_401_json(protected: Rendered) -> None:
    key = dev_client(protected)["apiKey"]
    with openai_client(protected, key) as client, pytest.raises(openai.APIStatusError) as error:
        client.models.list()
    assert error.value.status_code == 401
    response = error.value.response
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.headers["www-authenticate"].startswith("Basic")


def test_a_wrong_password_is_logged_for_fail2ban_without_the_password(protected: Rendered, edges: EdgeRunner) -> None:
    with protected.client("127.0.0.5") as client:
        response = client.get("/v1/models", auth=("llmstack", "not-the-password"))
    assert response.status_code == 401
    time.sleep(0.2)
    errors = edges.logs["error"].read_text()
    matches = [m for m in FAIL2BAN.finditer(errors)]
    assert [m.group("host") for m in matches][-1:] == ["127.0.0.5"]
    assert "not-the-password" not in errors
    assert protected.outputs["basicAuthPassword"] not in errors


def test_the_env_output_carries_the_headers(protected: Rendered) -> None:
    env = dev_client(protected)["openaiEnv"]
    line = next(line for line in env.splitlines() if line.startswith("export LLMSTACK_DEFAULT_HEADERS="))
    quoted = line.split("=", 1)[1]
    assert json.loads(quoted.strip("'")) == dev_client(protected)["headers"]


def test_the_edge_password_never_reaches_litellm(
    render: Callable[..., Rendered], edges: EdgeRunner, gateway_standin: GatewayStandin
) -> None:
    stack = edges.serve(render("basic-auth", basicAuth="true", clients={"dev": {}}), GATEWAY_STANDIN_ADDRESS)
    with stack.client() as https:
        assert https.get("/v1/models", headers=dev_client(stack)["headers"]).status_code == 200
    forwarded = {name.lower(): value for name, value in gateway_standin.requests[-1]["headers"].items()}
    assert "authorization" not in forwarded
    assert forwarded["x-litellm-api-key"] == dev_client(stack)["apiKey"]


def test_a_password_rotation_with_a_grace_window_drops_no_request_and_keeps_nginx(
    protected: Rendered, render: Callable[..., Rendered], edges: EdgeRunner
) -> None:
    """Rotate, with the previous password kept, then end the window: each a writer run, never an nginx restart."""
    base = {"basicAuth": "true", "clients": {"dev": {}}, "basicAuthEpoch": "1"}
    rotated = render("basic-auth-rotated", **base, basicAuthPreviousEpoch="0")
    ended = render("basic-auth-ended", **base)
    old, new = dev_client(protected)["headers"], dev_client(rotated)["headers"]
    assert old["Authorization"] != new["Authorization"]
    assert dev_client(ended)["headers"] == new
    assert edges.process is not None
    pid = edges.process.pid
    statuses: list[int] = []
    stop = threading.Event()

    def call_in_a_loop(headers: dict[str, str]) -> None:
        with protected.client() as https:
            while not stop.is_set():
                statuses.append(https.get("/v1/models", headers=headers).status_code)
                time.sleep(0.1)  # under the edge's per-address rate limit

    caller = threading.Thread(target=call_in_a_loop, args=(old,))
    caller.start()
    try:
        time.sleep(1)
        EdgeRunner.deliver_basic_auth(rotated, into=protected)
        time.sleep(1)
    finally:
        stop.set()
        caller.join(timeout=10)
    assert len(statuses) > 10
    assert set(statuses) == {200}, "the old password kept working through the rotation"
    with protected.client() as https:
        assert https.get("/v1/models", headers=new).status_code == 200
        EdgeRunner.deliver_basic_auth(ended, into=protected)
        assert https.get("/v1/models", headers=old).status_code == 401, "the window ended"
        assert https.get("/v1/models", headers=new).status_code == 200
        EdgeRunner.deliver_basic_auth(protected, into=protected)  # back, for the tests after this one
        assert https.get("/v1/models", headers=old).status_code == 200
    assert edges.process.pid == pid
    assert edges.process.poll() is None
