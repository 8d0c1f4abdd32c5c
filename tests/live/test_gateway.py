"""One scoped, revocable key per client, in the real LiteLLM running the rendered config and hook.

A second LiteLLM (the dev one serves a single model) runs a stack with two models and four
clients; Ollama is the stand-in. Keys reach it the way the stack delivers them: by running the
key-writer container's command into the emulated keys volume, while LiteLLM keeps running.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from litellm.proxy.common_utils.model_listing_utils import claude_code_group_name, claude_code_model_id

from components.gateway import RATES_FILE
from tests.live.conftest import EdgeRunner, Gateway, Rendered, running_gateway
from tests.live.ollama_standin import REPLY_WORDS, OllamaStandin
from tests.live.test_chain import openai_client

ADDRESS = "127.0.0.22"
MODELS = ["small=qwen2.5:0.5b", "coder=qwen2.5-coder:1.5b"]
EMBEDDING_MODELS = ["embed=nomic-embed-text"]
CLIENTS: dict[str, dict[str, Any]] = {
    "editor": {"models": ["coder"], "apis": ["chat", "models"]},
    "indexer": {"apis": ["embeddings", "models"]},
    "limited": {"models": ["small"], "rpmLimit": 3},
    "metered": {"models": ["small"], "rpmLimit": 4},
    "aliasing": {"models": ["small"], "rpmLimit": 2},
    "budget": {"models": ["small", "embed"], "apis": ["chat", "embeddings"], "rpmLimit": 3},
    "ops": {"admin": True},
}
CHAT: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def stack(render: Callable[..., Rendered]) -> Rendered:
    return render("clients", models=MODELS, embeddingModels=EMBEDDING_MODELS, clients=CLIENTS)


@pytest.fixture(scope="module")
def litellm(stack: Rendered, ollama: OllamaStandin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    ollama.models = (*ollama.models, "qwen2.5-coder:1.5b", "nomic-embed-text")
    with running_gateway(stack, ADDRESS, tmp_path_factory.mktemp("litellm-clients")) as running:
        yield running


@pytest.fixture
def direct(litellm: Gateway) -> Iterator[httpx.Client]:
    """Straight to LiteLLM, as nginx would call it."""
    with httpx.Client(base_url=f"http://{ADDRESS}:4000", timeout=30) as client:
        yield client


def key(stack: Rendered, client: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.outputs['clients'][client]['apiKey']}"}


def chat(client: httpx.Client, headers: dict[str, str], model: str, **extra: Any) -> httpx.Response:
    return client.post("/v1/chat/completions", headers=headers, json={"model": model, **CHAT, **extra})


def test_no_key_and_a_wrong_key_get_401(direct: httpx.Client) -> None:
    assert direct.get("/v1/models").status_code == 401
    assert direct.get("/v1/models", headers={"Authorization": "Bearer sk-wrong"}).status_code == 401
    wrong = chat(direct, {"Authorization": "Bearer sk-" + "x" * 48}, "small")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["type"] == "auth_error"


def test_a_key_is_read_in_one_form_only(direct: httpx.Client, stack: Rendered) -> None:
    # The edge's per-key rate limit reads `Bearer <key>` or the bare key; so does the hook. The
    # spellings LiteLLM would also accept would each get a fresh bucket at the edge.
    secret = stack.outputs["clients"]["editor"]["apiKey"]
    accepted = [
        {"Authorization": f"bearer {secret}"},
        {"Authorization": secret},
        {"x-litellm-api-key": f"Bearer {secret}"},
    ]
    refused = [
        {"Authorization": f"Basic {secret}"},
        {"Authorization": f"Bearer Bearer {secret}"},
        {"Authorization": f"AWS4-HMAC-SHA256 Credential={secret}/x"},
        {"x-litellm-api-key": f"{secret}, sk-other"},
    ]
    assert [chat(direct, headers, "coder").status_code for headers in accepted] == [200] * 3
    assert [chat(direct, headers, "coder").status_code for headers in refused] == [401] * 4
    twice = httpx.Headers([("x-litellm-api-key", secret), ("x-litellm-api-key", secret)])
    assert direct.post("/v1/chat/completions", headers=twice, json={"model": "coder", **CHAT}).status_code == 401


def test_the_model_comes_from_the_body_only(direct: httpx.Client, stack: Rendered, ollama: OllamaStandin) -> None:
    # LiteLLM would take a query's `model` over the body's: past the allow-list (editor: coder only).
    before = len(ollama.requests)
    reply = direct.post(
        "/v1/chat/completions?model=small", headers=key(stack, "editor"), json={"model": "coder", **CHAT}
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["type"] == "invalid_request_error"
    assert len(ollama.requests) == before


def test_embeddings_come_from_the_embedding_model(direct: httpx.Client, stack: Rendered, ollama: OllamaStandin) -> None:
    body = {"model": "embed", "input": ["one", "three"]}
    reply = direct.post("/v1/embeddings", headers=key(stack, "indexer"), json=body)
    assert reply.status_code == 200, reply.text
    assert [item["embedding"] for item in reply.json()["data"]] == [[3.0, 0.5, -0.5], [5.0, 0.5, -0.5]]
    assert ollama.requests[-1] == {
        "path": "/api/embed",
        "body": {"model": "nomic-embed-text", "input": ["one", "three"]},
    }
    # The API family decides, whatever the model: editor may chat, not embed.
    assert direct.post("/v1/embeddings", headers=key(stack, "editor"), json=body).status_code == 403


def test_an_allowed_model_answers_streamed_and_not(direct: httpx.Client, stack: Rendered) -> None:
    plain = chat(direct, key(stack, "editor"), "coder")
    assert plain.status_code == 200
    assert plain.json()["choices"][0]["message"]["content"] == "".join(REPLY_WORDS)
    with direct.stream("POST", "/v1/chat/completions", headers=key(stack, "editor"),
                       json={"model": "coder", **CHAT, "stream": True}) as streamed:  # fmt: skip
        assert streamed.status_code == 200
        events = [line for line in streamed.iter_lines() if line.startswith("data: {")]
    assert len(events) >= len(REPLY_WORDS)


def test_one_failed_request_does_not_shut_off_a_model(
    direct: httpx.Client, stack: Rendered, ollama: OllamaStandin
) -> None:
    # Ollama answers 404 for a model it no longer has. Each model has a single deployment: a
    # cooldown would answer 429 to every client of that model for a while, after Ollama has it back.
    served = ollama.models
    ollama.models = tuple(tag for tag in served if tag != "qwen2.5-coder:1.5b")
    try:
        missing = chat(direct, key(stack, "editor"), "coder")
    finally:
        ollama.models = served
    assert missing.status_code == 404
    assert "does not have 'coder'" in missing.json()["error"]["message"]
    assert "qwen2.5" not in missing.text, "the Ollama tag behind a model name is internal"
    assert chat(direct, key(stack, "ops"), "coder").status_code == 200
    assert chat(direct, key(stack, "editor"), "coder").status_code == 200


MODEL_CALLS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", "editor", {"model": "coder", **CHAT}),
    "chat stream": ("/v1/chat/completions", "editor", {"model": "coder", **CHAT, "stream": True}),
    "completion": ("/v1/completions", "editor", {"model": "coder", "prompt": "def "}),
    "completion stream": ("/v1/completions", "editor", {"model": "coder", "prompt": "def ", "stream": True}),
    "embeddings": ("/v1/embeddings", "indexer", {"model": "embed", "input": "x"}),
}
"""Each kind of call that reaches Ollama: route, client, body."""


@pytest.mark.parametrize("call", list(MODEL_CALLS))
def test_an_unreachable_ollama_gets_a_503_that_names_the_model_not_its_address(
    call: str, direct: httpx.Client, stack: Rendered, ollama: OllamaStandin
) -> None:
    route, client, body = MODEL_CALLS[call]

    def call_ollama() -> httpx.Response:
        return direct.post(route, headers=key(stack, client), json=body)

    with ollama.stopped():  # as when Ollama is down or its new container is still starting
        refused = call_ollama()
    assert refused.status_code == 503, refused.text
    message = refused.json()["error"]["message"]
    assert message.startswith("The model server for '")
    assert "cannot be reached" in message
    for internal in ("ollama", "11434", "Connect call", "REDACTED"):
        assert internal not in message
    assert call_ollama().status_code == 200, "Ollama back: served again, LiteLLM was not restarted"


INTERNALS = ("Traceback", "site-packages", ".py", "LiteLLM: ", "Python: ", "1.108", "qwen2.5", "ollama", "11434")
"""What LiteLLM's error texts carried: its traceback, paths, versions, the Ollama tags and address."""


