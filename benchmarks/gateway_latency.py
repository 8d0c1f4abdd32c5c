"""Benchmark: what the gateway (nginx + LiteLLM) adds in front of Ollama, in one run.

Runs inside the test sandbox (`make bench`): the real nginx and the real LiteLLM run the rendered
dev stack in front of the Ollama-API stand-in. Prints, against a direct call to the stand-in
measured in the same run: added latency p50/p95 (non-streamed), streamed time to first token, and
throughput at concurrency 16. Target: added p50 <= 10 ms on this 2-core machine.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from offline.render import read_stack_file, render_config
from tests.live.conftest import GATEWAY_ADDRESS, OLLAMA_ADDRESS, Rendered, start_gateway, stop_gateway
from tests.live.docker_dns import DockerDns
from tests.live.ollama_stub import OllamaStub
from tests.support import namespaced

PROJECT_DIR = Path(__file__).resolve().parent.parent
REQUESTS = 200
STREAMS = 50
CONCURRENCY = 16
PER_WORKER = 12
UNLIMITED = {"clientRateLimit": "10000", "clientRateBurst": "100000", "keyRateLimit": "10000", "keyRateBurst": "100000"}


def ms(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95)] * 1000


def timed(call: Callable[[], object], count: int) -> list[float]:
    """Latencies of `count` sequential calls after a warm-up."""
    for _ in range(10):
        call()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def throughput(make_call: Callable[[], Callable[[], object]]) -> float:
    """Completed requests per second with CONCURRENCY clients, each with its own connection."""

    def worker(_: int) -> None:
        call = make_call()
        for _ in range(PER_WORKER):
            call()

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(worker, range(CONCURRENCY)))
    return CONCURRENCY * PER_WORKER / (time.perf_counter() - started)


def main() -> int:
    """Measure, print, exit 1 if the target is missed."""
    work = Path(tempfile.mkdtemp(prefix="llmstack-bench-"))
    work.chmod(0o755)
    config, _ = read_stack_file("dev", PROJECT_DIR, notify=lambda _: None)
    # The dev stack as rendered, but with the edge's rate limits out of the way of the load.
    config.update(namespaced(UNLIMITED))
    result = render_config("dev", work / "dev", config, notify=lambda _: None, seed=b"bench")
    dev = Rendered(work / "dev", result)
    dns = DockerDns()
    ollama = OllamaStub(OLLAMA_ADDRESS, 11434, ("qwen2.5:0.5b",))
    dns.set("ollama", OLLAMA_ADDRESS)
    dns.set("litellm", GATEWAY_ADDRESS)
    (work / "gateway").mkdir()
    gateway = start_gateway(dev, GATEWAY_ADDRESS, work / "gateway")
    conf_dir = dev.container_dir("edge-container") / "etc/nginx"
    nginx = subprocess.Popen(
        ["nginx", "-p", f"{conf_dir}/", "-c", "nginx.conf", "-g", f"daemon off; pid {work}/nginx.pid;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        key = {"Authorization": f"Bearer {result.outputs['clients']['dev']['apiKey']}"}
        body = {"model": "qwen2.5-0.5b", "messages": [{"role": "user", "content": "hi"}]}
        native = {"model": "qwen2.5:0.5b", "messages": body["messages"], "stream": False}
        trust = httpx.create_ssl_context()
        trust.load_verify_locations(cadata=result.outputs["caCertificate"])
        direct = httpx.Client(base_url=f"http://{OLLAMA_ADDRESS}:11434")
        chain = httpx.Client(base_url=result.outputs["endpoint"] + "/", verify=trust, timeout=30)

        direct_plain = timed(lambda: direct.post("/api/chat", json=native).raise_for_status(), REQUESTS)
        chain_plain = timed(lambda: chain.post("chat/completions", headers=key, json=body).raise_for_status(), REQUESTS)

        def first_token(client: httpx.Client, path: str, payload: dict[str, object], marker: str) -> float:
            started = time.perf_counter()
            with client.stream("POST", path, headers=key, json=payload) as response:
                first = None
                for line in response.iter_lines():
                    if first is None and marker in line:
                        first = time.perf_counter() - started
            return first if first is not None else float("nan")

        direct_ttft = [
            first_token(direct, "/api/chat", {**native, "stream": True}, '"content"') for _ in range(STREAMS)
        ]
        chain_ttft = [
            first_token(chain, "chat/completions", {**body, "stream": True}, '"content"') for _ in range(STREAMS)
        ]
        direct_rps = throughput(
            lambda: (lambda c: lambda: c.post("/api/chat", json=native).raise_for_status())(
                httpx.Client(base_url=f"http://{OLLAMA_ADDRESS}:11434")
            )
        )
        chain_rps = throughput(
            lambda: (lambda c: lambda: c.post("chat/completions", headers=key, json=body).raise_for_status())(
                httpx.Client(base_url=result.outputs["endpoint"] + "/", verify=trust, timeout=60)
            )
        )
    finally:
        nginx.terminate()
        nginx.wait()
        stop_gateway(gateway)
        ollama.close()
        dns.close()
        shutil.rmtree(work)

    direct_p50, direct_p95 = ms(direct_plain)
    chain_p50, chain_p95 = ms(chain_plain)
    added_p50, added_p95 = chain_p50 - direct_p50, chain_p95 - direct_p95
    ttft_added = ms(chain_ttft)[0] - ms(direct_ttft)[0]
    print(f"direct to the Ollama stand-in     p50 {direct_p50:7.2f} ms  p95 {direct_p95:7.2f} ms")
    print(f"through nginx + LiteLLM           p50 {chain_p50:7.2f} ms  p95 {chain_p95:7.2f} ms")
    print(f"gateway adds                      p50 {added_p50:7.2f} ms  p95 {added_p95:7.2f} ms  (target p50 <= 10)")
    print(f"streamed first token added        p50 {ttft_added:7.2f} ms")
    print(f"throughput at concurrency {CONCURRENCY}     direct {direct_rps:7.1f} req/s   chain {chain_rps:7.1f} req/s")
    return 0 if added_p50 <= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
