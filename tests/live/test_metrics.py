"""Metrics and alerts, live: Debian's Prometheus runs the rendered config against the real stack.

It scrapes the real nginx (through Debian's nginx exporter), the real LiteLLM (several workers) and
the probe; after a known set of requests the series count them per client, model and status, and
no label value holds a key.

This module runs its own LiteLLM (its counters start at zero) for a stack with two clients, two
models and a webhook alert receiver; Ollama is the session's stand-in, told to hold the second
model too. The traffic comes from the openai client, as a user's would. Last, a burst of wrong keys
makes the rendered rule fire in the real Prometheus, whose real Alertmanager (rendered config)
posts it to a stand-in for the operator's webhook receiver on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import openai
import pytest

from components.edge import STATUS_PORT
from components.render.alert_rules import AUTH_FAILURE_BURST, AUTH_FAILURES, REQUESTS
from components.render.litellm import SERVED_METRICS
from offline.render import render_config
from tests.live.conftest import SEED, EdgeRunner, Gateway, Rendered, running_gateway
from tests.live.docker_dns import DockerDns
from tests.live.monitoring import (
    Monitoring,
    WebhookReceiverStandin,
    binary,
    nginx_monitoring_address,
    running_monitoring,
    values,
)
from tests.live.ollama_standin import REPLY_WORDS, OllamaStandin
from tests.support import namespaced

METRICS_GATEWAY_ADDRESS = "127.0.0.23"
SMALL, LARGE = "qwen2.5:0.5b", "qwen2.5:1.5b"
WEBHOOK = ("127.0.0.61", 9095)
"""Where the operator's webhook receiver (a stand-in) listens: the alertWebhookUrl secret points here."""
CONFIG = {
    "models": [f"small={SMALL}", f"large={LARGE}"],
    "clients": {"alice": {"rpmLimit": 2}, "bob": {"models": ["large"]}},
    "litellmWorkers": 2,
    "alertWebhookUrl": f"http://{WEBHOOK[0]}:{WEBHOOK[1]}/alerts",
}
PROMPT_TOKENS = 3
"""What the stand-in reports as `prompt_eval_count` for every chat."""


@pytest.fixture(scope="module")
def stack() -> Iterator[Rendered]:
    """The render, the webhook URL set as a secret (the conftest's `render` sets plain keys only)."""
    with tempfile.TemporaryDirectory(prefix="llmstack-metrics-") as base:
        directory = Path(base) / "metrics"
        Path(base).chmod(0o755)  # nginx's workers read the render, as in a container
        secret = frozenset({"llmstack:alertWebhookUrl"})
        result = render_config("metrics", directory, namespaced(CONFIG), secret, notify=lambda _: None, seed=SEED)
        yield Rendered(directory, result)