@pytest.mark.parametrize("messages", [["hi"], [{"content": "hi"}], [], "hi"])
def test_malformed_messages_get_a_clean_400(
    messages: object, direct: httpx.Client, stack: Rendered, ollama: OllamaStandin
) -> None:
    before = len(ollama.requests)
    reply = direct.post(
        "/v1/chat/completions", headers=key(stack, "editor"), json={"model": "coder", "messages": messages}
    )
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == "messages"
    assert [internal for internal in INTERNALS if internal in reply.text] == []
    assert len(ollama.requests) == before


@pytest.mark.parametrize("call", [name for name in MODEL_CALLS if name != "embeddings"])
def test_a_failed_model_call_keeps_its_status_and_says_nothing_internal(
    call: str, direct: httpx.Client, stack: Rendered, ollama: OllamaStandin
) -> None:
    route, client, body = MODEL_CALLS[call]
    ollama.busy = True  # Ollama's own 503 (the stand-in answers it on /api/chat)
    try:
        reply = direct.post(route, headers=key(stack, client), json=body)
    finally:
        ollama.busy = False
    assert reply.status_code == 503, reply.text
    assert [internal for internal in INTERNALS if internal in reply.text] == []


def test_ollama_closing_a_request_gets_a_502(direct: httpx.Client, stack: Rendered, ollama: OllamaStandin) -> None:
    ollama.dropping = True
    try:
        dropped = chat(direct, key(stack, "editor"), "coder")
    finally:
        ollama.dropping = False
    assert dropped.status_code == 502
    assert dropped.json()["error"]["message"].startswith("The model server for 'coder' closed the connection")
    assert chat(direct, key(stack, "editor"), "coder").status_code == 200


