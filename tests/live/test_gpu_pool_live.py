"""The GPU pool in the real nginx and LiteLLM: the mutual-TLS hop, and the router over two hosts.

Each GPU host's terminator runs its exact rendered nginx.conf and certificates, on a private
address this test adds to the sandbox's loopback (its own network namespace); the gateway host's
address is another. What Docker would provide is emulated in `tests/live/pool_emulation.py`.
"""

from __future__ import annotations

import datetime
import json
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from components.pool_egress import RELOAD_SCRIPT_FILE, ROUTES_CHECK_SECONDS, ROUTES_FILE
from components.render.pool import PoolRoute, render_egress_routes
from components.shipped.probe.llmstack_probe import MODEL_PRESENT, MODEL_SERVER_UP
from tests.live.conftest import Gateway, Rendered, running_gateway
from tests.live.docker_dns import DockerDns
from tests.live.ollama_standin import REPLY_WORDS, OllamaStandin
from tests.live.pool_emulation import Nginx, add_address, start_egress, start_terminator

GATEWAY = "10.231.90.2"
OUTSIDER = "10.231.90.3"
HOSTS = {"gpu1": "10.231.90.11", "gpu2": "10.231.90.12"}
STANDINS = {"gpu1": "127.0.0.61", "gpu2": "127.0.0.62"}
EGRESS = "127.0.0.52"
LITELLM = "127.0.0.24"
TAG = "qwen2.5:0.5b"
POOL_CONFIG: dict[str, Any] = {
    "monitoring": "false",
    "gatewayAddress": GATEWAY,
    "gpuHosts": {
        "gpu1": {"dockerHost": "ssh://ops@gpu1", "address": HOSTS["gpu1"], "parallel": 2},
        "gpu2": {"dockerHost": "ssh://ops@gpu2", "address": HOSTS["gpu2"], "parallel": 1},
    },
}


@pytest.fixture(scope="module")
def pool(render: Any, docker_dns: DockerDns) -> Rendered:
    rendered: Rendered = render("pool", **POOL_CONFIG)
    for address in (GATEWAY, OUTSIDER, *HOSTS.values()):
        add_address(address)
    return rendered


@pytest.fixture(scope="module")
def standins(docker_dns: DockerDns) -> Iterator[dict[str, OllamaStandin]]:
    running = {host: OllamaStandin(address, 11434, (TAG,)) for host, address in STANDINS.items()}
    for host, address in STANDINS.items():
        docker_dns.set(f"ollama-{host}-standin", address)
    yield running
    for standin in running.values():
        standin.close()


@pytest.fixture(scope="module")
def terminators(
    pool: Rendered, standins: dict[str, OllamaStandin], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Nginx]]:
    running = {
        host: start_terminator(pool, host, address, tmp_path_factory.mktemp(f"terminator-{host}"))
        for host, address in HOSTS.items()
    }
    yield running
    for nginx in running.values():
        nginx.stop()


@pytest.fixture(scope="module")
def egress(pool: Rendered, terminators: dict[str, Nginx], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    running = start_egress(pool, EGRESS, GATEWAY, tmp_path_factory.mktemp("egress"))
    yield running
    running.stop()


def _tls(pool: Rendered, *, certificate: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cafile=str(pool.container_dir("gpu-gpu1-terminator") / "etc/nginx/tls/pool-ca.crt")
    )
    if certificate is not None:
        context.load_cert_chain(*map(str, certificate))
    return context


def gateway_certificate(pool: Rendered) -> tuple[Path, Path]:
    tls = pool.container_dir("pool-egress-container") / "etc/nginx/tls"
    return tls / "gateway.crt", tls / "gateway.key"


def client(context: ssl.SSLContext | bool, source: str = GATEWAY) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(verify=context, local_address=source), timeout=10)


def chat(http: httpx.Client, url: str, **headers: str) -> httpx.Response:
    body = {"model": TAG, "messages": [{"role": "user", "content": "hi"}], "stream": False}
    return http.post(url, json=body, headers=headers)


def host_url(host: str) -> str:
    return f"https://{HOSTS[host]}:11443"


def test_plain_http_to_a_gpu_host_is_refused(pool: Rendered, terminators: dict[str, Nginx], standins: Any) -> None:
    before = len(standins["gpu1"].requests)
    with client(False) as http:
        answer = chat(http, f"http://{HOSTS['gpu1']}:11443/api/chat")
    assert answer.status_code == 400
    assert "plain HTTP request was sent to HTTPS port" in answer.text
    assert len(standins["gpu1"].requests) == before


