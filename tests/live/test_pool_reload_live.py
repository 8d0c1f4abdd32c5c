"""The real LiteLLM takes a changed GPU pool without a restart (components/shipped/litellm/llmstack_pool.py).

LiteLLM runs a pool stack's exact gateway container: config.yaml without deployments, the shipped
modules, the environment naming the pool file. The pool file is what the real renderer
(`render_pool_deployments`) makes for hosts whose URLs are Ollama stand-ins on this test's loopback
addresses: the egress between them is tests/live/test_gpu_pool_live.py's subject, not this one's.
The file is rewritten in place, as a stack update's copy into the volume writes it, while LiteLLM
serves.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from components.render.litellm import LiteLLMContext, PoolHost, ServedModel, render_pool_deployments
from components.shipped.litellm.llmstack_contract import POOL_FILE_ENV, TIMEOUT_ENV
from tests.live.conftest import Gateway, Rendered, running_gateway
from tests.live.docker_dns import DockerDns
from tests.live.ollama_standin import OllamaStandin

LITELLM = "127.0.0.25"
STANDINS = {"a": "127.0.0.74", "b": "127.0.0.75", "c": "127.0.0.76"}
MODELS = (ServedModel(name="small", ollama_tag="qwen2.5:0.5b"), ServedModel(name="big", ollama_tag="qwen2.5:1.5b"))
CONFIG: dict[str, Any] = {
    "models": [f"{m.name}={m.ollama_tag}" for m in MODELS],
    "monitoring": "false",
    "gatewayAddress": "10.231.91.2",
    "gpuHosts": {"gpua": {"dockerHost": "ssh://ops@gpua", "address": "10.231.91.11", "parallel": 2}},
}
APPLIED_WITHIN = 1.5
"""A worker looks at the file at most once a second, before it routes a request: after this long,
every request is routed by the new file."""

Hosts = Mapping[str, tuple[str, ...]]


@dataclass
class Pool:
    """The running LiteLLM, its pool file and the stand-in hosts."""

    rendered: Rendered
    gateway: Gateway
    file: Path
    standins: dict[str, OllamaStandin]

    def write(self, hosts: Hosts, *, cut: bool = False) -> None:
        """Render the pool file for `hosts` (name → models) in place; `cut`: only its first deployment.

        Cut there, it is a complete YAML document: a pool of fewer deployments, without its digest.
        """
        timeout = int(self.rendered.env("gateway-container")[TIMEOUT_ENV])
        context = LiteLLMContext(
            models=MODELS,
            ollama_url="http://unused:11434",
            generation_timeout_seconds=timeout,
            pool=tuple(
                PoolHost(name=name, url=f"http://{STANDINS[name]}:11434", models=models, max_parallel_requests=8)
                for name, models in hosts.items()
            ),
        )
        lines = render_pool_deployments(context).splitlines(keepends=True)
        if cut:
            lines = lines[: [i for i, line in enumerate(lines) if line.startswith("- model_name:")][1]]
        self.file.write_text("".join(lines))

    def served(self) -> dict[str, int]:
        """Requests each stand-in host has had."""
        return {name: len(standin.requests) for name, standin in self.standins.items()}

    def ask(self, model: str = "small") -> httpx.Response:
        """One chat through LiteLLM, with the admin key."""
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        headers = {"Authorization": f"Bearer {self.rendered.outputs['masterKey']}"}
        url = f"http://{self.gateway.address}:4000/v1/chat/completions"
        return httpx.post(url, json=body, headers=headers, timeout=30)

    def load(self, requests: int, concurrency: int, model: str = "small") -> list[int]:
        """`requests` chats, `concurrency` at a time: their statuses."""
        with ThreadPoolExecutor(concurrency) as workers:
            return list(workers.map(lambda _: self.ask(model).status_code, range(requests)))

    def processes(self) -> tuple[int, frozenset[int]]:
        """LiteLLM's process and its workers: the same after a change that restarted nothing."""
        pid = self.gateway.process.pid
        assert self.gateway.process.poll() is None, "LiteLLM exited"
        children = frozenset(map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split()))
        assert children, "no worker found: gunicorn's workers are the process's children"
        return pid, children


@pytest.fixture(scope="module")
def standins() -> Iterator[dict[str, OllamaStandin]]:
    running = {
        name: OllamaStandin(address, 11434, tuple(m.ollama_tag for m in MODELS)) for name, address in STANDINS.items()
    }
    yield running
    for standin in running.values():
        standin.close()


@contextlib.contextmanager
def _running(rendered: Rendered, address: str, workdir: Path, standins: dict[str, OllamaStandin]) -> Iterator[Pool]:
    inside = rendered.env("gateway-container")[POOL_FILE_ENV]
    with running_gateway(rendered, address, workdir) as gateway:
        yield Pool(rendered, gateway, rendered.container_dir("gateway-container") / inside.lstrip("/"), standins)


@pytest.fixture(scope="module")
def pool(
    render: Any, docker_dns: DockerDns, standins: dict[str, OllamaStandin], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pool]:
    """The pool stack's LiteLLM, with its default two workers."""
    with _running(
        render("pool-reload", **CONFIG), LITELLM, tmp_path_factory.mktemp("pool-reload"), standins
    ) as running:
        yield running