def abandon(ollama: OllamaStandin, client: httpx.Client, request: dict[str, Any]) -> float:
    """Seconds from sending `request` until Ollama saw the caller hang up (inf: not within eight).

    The caller gives up after a second; Ollama would take ten to answer.
    """
    ollama.abandoned.clear()
    ollama.reply_delay = 10.0
    started = time.monotonic()
    try:
        with pytest.raises(httpx.ReadTimeout):
            client.post(**request, timeout=1.0)
        while not ollama.abandoned and time.monotonic() - started < 8:
            time.sleep(0.02)
    finally:
        ollama.reply_delay = 0.0
    return time.monotonic() - started if ollama.abandoned else math.inf


@pytest.mark.parametrize("call", [name for name in MODEL_CALLS if name != "embeddings"])
def test_a_client_that_gives_up_frees_ollama_at_once(
    call: str, direct: httpx.Client, stack: Rendered, ollama: OllamaStandin
) -> None:
    # By default LiteLLM would keep Ollama generating for nobody: a non-streamed answer to its
    # end, a stream until its first token (here 10 s).
    route, client, body = MODEL_CALLS[call]
    seen_after = abandon(ollama, direct, {"url": route, "headers": key(stack, client), "json": body})
    assert seen_after < 5, "long before Ollama's answer at 10 s"
    assert ollama.abandoned == ["/api/chat"]
    assert chat(direct, key(stack, "editor"), "coder").status_code == 200


def test_a_client_that_waits_gets_its_answer(direct: httpx.Client, stack: Rendered, ollama: OllamaStandin) -> None:
    ollama.abandoned.clear()
    ollama.reply_delay = 1.5
    try:
        answered = chat(direct, key(stack, "editor"), "coder")
    finally:
        ollama.reply_delay = 0.0
    assert answered.status_code == 200
    assert answered.json()["choices"][0]["message"]["content"] == "".join(REPLY_WORDS)
    assert ollama.abandoned == []


def test_a_model_outside_the_clients_list_gets_403(direct: httpx.Client, stack: Rendered) -> None:
    refused = chat(direct, key(stack, "editor"), "small")
    assert refused.status_code == 403
    assert "not available for this API key" in refused.json()["error"]["message"]


def test_an_api_family_outside_the_clients_list_gets_403(direct: httpx.Client, stack: Rendered) -> None:
    assert chat(direct, key(stack, "indexer"), "small").status_code == 403
    assert direct.get("/v1/models", headers=key(stack, "indexer")).status_code == 200