def test_tls_without_a_client_certificate_is_refused(pool: Rendered, terminators: Any, standins: Any) -> None:
    before = len(standins["gpu1"].requests)
    with client(_tls(pool, certificate=None)) as http:
        answer = chat(http, f"{host_url('gpu1')}/api/chat")
    assert answer.status_code == 400
    assert "No required SSL certificate was sent" in answer.text
    assert len(standins["gpu1"].requests) == before


def test_a_certificate_from_another_ca_is_refused(
    pool: Rendered, terminators: Any, standins: Any, tmp_path: Path
) -> None:
    before = len(standins["gpu1"].requests)
    with client(_tls(pool, certificate=_foreign_client_certificate(tmp_path))) as http:
        try:
            answer = chat(http, f"{host_url('gpu1')}/api/chat")
        except httpx.TransportError:
            answer = None  # refused in the handshake: as good as an error page
    if answer is not None:
        assert answer.status_code == 400
        assert "SSL certificate error" in answer.text
    assert len(standins["gpu1"].requests) == before


def test_the_gateway_certificate_from_the_gateway_host_reaches_ollama(
    pool: Rendered, terminators: Any, standins: Any
) -> None:
    with client(_tls(pool, certificate=gateway_certificate(pool))) as http:
        answer = chat(http, f"{host_url('gpu1')}/api/chat")
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"]["content"] == "".join(REPLY_WORDS)
    assert standins["gpu1"].requests[-1]["path"] == "/api/chat"


def test_the_gateway_certificate_from_another_address_is_refused(
    pool: Rendered, terminators: Any, standins: Any
) -> None:
    before = len(standins["gpu1"].requests)
    with client(_tls(pool, certificate=gateway_certificate(pool)), source=OUTSIDER) as http:
        answer = chat(http, f"{host_url('gpu1')}/api/chat")
    assert answer.status_code == 403
    assert len(standins["gpu1"].requests) == before


@pytest.mark.parametrize("path", ["/api/pull", "/api/delete", "/api/create", "/api/chat/../pull", "/api/chat?x=1"])
def test_only_ollamas_serving_routes_cross_the_pool_link(
    pool: Rendered, terminators: Any, standins: Any, path: str
) -> None:
    before = [r["path"] for r in standins["gpu1"].requests]
    with client(_tls(pool, certificate=gateway_certificate(pool))) as http:
        answer = http.post(f"{host_url('gpu1')}{path}", json={"model": TAG})
    after = [r["path"] for r in standins["gpu1"].requests]
    if path.startswith("/api/chat?"):
        assert after[len(before) :] == ["/api/chat"], "the query string is not passed on"
    else:
        assert answer.status_code == 404
        assert after == before


def egress_url(host: str, path: str = "/api/chat") -> str:
    """LiteLLM's base URL for `host` (components/pool_egress.py host_url), at the emulated egress."""
    return f"http://{EGRESS}:11434/hosts/{host}{path}"


def test_the_egress_carries_each_host_path_to_its_host(pool: Rendered, egress: Nginx, standins: Any) -> None:
    with httpx.Client(timeout=10) as http:
        for host in HOSTS:
            before = len(standins[host].requests)
            answer = chat(http, egress_url(host))
            assert answer.status_code == 200, (host, answer.text, egress.log.read_text()[-2000:])
            assert len(standins[host].requests) == before + 1
        # A host without a route: the 500 the router rests a host for, and nothing leaves.
        unknown = chat(http, egress_url("gpu9"))
        assert (unknown.status_code, unknown.json()) == (500, {"error": "the GPU host cannot be reached"})
        # Only Ollama's serving paths cross, without a query string.
        counts = {host: len(standin.requests) for host, standin in standins.items()}
        for path in ("/api/pull", "/api/delete", "/api/chatx"):
            assert http.post(egress_url("gpu1", path), json={"model": TAG}).status_code == 404, path
        assert chat(http, egress_url("gpu1", "/api/chat?x=1")).status_code == 200
        assert {host: len(standin.requests) for host, standin in standins.items()} == {
            host: count + (host == "gpu1") for host, count in counts.items()
        }
        assert standins["gpu1"].requests[-1]["path"] == "/api/chat"


