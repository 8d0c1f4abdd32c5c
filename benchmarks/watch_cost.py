"""What watching and defending add to a request: LiteLLM's metrics and the ban check, p50.

Runs inside the test sandbox (`make bench`). Two real LiteLLMs (1.108.7, the dev stack's two
workers) run the dev stack rendered twice: as shipped (monitoring on: the `prometheus` callback in
multi-process mode; bans on: the hook reads the ban list before any key) and with
`monitoring: false` and `banMaxRetry: 0`. Requests alternate between the two, so both see the same
machine; the Ollama stand-in answers both. The figure is the difference of the p50s and their ratio.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from offline.render import read_stack_file, render_config
from tests.live.conftest import OLLAMA_ADDRESS, Gateway, Rendered, start_gateway, stop_gateway
from tests.live.docker_dns import DockerDns
from tests.live.ollama_standin import OllamaStandin
from tests.support import namespaced

PROJECT_DIR = Path(__file__).resolve().parent.parent
ADDRESSES = {"watched": "127.0.0.21", "plain": "127.0.0.23"}
REQUESTS = 1000
TARGET_MS = 0.5
UNWATCHED = {"monitoring": "false", "banMaxRetry": "0"}


def p50_ms(samples: list[float]) -> float:
    """The median in milliseconds."""
    return statistics.median(samples) * 1000


def alternating(calls: dict[str, Callable[[], object]], count: int) -> dict[str, list[float]]:
    """Latencies of each call, taking turns after a warm-up, so that all see the same machine."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        for _ in range(20):
            call()
    order = list(calls.items())
    for round_ in range(count):
        # Either may go first: the first of a pair meets a slightly different machine.
        for name, call in order if round_ % 2 else reversed(order):
            started = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - started)
    return samples


def main() -> int:
    """Measure, print, exit 1 if more than TARGET_MS is added."""
    work = Path(tempfile.mkdtemp(prefix="llmstack-bench-"))
    work.chmod(0o755)
    config, _ = read_stack_file("dev", PROJECT_DIR, notify=lambda _: None)
    variants = {"watched": config, "plain": {**config, **namespaced(UNWATCHED)}}
    stacks = {
        name: Rendered(work / name, render_config("dev", work / name, values, notify=lambda _: None, seed=b"bench"))
        for name, values in variants.items()
    }
    dns = DockerDns()
    ollama = OllamaStandin(OLLAMA_ADDRESS, 11434, ("qwen2.5:0.5b",))
    dns.set("ollama", OLLAMA_ADDRESS)
    key = {"Authorization": f"Bearer {stacks['watched'].result.outputs['clients']['dev']['apiKey']}"}
    body = {"model": "qwen2.5-0.5b", "messages": [{"role": "user", "content": "hi"}]}
    gateways: list[Gateway] = []
    try:
        for name, address in ADDRESSES.items():
            (work / name / "gateway").mkdir()
            gateways.append(start_gateway(stacks[name], address, work / name / "gateway"))
        clients = {
            name: httpx.Client(base_url=f"http://{address}:4000", timeout=60) for name, address in ADDRESSES.items()
        }

        def chat(client: httpx.Client) -> Callable[[], object]:
            return lambda: client.post("/chat/completions", headers=key, json=body).raise_for_status()

        calls = {name: chat(client) for name, client in clients.items()}
        samples = alternating(calls, REQUESTS)
        scraped = clients["watched"].get("/metrics", follow_redirects=True).text
    finally:
        for gateway in gateways:
            stop_gateway(gateway)
        ollama.close()
        dns.close()
        shutil.rmtree(work)
    # The measurement means something only if the watched LiteLLM counted the requests.
    if "litellm_proxy_total_requests_metric_total" not in scraped:
        print("the watched LiteLLM exposed no request counter: nothing was measured")
        return 1
    watched, plain = p50_ms(samples["watched"]), p50_ms(samples["plain"])
    print(f"LiteLLM, metrics and bans off     p50 {plain:7.2f} ms  ({REQUESTS} requests, alternating)")
    print(f"LiteLLM, metrics and bans on      p50 {watched:7.2f} ms")
    print(f"watching and defending add        p50 {watched - plain:7.2f} ms  (target <= {TARGET_MS})")
    print(f"ratio on / off                        {watched / plain:7.3f}")
    return 0 if watched - plain <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