@pytest.mark.parametrize("route", ["/key/list", "/model/info", "/config/yaml", "/user/list"])
def test_admin_routes_need_an_admin_key(route: str, direct: httpx.Client, stack: Rendered) -> None:
    assert direct.get(route, headers=key(stack, "editor")).status_code in (401, 403)
    assert direct.get(route, headers=key(stack, "limited")).status_code in (401, 403)


@pytest.mark.parametrize(
    "route",
    [
        "/engines/small/chat/completions",
        "/openai/deployments/small/chat/completions",
        "/v1/responses",
        # Under an admin prefix, and a route LiteLLM's own checks do not count as a model call.
        "/health/test_connection",
        "/queue/chat/completions",
    ],
)
def test_an_admin_client_reaches_models_only_on_the_checked_routes(
    route: str, direct: httpx.Client, stack: Rendered, ollama: OllamaStandin
) -> None:
    # LiteLLM's other spellings of a model call would skip the parameter, model and rate checks.
    before = len(ollama.requests)
    body = {
        "model": "small",
        **CHAT,
        "input": "hi",
        "keep_alive": 0,
        "mode": "chat",
        "litellm_params": {"model": "small"},
    }
    assert direct.post(route, headers=key(stack, "ops"), json=body).status_code == 403
    assert len(ollama.requests) == before


def test_the_master_key_and_an_admin_client_work_for_admin(direct: httpx.Client, stack: Rendered) -> None:
    master = {"Authorization": f"Bearer {stack.outputs['masterKey']}"}
    assert direct.get("/model/info", headers=master).status_code == 200
    assert direct.get("/model/info", headers=key(stack, "ops")).status_code == 200
    assert direct.get("/v1/model/info", headers=key(stack, "ops")).status_code == 200
    assert direct.get("/health/readiness", headers=key(stack, "ops")).status_code == 200


def test_a_revoked_key_gets_401_without_restarting_litellm(
    direct: httpx.Client, stack: Rendered, litellm: Gateway, render: Callable[..., Rendered]
) -> None:
    pid = litellm.process.pid
    revoked = render(
        "clients-indexer-removed",
        models=MODELS,
        embeddingModels=EMBEDDING_MODELS,
        clients={k: v for k, v in CLIENTS.items() if k != "indexer"},
    )
    assert direct.get("/v1/models", headers=key(stack, "indexer")).status_code == 200
    try:
        litellm.deliver_keys(revoked)
        assert direct.get("/v1/models", headers=key(stack, "indexer")).status_code == 401
        assert direct.get("/v1/models", headers=key(stack, "editor")).status_code == 200
    finally:
        litellm.deliver_keys()
    assert direct.get("/v1/models", headers=key(stack, "indexer")).status_code == 200
    assert litellm.process.pid == pid
    assert litellm.process.poll() is None


def test_a_stale_staging_file_does_not_block_key_delivery(
    direct: httpx.Client, stack: Rendered, litellm: Gateway, render: Callable[..., Rendered]
) -> None:
    # An interrupted delivery leaves its read-only staging file behind (under either name the
    # writer ever used); the writer, without capabilities, could not open it again.
    revoked = render(
        "clients-indexer-removed",
        models=MODELS,
        embeddingModels=EMBEDDING_MODELS,
        clients={k: v for k, v in CLIENTS.items() if k != "indexer"},
    )
    stale = [litellm.keys_volume / ".clients.json.tmp", litellm.keys_volume / ".clients.json.stale"]
    for leftover in stale:
        leftover.write_text("{}")
        leftover.chmod(0o444)
    try:
        litellm.deliver_keys(revoked)
        assert direct.get("/v1/models", headers=key(stack, "indexer")).status_code == 401
    finally:
        litellm.deliver_keys()
        for leftover in stale:
            leftover.unlink()
    assert direct.get("/v1/models", headers=key(stack, "indexer")).status_code == 200