def test_the_egress_refuses_a_host_presenting_another_hosts_certificate(
    pool: Rendered, egress: Nginx, terminators: dict[str, Nginx], standins: Any, tmp_path: Path
) -> None:
    """gpu1's certificate answering at gpu2's address (a stolen key, a moved address): no request goes there."""
    terminators["gpu2"].stop()
    impostor = start_terminator(pool, "gpu1", HOSTS["gpu2"], tmp_path / "impostor", as_host="gpu2")
    try:
        before = len(standins["gpu2"].requests)
        with httpx.Client(timeout=10) as http:
            answer = chat(http, egress_url("gpu2"))
        # The egress's answer for a host it cannot use: 500, which rests the host in LiteLLM's router.
        assert answer.status_code == 500
        assert "cannot be reached" in answer.text
        assert len(standins["gpu2"].requests) == before
        assert "upstream SSL certificate does not match" in egress.log.read_text()
    finally:
        impostor.stop()
        terminators["gpu2"] = start_terminator(pool, "gpu2", HOSTS["gpu2"], tmp_path / "gpu2-again")


EGRESS_RELOADING = "127.0.0.53"


def _routes(*hosts: str) -> str:
    """The hosts file a stack update with `hosts` delivers (components/pool_egress.py routes_of)."""
    return render_egress_routes(tuple(PoolRoute(host=h, address=HOSTS[h], port=11443) for h in hosts))