@pytest.fixture(scope="module")
def webhook(sandbox: None) -> Iterator[WebhookReceiverStandin]:
    receiver = WebhookReceiverStandin(*WEBHOOK)
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def gateway(stack: Rendered, ollama: OllamaStandin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    held = ollama.models
    ollama.models = (*held, LARGE)
    try:
        with running_gateway(stack, METRICS_GATEWAY_ADDRESS, tmp_path_factory.mktemp("litellm-metrics")) as running:
            yield running
    finally:
        ollama.models = held


@pytest.fixture(scope="module")
def monitoring(
    stack: Rendered,
    gateway: Gateway,
    edges: EdgeRunner,
    docker_dns: DockerDns,
    webhook: WebhookReceiverStandin,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Monitoring]:
    edges.serve(stack, gateway.address)
    address = nginx_monitoring_address(stack)
    with running_monitoring(stack, docker_dns, tmp_path_factory.mktemp("monitoring"), address) as running:
        yield running


def _key(stack: Rendered, client: str) -> str:
    key: str = stack.outputs["clients"][client]["apiKey"]
    return key


def _sdk(stack: Rendered, key: str, source: str) -> openai.OpenAI:
    """The openai client as a user configures it (base URL, key, the stack's CA), from address `source`."""
    # openai brings its own httpx (httpx2): the transport that binds the source address must be its.
    transport = httpx2.HTTPTransport(verify=stack.trust(), local_address=source)
    http_client = openai.DefaultHttpxClient(transport=transport)
    return openai.OpenAI(base_url=stack.outputs["endpoint"], api_key=key, http_client=http_client, max_retries=0)


def _chat(sdk: openai.OpenAI, model: str, *, stream: bool = False) -> int:
    """The status the edge answered a chat with."""
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
    try:
        if stream:
            for _ in sdk.chat.completions.create(model=model, messages=messages, stream=True):
                pass
        else:
            sdk.chat.completions.create(model=model, messages=messages)
    except openai.APIStatusError as refused:
        return refused.status_code
    return 200


@pytest.fixture(scope="module")
def traffic(stack: Rendered, monitoring: Monitoring, ollama: OllamaStandin) -> dict[str, int]:
    """A known set of requests through the edge; each client from its own address, under every edge limit."""
    statuses: dict[str, int] = {}
    with _sdk(stack, _key(stack, "alice"), "127.0.0.2") as alice:
        statuses.update({f"alice-small-{n}": _chat(alice, "small") for n in range(3)})
    with _sdk(stack, _key(stack, "bob"), "127.0.0.3") as bob:
        statuses.update({f"bob-large-{n}": _chat(bob, "large", stream=True) for n in range(2)})
        statuses["bob-small"] = _chat(bob, "small")
        ollama.busy = True
        try:
            statuses["bob-large-busy"] = _chat(bob, "large")
        finally:
            ollama.busy = False
    with _sdk(stack, "sk-not-a-key-of-this-stack", "127.0.0.4") as stranger:
        statuses["stranger"] = _chat(stranger, "small")
    return statuses


def test_the_rendered_config_passes_promtool(stack: Rendered) -> None:
    directory = stack.container_dir("monitoring-prometheus") / "etc/prometheus"
    check = subprocess.run(
        [binary("promtool"), "check", "config", "prometheus.yml"], cwd=directory, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "1 rule files found" in check.stdout


def test_the_known_requests_got_the_expected_answers(traffic: dict[str, int]) -> None:
    assert traffic == {
        "alice-small-0": 200,
        "alice-small-1": 200,
        "alice-small-2": 429,
        "bob-large-0": 200,
        "bob-large-1": 200,
        "bob-small": 403,
        "bob-large-busy": 503,
        "stranger": 401,
    }


def test_every_target_is_up(monitoring: Monitoring, traffic: dict[str, int]) -> None:
    up = monitoring.wait_for("up", lambda r: len(r) == 4 and all(v == 1 for v in values(r, "job").values()))
    assert set(values(up, "job")) == {"prometheus", "nginx", "litellm", "model-server"}


def test_requests_are_counted_per_client_model_and_status(monitoring: Monitoring, traffic: dict[str, int]) -> None:
    expected = {
        ("alice", "small", "200"): 2.0,
        ("alice", "small", "429"): 1.0,
        ("bob", "large", "200"): 2.0,
        ("bob", "small", "403"): 1.0,
        ("bob", "large", "503"): 1.0,
        ("None", "small", "401"): 1.0,  # no client: LiteLLM writes the absent alias as "None"
    }
    by = ("api_key_alias", "requested_model", "status_code")
    query = f"sum by ({', '.join(by)}) ({REQUESTS})"
    monitoring.wait_for(query, lambda r: values(r, *by) == expected)
    failures = monitoring.query(f"sum by (requested_model) ({AUTH_FAILURES})")
    assert values(failures, "requested_model") == {"small": 1.0}


def test_tokens_latency_and_time_to_first_token_per_client_and_model(
    monitoring: Monitoring, traffic: dict[str, int]
) -> None:
    by = ("api_key_alias", "requested_model")
    expected_in = {("alice", "small"): 2.0 * PROMPT_TOKENS, ("bob", "large"): 2.0 * PROMPT_TOKENS}
    expected_out = {("alice", "small"): 2.0 * len(REPLY_WORDS), ("bob", "large"): 2.0 * len(REPLY_WORDS)}
    monitoring.wait_for(
        "sum by (api_key_alias, requested_model) (litellm_input_tokens_metric_total)",
        lambda r: values(r, *by) == expected_in,
    )
    monitoring.wait_for(
        "sum by (api_key_alias, requested_model) (litellm_output_tokens_metric_total)",
        lambda r: values(r, *by) == expected_out,
    )
    latency = monitoring.query("sum by (api_key_alias, requested_model) (litellm_request_total_latency_metric_count)")
    assert values(latency, *by) == {("alice", "small"): 2.0, ("bob", "large"): 2.0}
    first_token = monitoring.query(
        "sum by (api_key_alias, requested_model) (litellm_llm_api_time_to_first_token_metric_count)"
    )
    assert values(first_token, *by).get(("bob", "large")) == 2.0


def test_nginx_and_the_model_server_are_watched(monitoring: Monitoring, traffic: dict[str, int]) -> None:
    handled = monitoring.wait_for("nginx_http_requests_total", lambda r: values(r) and min(values(r).values()) >= 8)
    assert values(handled)
    assert values(monitoring.query("llmstack_model_server_up")) == {(): 1.0}
    present = monitoring.query("llmstack_model_present")
    assert values(present, "model") == {"small": 1.0, "large": 1.0}
    expiry = monitoring.query("llmstack_edge_certificate_expiry_timestamp_seconds - time()")
    (days,) = (seconds / 86400 for seconds in values(expiry).values())
    assert 30 < days < 3700


def test_the_status_page_answers_the_monitoring_network_only(monitoring: Monitoring) -> None:
    address = nginx_monitoring_address(monitoring.rendered)
    assert httpx.get(f"http://{address}:{STATUS_PORT}/stub_status", timeout=5).status_code == 200
    assert httpx.get(f"http://127.0.0.1:{STATUS_PORT}/stub_status", timeout=5).status_code == 403


def test_no_label_value_holds_a_key(stack: Rendered, monitoring: Monitoring, traffic: dict[str, int]) -> None:
    monitoring.wait_for(REQUESTS, lambda r: len(r) >= 6)
    keys = [_key(stack, c) for c in ("alice", "bob")] + [stack.outputs["masterKey"], "sk-not-a-key-of-this-stack"]
    digests = [hashlib.sha256(k.encode()).hexdigest() for k in keys]
    forbidden = [*keys, *digests, *(hashlib.sha256(d.encode()).hexdigest() for d in digests)]
    series = monitoring.series()
    assert len(series) > 100
    names = {name for labels in series for name in labels}
    assert "hashed_api_key" not in names
    leaks = [labels for labels in series for v in labels.values() for secret in forbidden if secret[8:24] in v]
    assert leaks == []


def test_litellm_keeps_only_the_served_metrics(monitoring: Monitoring, traffic: dict[str, int]) -> None:
    """Spend, budget and the other no-op series of a stack without a database are not written at all."""
    monitoring.wait_for(REQUESTS, lambda r: len(r) >= 6)
    names = {labels["__name__"] for labels in monitoring.series() if labels["__name__"].startswith("litellm_")}
    metrics = {re.sub(r"_(total|bucket|count|sum|created)$", "", name) for name in names}
    assert metrics <= set(SERVED_METRICS), metrics - set(SERVED_METRICS)
    assert {"litellm_proxy_total_requests_metric", "litellm_output_tokens_metric"} <= metrics


def test_normal_traffic_fires_no_alert(monitoring: Monitoring, traffic: dict[str, int]) -> None:
    monitoring.wait_for(REQUESTS, lambda r: len(r) >= 6)
    time.sleep(16)  # one more rule evaluation over what was scraped
    assert monitoring.query('ALERTS{alertstate="firing"}') == []


def test_a_burst_of_wrong_keys_reaches_the_webhook_receiver(
    stack: Rendered, monitoring: Monitoring, webhook: WebhookReceiverStandin, traffic: dict[str, int]
) -> None:
    guesses = AUTH_FAILURE_BURST + 5
    for n in range(guesses):  # one guess from each of many addresses: under every per-address edge limit
        with _sdk(stack, f"sk-guess-{n}", f"127.0.1.{n + 1}") as guesser:
            assert _chat(guesser, "small") == 401
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _firing(webhook):
        time.sleep(1)
    assert _firing(webhook) == {"AuthFailureBurst"}, (webhook.notifications, monitoring.query("ALERTS"))
    (alert,) = [a for n in webhook.notifications for a in n["alerts"] if a["labels"]["alertname"] == "AuthFailureBurst"]
    assert alert["labels"]["severity"] == "warning"
    assert "guessing keys" in alert["annotations"]["summary"]
    assert "sk-" not in str(webhook.notifications)


def _firing(webhook: WebhookReceiverStandin) -> set[str]:
    return {
        alert["labels"]["alertname"]
        for notification in webhook.notifications
        for alert in notification["alerts"]
        if alert["status"] == "firing"
    }