def worker_processes(gateway: Gateway) -> list[str]:
    """LiteLLM's worker processes: the children gunicorn's master forked (llmstack_serve.py)."""
    pid = gateway.process.pid
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def test_a_clients_rate_is_counted_once_for_all_workers(
    litellm: Gateway, stack: Rendered, direct: httpx.Client
) -> None:
    assert len(worker_processes(litellm)) == 2  # litellmWorkers' default
    metered = key(stack, "metered")
    # Refused for the model (LiteLLM's allow-list, after the hook): these do not use up the rate.
    assert [chat(direct, metered, "coder").status_code for _ in range(3)] == [403] * 3

    def fresh_chat(_: int) -> httpx.Response:
        # A new connection each, all at once, so that both workers take some.
        with httpx.Client(base_url=f"http://{ADDRESS}:4000", timeout=30) as fresh:
            return chat(fresh, metered, "small")

    with ThreadPoolExecutor(7) as pool:
        replies = sorted(pool.map(fresh_chat, range(7)), key=lambda reply: reply.status_code)
    assert [reply.status_code for reply in replies] == [200] * 4 + [429] * 3
    # Counted where every worker counts (which worker took which connection is the kernel's choice,
    # often one took them all; tests/unit/test_llmstack_limits.py races separate processes on one file).
    rates_file = stack.container_dir("gateway-container") / RATES_FILE.lstrip("/")
    with contextlib.closing(sqlite3.connect(f"file:{rates_file}?mode=ro", uri=True)) as shared:
        assert shared.execute("SELECT SUM(count) FROM hits WHERE client = 'metered'").fetchone() == (4,)
    error = replies[-1].json()["error"]
    assert error["type"] == "rate_limit_error"
    assert error["message"].startswith("Rate limit exceeded for client metered: 4 requests per minute.")
    assert 1 <= int(replies[-1].headers["retry-after"]) <= 120


def test_a_request_names_one_model(direct: httpx.Client, stack: Rendered, ollama: OllamaStandin) -> None:
    # LiteLLM would call Ollama once per name, and a rate-limited client would be counted once.
    before = len(ollama.requests)
    for client, model in (("metered", "small,small,small"), ("ops", "small,coder"), ("editor", "")):
        reply = chat(direct, key(stack, client), model)
        assert reply.status_code == 400, (client, reply.text)
        assert reply.json()["error"]["type"] == "invalid_request_error"
    assert len(ollama.requests) == before


SETTINGS_IN_THE_BODY = [
    # Ollama model options: a reload on the CPU, or no model kept loaded, for every client.
    ("/v1/chat/completions", "editor", "coder", {"num_gpu": 0}),
    ("/v1/chat/completions", "editor", "coder", {"keep_alive": 0}),
    ("/v1/chat/completions", "editor", "coder", {"options": {"num_ctx": 131072}}),
    ("/v1/chat/completions", "editor", "coder", {"extra_body": {"keep_alive": -1}}),
    ("/v1/completions", "editor", "coder", {"num_ctx": 131072}),
    ("/v1/embeddings", "indexer", "embed", {"keep_alive": -1}),
    # LiteLLM settings: several Ollama calls per counted request, the stack's timeout replaced.
    ("/v1/chat/completions", "ops", "small", {"num_retries": 3}),
    ("/v1/chat/completions", "ops", "small", {"timeout": 2}),
    ("/v1/chat/completions", "ops", "small", {"metadata": {"tags": ["x"]}}),
]


@pytest.mark.parametrize(("route", "client", "model", "setting"), SETTINGS_IN_THE_BODY)
def test_a_client_cannot_send_settings_in_the_body(
    route: str,
    client: str,
    model: str,
    setting: dict[str, Any],
    direct: httpx.Client,
    stack: Rendered,
    ollama: OllamaStandin,
) -> None:
    payload = {"/v1/chat/completions": CHAT, "/v1/completions": {"prompt": "hi"}, "/v1/embeddings": {"input": ["one"]}}
    before = len(ollama.requests)
    reply = direct.post(route, headers=key(stack, client), json={"model": model, **payload[route], **setting})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == next(iter(setting))
    assert len(ollama.requests) == before


@pytest.mark.parametrize("setting", ["api_base", "base_url", "user_config"])
def test_a_client_cannot_point_litellm_at_another_server(
    setting: str, direct: httpx.Client, stack: Rendered, ollama: OllamaStandin
) -> None:
    # LiteLLM refuses these itself, before the hook runs; its answer is an error that names the
    # parameter (with `prisma` installed, as in the image; without it, a bare 500).
    before = len(ollama.requests)
    body = {"model": "coder", **CHAT, setting: "http://198.51.100.7:11434"}
    reply = direct.post("/v1/chat/completions", headers=key(stack, "editor"), json=body)
    assert reply.status_code == 401
    assert f"{setting} is not allowed in request body" in reply.json()["error"]["message"]
    assert len(ollama.requests) == before