def _start_from(pool: Pool, hosts: Hosts) -> None:
    """`hosts`, applied by every worker; the stand-ins answer at once."""
    for standin in pool.standins.values():
        standin.reply_delay = 0.0
    pool.write(hosts)
    time.sleep(APPLIED_WITHIN)


class _Load:
    """Chats at `concurrency` in the background until stopped; every status kept."""

    def __init__(self, pool: Pool, concurrency: int) -> None:
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(pool,)) for _ in range(concurrency)]
        for thread in self._threads:
            thread.start()

    def _run(self, pool: Pool) -> None:
        while not self._stop.is_set():
            self.statuses.append(pool.ask().status_code)

    def stop(self) -> list[int]:
        """Stop, and the statuses of every chat sent."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        return self.statuses


def test_a_new_host_takes_requests_within_seconds_and_nothing_restarts(pool: Pool) -> None:
    _start_from(pool, {"a": ("small", "big")})
    before, processes = pool.served(), pool.processes()
    for standin in pool.standins.values():
        standin.reply_delay = 0.2  # least-busy sends the next request to the other host while one generates
    load = _Load(pool, concurrency=3)
    try:
        time.sleep(1)
        pool.write({"a": ("small", "big"), "b": ("small", "big")})
        written, deadline = time.monotonic(), time.monotonic() + 10
        while pool.served()["b"] == before["b"] and time.monotonic() < deadline:
            time.sleep(0.1)
        reached = time.monotonic() - written
        time.sleep(1)
    finally:
        statuses = load.stop()
    assert pool.served()["b"] > before["b"], "host b never got a request"
    assert reached < 5, f"host b took {reached:.1f} s"
    assert statuses, "no load ran"
    assert set(statuses) == {200}, statuses
    assert pool.processes() == processes, "LiteLLM or one of its workers was restarted"


def test_a_removed_host_gets_no_more_requests(pool: Pool) -> None:
    _start_from(pool, {"a": ("small", "big"), "b": ("small", "big")})
    load = _Load(pool, concurrency=2)
    try:
        time.sleep(0.5)
        pool.write({"b": ("small", "big")})
        time.sleep(APPLIED_WITHIN)
    finally:
        statuses = load.stop()
    assert set(statuses) == {200}, "a request in flight on the removed host, or after, failed"
    before = pool.served()
    assert pool.load(requests=12, concurrency=3) == [200] * 12
    after = pool.served()
    assert after["a"] == before["a"], "the removed host still got requests"
    assert after["b"] - before["b"] == 12


def test_a_model_moved_to_another_host_is_served_there_only(pool: Pool) -> None:
    _start_from(pool, {"a": ("small",), "b": ("small", "big")})
    before = pool.served()
    assert pool.load(requests=4, concurrency=2, model="big") == [200] * 4
    assert pool.served()["b"] - before["b"] == 4
    pool.write({"a": ("small", "big"), "b": ("small",)})
    time.sleep(APPLIED_WITHIN)
    before = pool.served()
    assert pool.load(requests=6, concurrency=2, model="big") == [200] * 6
    after = pool.served()
    assert (after["a"] - before["a"], after["b"] - before["b"]) == (6, 0)


def test_an_unchanged_deployment_keeps_its_id_across_a_change(pool: Pool) -> None:
    """Same id, so the state LiteLLM keeps under it (in-flight counts, cooldowns, slots) carries over."""
    _start_from(pool, {"a": ("small", "big")})
    before = pool.ask("small").headers["x-litellm-model-id"]
    pool.write({"a": ("small",), "c": ("big",)})
    time.sleep(APPLIED_WITHIN)
    served = pool.served()
    assert pool.ask("big").status_code == 200
    assert pool.served()["c"] == served["c"] + 1, "the change was not applied"
    answer = pool.ask("small")
    assert answer.status_code == 200
    assert answer.headers["x-litellm-model-id"] == before


def test_a_file_cut_short_or_garbled_keeps_the_last_good_list(pool: Pool) -> None:
    _start_from(pool, {"a": ("small", "big")})
    full = {"b": ("small", "big")}
    before = pool.served()
    pool.write(full, cut=True)
    statuses = _for_a_while(pool, seconds=3)
    pool.file.write_text("model_list: [\n")
    statuses += _for_a_while(pool, seconds=3)
    after = pool.served()
    assert set(statuses) == {200}
    assert (after["a"] - before["a"], after["b"] - before["b"]) == (len(statuses), 0), "the last good list went"
    log = (pool.gateway.keys_volume.parent / "litellm.log").read_text()
    cut = log.count("not applied, the last good deployments stay: its sha256 does not match")
    garbled = log.count("not applied, the last good deployments stay: not YAML")
    workers = len(pool.processes()[1])
    assert 1 <= cut <= workers, "one line per worker, however often it looked again"
    assert 1 <= garbled <= workers
    # The whole file, at the next check: retried, not given up.
    pool.write(full)
    time.sleep(APPLIED_WITHIN)
    before = pool.served()
    assert pool.load(requests=4, concurrency=2) == [200] * 4
    after = pool.served()
    assert (after["a"] - before["a"], after["b"] - before["b"]) == (0, 4)


def _for_a_while(pool: Pool, seconds: float) -> list[int]:
    """Chats two at a time for `seconds`: every worker looks at the file several times meanwhile."""
    load = _Load(pool, concurrency=2)
    time.sleep(seconds)
    return load.stop()
