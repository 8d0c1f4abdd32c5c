"""Benchmark: throughput of the GPU pool with 1, 2 and 3 hosts, as ratios to one host in the same run.

Runs inside the test sandbox (`python -m tests.live.sandbox --script benchmarks/pool_throughput.py`,
as `make bench` does): the real LiteLLM (two workers) runs each rendered pool stack's gateway, the
real nginx its egress and each host's terminator (mutual TLS), and each host's Ollama is a stand-in
with `PARALLEL` slots and a fixed service time, so one host serves at most PARALLEL / SERVICE
requests per second. 96 non-streamed chats at concurrency 16 per stack, after a warm-up; the
stacks run in the order 1, 2, 3, 3, 2, 1 hosts so a drifting machine weighs on each alike.
Target (issue #19): two hosts at least 1.8x one host.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from offline.render import render_config
from tests.live.conftest import Rendered, running_gateway
from tests.live.docker_dns import DockerDns
from tests.live.ollama_standin import OllamaStandin
from tests.live.pool_emulation import add_address, start_egress, start_terminator
from tests.support import namespaced

PARALLEL = 4
SERVICE_SECONDS = 0.5
REQUESTS = 96
CONCURRENCY = 16
GATEWAY = "10.231.91.2"
HOSTS = {"gpu1": "10.231.91.11", "gpu2": "10.231.91.12", "gpu3": "10.231.91.13"}
STANDINS = {"gpu1": "127.0.0.81", "gpu2": "127.0.0.82", "gpu3": "127.0.0.83"}
EGRESS = "127.0.0.53"
LITELLM = "127.0.0.25"
TAG = "qwen2.5:0.5b"


def render(hosts: int, base: Path) -> Rendered:
    """The pool stack with the first `hosts` hosts."""
    names = list(HOSTS)[:hosts]
    config = {
        "monitoring": "false",
        "gatewayAddress": GATEWAY,
        "gpuHosts": {n: {"dockerHost": f"ssh://ops@{n}", "address": HOSTS[n], "parallel": PARALLEL} for n in names},
    }
    directory = base / f"pool-{hosts}"
    result = render_config(directory.name, directory, namespaced(config), notify=lambda _: None, seed=b"bench")
    return Rendered(directory, result)


def measure(pool: Rendered, hosts: int, work: Path, standins: dict[str, OllamaStandin]) -> tuple[float, dict[str, int]]:
    """Requests per second through the whole chain, and how many each host served."""
    names = list(HOSTS)[:hosts]
    terminators = [start_terminator(pool, n, HOSTS[n], work / f"t-{n}") for n in names]
    (work / "egress").mkdir()
    egress = start_egress(pool, EGRESS, GATEWAY, work / "egress")
    (work / "litellm").mkdir()
    try:
        with running_gateway(pool, LITELLM, work / "litellm"):
            headers = {"Authorization": f"Bearer {pool.outputs['masterKey']}"}
            body = {"model": "qwen2.5-0.5b", "messages": [{"role": "user", "content": "hi"}]}
            with httpx.Client(timeout=60, headers=headers) as http:

                def ask(_: int) -> int:
                    return http.post(f"http://{LITELLM}:4000/v1/chat/completions", json=body).status_code

                with ThreadPoolExecutor(CONCURRENCY) as workers:
                    list(workers.map(ask, range(CONCURRENCY)))  # warm-up
                    before = {n: len(s.requests) for n, s in standins.items()}
                    start = time.monotonic()
                    statuses = list(workers.map(ask, range(REQUESTS)))
                    elapsed = time.monotonic() - start
            if statuses != [200] * REQUESTS:
                raise RuntimeError(f"{hosts} hosts: statuses {sorted(set(statuses))}")
            return REQUESTS / elapsed, {n: len(s.requests) - before[n] for n, s in standins.items()}
    finally:
        egress.stop()
        for terminator in terminators:
            terminator.stop()


def main() -> None:
    """Run the stacks in the order 1, 2, 3, 3, 2, 1 hosts and print throughput and ratios."""
    dns = DockerDns()
    base = Path(tempfile.mkdtemp(prefix="llmstack-pool-bench-"))
    base.chmod(0o755)
    for address in (GATEWAY, *HOSTS.values()):
        add_address(address)
    standins = {n: OllamaStandin(a, 11434, (TAG,)) for n, a in STANDINS.items()}
    for name, standin in standins.items():
        standin.slots, standin.reply_delay = threading.Semaphore(PARALLEL), SERVICE_SECONDS
        dns.set(f"ollama-{name}-standin", STANDINS[name])
        dns.set(f"ollama-{name}", EGRESS)
    rendered = {hosts: render(hosts, base) for hosts in (1, 2, 3)}
    results: dict[int, list[float]] = {1: [], 2: [], 3: []}
    try:
        for run, hosts in enumerate((1, 2, 3, 3, 2, 1)):
            rate, served = measure(rendered[hosts], hosts, base / f"run-{run}", standins)
            results[hosts].append(rate)
            print(f"{hosts} host(s): {rate:.1f} req/s, served per host {served}", flush=True)
    finally:
        for standin in standins.values():
            standin.close()
        dns.close()
        shutil.rmtree(base)
    one = sum(results[1]) / len(results[1])
    ceiling = PARALLEL / SERVICE_SECONDS
    for hosts, rates in results.items():
        mean = sum(rates) / len(rates)
        ideal = min(hosts * ceiling, CONCURRENCY / SERVICE_SECONDS)
        print(f"{hosts} host(s): {mean:.1f} req/s (ideal {ideal:.0f}), {mean / one:.2f}x one host")


if __name__ == "__main__":
    main()