@pytest.mark.parametrize("header", ["x-litellm-num-retries", "x-litellm-timeout", "X-LiteLLM-Stream-Timeout"])
def test_a_client_cannot_send_litellm_settings_as_headers(
    header: str, direct: httpx.Client, stack: Rendered, ollama: OllamaStandin
) -> None:
    before = len(ollama.requests)
    ollama.busy = True  # what retries would multiply: Ollama's full queue
    try:
        reply = chat(direct, {**key(stack, "ops"), header: "3"}, "small")
    finally:
        ollama.busy = False
    assert reply.status_code == 400, reply.text
    assert header.lower() in reply.json()["error"]["message"]
    assert len(ollama.requests) == before


def test_openai_parameters_reach_ollama(direct: httpx.Client, stack: Rendered, ollama: OllamaStandin) -> None:
    sampling = {"temperature": 0.25, "top_p": 0.5, "max_tokens": 7, "seed": 11, "stop": ["END"], "user": "ana"}
    reply = chat(direct, key(stack, "editor"), "coder", stream=True, stream_options={"include_usage": True}, **sampling)
    assert reply.status_code == 200, reply.text
    options = ollama.requests[-1]["body"]["options"]
    assert options == {**options, "temperature": 0.25, "top_p": 0.5, "num_predict": 7, "seed": 11, "stop": ["END"]}
    assert "keep_alive" not in ollama.requests[-1]["body"]


@pytest.fixture
def through_edge(edges: EdgeRunner, stack: Rendered, litellm: Gateway) -> Rendered:
    return edges.serve(stack, litellm.address)


def test_full_chain_per_client_with_the_openai_client(through_edge: Rendered, ollama: OllamaStandin) -> None:
    editor = through_edge.outputs["clients"]["editor"]
    with openai_client(through_edge, editor["apiKey"]) as client:
        reply = client.chat.completions.create(model="coder", **CHAT)
        assert reply.choices[0].message.content == "".join(REPLY_WORDS)
        assert ollama.requests[-1]["body"]["model"] == "qwen2.5-coder:1.5b"
        chunks = [c.choices[0].delta.content for c in client.chat.completions.create(model="coder", stream=True, **CHAT)
                  if c.choices and c.choices[0].delta.content]  # fmt: skip
        assert "".join(chunks) == "".join(REPLY_WORDS)
        assert [model.id for model in client.models.list()] == ["coder"]
        with pytest.raises(openai.PermissionDeniedError):
            client.chat.completions.create(model="small", **CHAT)


def test_embeddings_through_the_edge_with_the_openai_client(through_edge: Rendered) -> None:
    indexer = through_edge.outputs["clients"]["indexer"]
    with openai_client(through_edge, indexer["apiKey"]) as client:
        vectors = client.embeddings.create(model="embed", input=["one", "three"])
        assert [item.embedding for item in vectors.data] == [[3.0, 0.5, -0.5], [5.0, 0.5, -0.5]]
        assert [model.id for model in client.models.list()] == ["small", "coder", "embed"]


def test_a_rate_limited_client_gets_an_openai_style_429(through_edge: Rendered) -> None:
    limited = through_edge.outputs["clients"]["limited"]
    with openai_client(through_edge, limited["apiKey"]) as client:
        for _ in range(3):
            client.chat.completions.create(model="small", **CHAT)
        with pytest.raises(openai.RateLimitError) as limited_error:
            client.chat.completions.create(model="small", **CHAT)
    body = limited_error.value.body
    assert isinstance(body, dict)
    assert "Rate limit exceeded" in body["message"]
    assert limited["apiKey"] not in str(body)


def test_a_client_that_gives_up_at_the_edge_frees_ollama_at_once(through_edge: Rendered, ollama: OllamaStandin) -> None:
    # nginx closes its connection to LiteLLM when its client leaves; LiteLLM then ends the call.
    headers = key(through_edge, "editor")
    with through_edge.client() as https:
        request = {"url": "/v1/chat/completions", "headers": headers, "json": {"model": "coder", **CHAT}}
        seen_after = abandon(ollama, https, request)
    assert seen_after < 5, "long before Ollama's answer at 10 s"