def _stream(http: httpx.Client, url: str) -> tuple[int, list[str]]:
    body = {"model": TAG, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with http.stream("POST", url, json=body) as answer:
        return answer.status_code, [line for line in answer.iter_lines() if line]


def _until(status: int, http: httpx.Client, url: str, seconds: float) -> float:
    started = time.monotonic()
    while (answer := chat(http, url)).status_code != status:
        assert time.monotonic() - started < seconds, (url, answer.status_code, answer.text)
        time.sleep(0.2)
    return time.monotonic() - started


def test_the_egress_takes_a_new_host_list_in_place_and_a_stream_in_flight_finishes(
    pool: Rendered, terminators: dict[str, Nginx], standins: dict[str, OllamaStandin], tmp_path: Path
) -> None:
    """The rendered watcher beside the egress: a changed hosts file reloads nginx gracefully, no restart."""

    def url(host: str) -> str:
        return f"http://{EGRESS_RELOADING}:11434/hosts/{host}/api/chat"

    egress = start_egress(pool, EGRESS_RELOADING, GATEWAY, tmp_path / "egress", routes=_routes("gpu1"))
    watcher = subprocess.Popen(  # as the container's command runs it, nginx's master in place of PID 1
        ["sh", str(egress.conf_dir / RELOAD_SCRIPT_FILE), str(ROUTES_CHECK_SECONDS), str(egress.process.pid),
         str(egress.conf_dir / ROUTES_FILE)],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    standins["gpu1"].chunk_delay = 1.0  # a 6 s stream across the reload
    try:
        with httpx.Client(timeout=30) as http, ThreadPoolExecutor(1) as background:
            assert chat(http, url("gpu2")).status_code == 500, "no route to gpu2 yet"
            streaming = background.submit(_stream, http, url("gpu1"))
            time.sleep(1.5)
            (egress.conf_dir / ROUTES_FILE).write_text(_routes("gpu1", "gpu2"))
            added = _until(200, http, url("gpu2"), 3 * ROUTES_CHECK_SECONDS + 5)
            status, lines = streaming.result(timeout=30)
            (egress.conf_dir / ROUTES_FILE).write_text("upstream pool-host-gpu2 {\n    server 10.231.")  # half a file
            time.sleep(2 * ROUTES_CHECK_SECONDS + 1)
            assert chat(http, url("gpu2")).status_code == 200, "a file nginx cannot load leaves the last good one"
            (egress.conf_dir / ROUTES_FILE).write_text(_routes("gpu2"))
            removed = _until(500, http, url("gpu1"), 3 * ROUTES_CHECK_SECONDS + 5)
        assert egress.process.poll() is None, "nginx was never restarted"
        assert status == 200
        assert '"done": true' in lines[-1], "the stream begun before the reload finished on the old worker"
        assert "".join(json.loads(line)["message"]["content"] for line in lines) == "".join(REPLY_WORDS)
        assert added < 2 * ROUTES_CHECK_SECONDS + 2, added
        assert removed < 2 * ROUTES_CHECK_SECONDS + 2, removed
        assert "unexpected end of file" in egress.log.read_text()
    finally:
        standins["gpu1"].chunk_delay = 0.0
        watcher.terminate()
        said = watcher.communicate(timeout=10)[1]
        egress.stop()
    assert said.count("changed; nginx reloads gracefully") == 3, said


def _foreign_client_certificate(directory: Path) -> tuple[Path, Path]:
    """A client certificate for the same name from a CA the pool never heard of."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pool-certificates pool CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway.pool.llmstack.internal")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    certificate, private_key = directory / "foreign.crt", directory / "foreign.key"
    certificate.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    private_key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certificate, private_key


@pytest.fixture(scope="module")
def pool_gateway(
    pool: Rendered, egress: Nginx, docker_dns: DockerDns, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """The real LiteLLM running the pool stack's gateway container; `pool-egress` is the egress."""
    docker_dns.set("pool-egress", EGRESS)
    with running_gateway(pool, LITELLM, tmp_path_factory.mktemp("pool-litellm")) as running:
        yield running


def _answer(pool: Rendered) -> httpx.Response:
    body = {"model": "qwen2.5-0.5b", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {pool.outputs['masterKey']}"}
    return httpx.post(f"http://{LITELLM}:4000/v1/chat/completions", json=body, headers=headers, timeout=30)


def _ask(pool: Rendered) -> int:
    return _answer(pool).status_code


def _load(pool: Rendered, requests: int, concurrency: int) -> list[int]:
    with ThreadPoolExecutor(concurrency) as workers:
        return list(workers.map(lambda _: _ask(pool), range(requests)))


@pytest.fixture
def generating(standins: dict[str, OllamaStandin]) -> Iterator[dict[str, OllamaStandin]]:
    """Stand-ins with a fixed service time and each host's parallel slots (gpu1: 2, gpu2: 1)."""
    for host, settings in POOL_CONFIG["gpuHosts"].items():
        standins[host].slots = threading.Semaphore(settings["parallel"])
        standins[host].reply_delay = 0.3
    yield standins
    for standin in standins.values():
        standin.slots, standin.reply_delay = None, 0.0


def test_the_router_spreads_requests_by_each_hosts_parallelism(
    pool: Rendered, pool_gateway: Gateway, generating: dict[str, OllamaStandin]
) -> None:
    before = {host: len(s.requests) for host, s in generating.items()}
    statuses = _load(pool, requests=48, concurrency=6)
    assert statuses == [200] * 48
    served = {host: len(s.requests) - before[host] for host, s in generating.items()}
    assert sum(served.values()) == 48, "no request was sent twice"
    share = served["gpu1"] / 48
    # Least-busy sends each request where the fewest are in flight: the host with two slots finishes
    # twice as fast and so gets twice as many (2/3), within 20 %.
    assert 2 / 3 * 0.8 <= share <= 2 / 3 * 1.2, served


def test_the_router_keeps_serving_when_a_host_stops(
    pool: Rendered, pool_gateway: Gateway, generating: dict[str, OllamaStandin]
) -> None:
    before = len(generating["gpu1"].requests)
    with generating["gpu2"].stopped():
        statuses = _load(pool, requests=24, concurrency=4)
    assert statuses == [200] * 24, statuses
    assert len(generating["gpu1"].requests) - before == 24
    # Back: within the cooldown and a few seconds, it takes load again.
    deadline, back = time.monotonic() + 30, 0
    while time.monotonic() < deadline and not back:
        start = len(generating["gpu2"].requests)
        assert _load(pool, requests=6, concurrency=3) == [200] * 6
        back = len(generating["gpu2"].requests) - start
    assert back, "gpu2 never took load again"


def test_every_host_full_answers_503_and_serves_again_once_they_drain(
    pool: Rendered, pool_gateway: Gateway, standins: dict[str, OllamaStandin]
) -> None:
    """A full host is not a failing one: it must not rest, or clients would get 429s after the queues drained."""
    for standin in standins.values():
        standin.busy = True
    try:
        assert _load(pool, requests=6, concurrency=1) == [503] * 6
    finally:
        for standin in standins.values():
            standin.busy = False
    assert _load(pool, requests=4, concurrency=1) == [200] * 4


def test_every_host_down_answers_503_cannot_be_reached_and_serves_again_when_back(
    pool: Rendered, pool_gateway: Gateway, standins: dict[str, OllamaStandin]
) -> None:
    """The egress's 500 for each host, then the router resting them all: one answer for both, no internals."""
    with standins["gpu1"].stopped(), standins["gpu2"].stopped():
        answers = [_answer(pool) for _ in range(4)]
    assert [a.status_code for a in answers] == [503] * 4, [a.text for a in answers]
    for answer in answers:
        message = answer.json()["error"]["message"]
        assert "cannot be reached" in message
        assert "cooldown" not in message
        assert "deployment" not in message.lower()
    deadline = time.monotonic() + 30
    while _answer(pool).status_code != 200:
        assert time.monotonic() < deadline, "the pool never served again"
        time.sleep(0.5)


def _served_in_turn(pool: Rendered, standins: dict[str, OllamaStandin], chats: int) -> dict[str, int]:
    """Which host served each of `chats` chats sent one after another."""
    before = {host: len(standin.requests) for host, standin in standins.items()}
    assert [_ask(pool) for _ in range(chats)] == [200] * chats
    return {host: len(standin.requests) - before[host] for host, standin in standins.items()}


def test_a_chat_its_client_abandoned_leaves_its_host_no_busier(
    pool: Rendered, pool_gateway: Gateway, standins: dict[str, OllamaStandin]
) -> None:
    """The proxy cancels a chat whose client hung up, and least-busy's count of it must end too.

    With every host idle, least-busy's tie goes to the first deployment (gpu1): chats sent one at a
    time all land there. Without `llmstack_abandoned.py`, one chat abandoned on gpu1 stays counted in
    flight (an hour, its TTL) and that worker sends every later chat to gpu2 (seen: 0 of 8 on gpu1).
    """
    assert _served_in_turn(pool, standins, 4) == {"gpu1": 4, "gpu2": 0}, "idle hosts: the tie goes to gpu1"
    body = {"model": "qwen2.5-0.5b", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {pool.outputs['masterKey']}"}
    abandoned = len(standins["gpu1"].abandoned)
    standins["gpu1"].reply_delay = 20
    try:
        for _ in range(4):  # on both workers, most likely
            with suppress(httpx.ReadTimeout):
                httpx.post(f"http://{LITELLM}:4000/v1/chat/completions", json=body, headers=headers, timeout=1.5)
        # The proxy cancelled the call: the egress and the terminator hang up on the stand-in in turn.
        deadline = time.monotonic() + 5
        while len(standins["gpu1"].abandoned) == abandoned:
            assert time.monotonic() < deadline, "no chat was abandoned on gpu1"
            time.sleep(0.1)
    finally:
        standins["gpu1"].reply_delay = 0.0
    assert _served_in_turn(pool, standins, 12) == {"gpu1": 12, "gpu2": 0}


PROBE = "127.0.0.71"


def _scrape_probe() -> dict[str, float]:
    deadline = time.monotonic() + 10
    while True:
        try:
            text = httpx.get(f"http://{PROBE}:9101/metrics", timeout=10).text
        except httpx.ConnectError:
            assert time.monotonic() < deadline, "the probe never listened"
            time.sleep(0.2)
            continue
        samples = (line.rpartition(" ") for line in text.splitlines() if line[:1] != "#")
        return {series: float(value) for series, _, value in samples}


def test_the_probe_watches_each_host_through_the_egress(
    render: Any, egress: Nginx, standins: dict[str, OllamaStandin], tmp_path: Path
) -> None:
    """The rendered probe of a pool with monitoring, its egress name pointed at the emulated egress."""
    watched: Rendered = render("pool-watched", **{**POOL_CONFIG, "monitoring": "true"})
    command = [
        arg.replace("pool-egress:11434", f"{EGRESS}:11434") for arg in watched.inputs("monitoring-probe")["command"]
    ]
    listen = command.index("--listen") + 1
    command[listen] = "127.0.0.71:9101"
    probe = subprocess.Popen(  # the shipped file as its container runs it (the image's python3: ours here)
        [sys.executable, str(watched.container_dir("monitoring-probe") / command[0].lstrip("/")), *command[1:]],
        stderr=subprocess.PIPE,
    )
    try:

        def scrape() -> dict[str, float]:
            deadline = time.monotonic() + 10
            while True:
                try:
                    text = httpx.get("http://127.0.0.71:9101/metrics", timeout=10).text
                    return {
                        line.rpartition(" ")[0]: float(line.rpartition(" ")[2])
                        for line in text.splitlines()
                        if line[:1] != "#"
                    }
                except httpx.ConnectError:
                    assert time.monotonic() < deadline, "the probe never listened"
                    time.sleep(0.2)

        up = scrape()
        assert up[f'{MODEL_SERVER_UP}{{host="gpu1"}}'] == up[f'{MODEL_SERVER_UP}{{host="gpu2"}}'] == 1
        assert up[f'{MODEL_PRESENT}{{host="gpu2",model="qwen2.5-0.5b",tag="{TAG}"}}'] == 1
        with standins["gpu2"].stopped():
            down = _scrape_probe()
        assert down[f'{MODEL_SERVER_UP}{{host="gpu1"}}'] == 1
        assert down[f'{MODEL_SERVER_UP}{{host="gpu2"}}'] == 0
        assert down[f'{MODEL_PRESENT}{{host="gpu2",model="qwen2.5-0.5b",tag="{TAG}"}}'] == 0
    finally:
        probe.terminate()
        probe.communicate(timeout=10)