def aliases_of(name: str, direct: httpx.Client, stack: Rendered) -> list[str]:
    """Model strings LiteLLM itself would serve as `name`: its Claude Code spellings and deployment ids.

    Each spelling is checked with LiteLLM's own decoder (`claude_code_group_name`, which its proxy
    applies after the auth hook), so a spelling it stops accepting fails here, not silently.
    """
    served = {"small", "coder", "embed"}
    marked = claude_code_model_id(name, 1_000_000, served)  # claude-router-<hex(name)>[1m]
    spellings = [
        f"{name}[1m]",
        f"{name}[1M]",
        marked,
        marked.removesuffix("[1m]"),
        marked.removesuffix("[1m]") + "[1M]",
    ]
    for spelling in spellings:
        assert claude_code_group_name(spelling, served) == name, spelling
    master = {"Authorization": f"Bearer {stack.outputs['masterKey']}"}
    info = direct.get("/model/info", headers=master).json()["data"]
    ids = [row["model_info"]["id"] for row in info if row["model_name"] == name]
    assert ids
    return spellings + ids


def test_no_spelling_of_an_allowed_model_escapes_the_rate_limit(
    direct: httpx.Client, stack: Rendered, ollama: OllamaStandin
) -> None:
    # The hook decides the model on the exact name: LiteLLM would serve every one of these as
    # `small` after the hook, and none would have been counted against `rpmLimit: 2`.
    aliasing = key(stack, "aliasing")
    before = len(ollama.requests)
    for alias in aliases_of("small", direct, stack):
        for route, body in (("/v1/chat/completions", CHAT), ("/v1/completions", {"prompt": "hi"})):
            reply = direct.post(route, headers=aliasing, json={"model": alias, **body})
            assert reply.status_code == 403, (alias, route, reply.text)
            assert "not available for this API key" in reply.json()["error"]["message"]
    assert len(ollama.requests) == before
    assert [chat(direct, aliasing, "small").status_code for _ in range(3)] == [200, 200, 429]


def test_every_model_route_counts_against_the_rate_limit(direct: httpx.Client, stack: Rendered) -> None:
    budget = key(stack, "budget")
    calls = [
        ("/v1/embeddings", {"model": "embed", "input": "x"}),
        ("/v1/completions", {"model": "small", "prompt": "def "}),
        ("/v1/embeddings", {"model": "embed", "input": ["y"]}),
    ]
    assert [direct.post(route, headers=budget, json=body).status_code for route, body in calls] == [200] * 3
    for route, body in (*calls, ("/v1/chat/completions", {"model": "small", **CHAT})):
        assert direct.post(route, headers=budget, json=body).status_code == 429, route


CLIENT_HEADERS = frozenset(
    {
        "content-type", "content-length", "transfer-encoding", "connection", "date", "server", "retry-after",
        "strict-transport-security", "x-content-type-options", "cache-control", "referrer-policy",
        "content-security-policy", "www-authenticate", "vary", "x-frame-options",
    }
)  # fmt: skip
"""The response headers a client needs; LiteLLM's others name calls, deployments, costs, timings."""


def test_only_the_headers_clients_need_pass_the_edge(through_edge: Rendered, ollama: OllamaStandin) -> None:
    # Every kind of answer the real LiteLLM gives: each carries its own set of x-litellm-* headers.
    seen: dict[str, set[str]] = {}
    with through_edge.client() as https:
        for call, (route, client, body) in MODEL_CALLS.items():
            seen[call] = set(https.post(route, headers=key(through_edge, client), json=body).headers)
        seen["models"] = set(https.get("/v1/models", headers=key(through_edge, "editor")).headers)
        seen["refused model"] = set(chat(https, key(through_edge, "editor"), "small").headers)
        seen["bad request"] = set(chat(https, key(through_edge, "editor"), "coder", num_ctx=1).headers)
        seen["no key"] = set(https.get("/v1/models").headers)
        ollama.busy = True
        try:
            seen["model failed"] = set(chat(https, key(through_edge, "editor"), "coder").headers)
        finally:
            ollama.busy = False
    passed = {call: sorted(names - CLIENT_HEADERS) for call, names in seen.items()}
    leaked = {call: names for call, names in passed.items() if names}
    assert leaked == {}, " ".join(sorted({name for names in leaked.values() for name in names}))
