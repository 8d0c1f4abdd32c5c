"""Benchmark: what the nginx edge adds, measured against a direct call in the same run.

Runs inside the test sandbox (`python -m tests.live.sandbox --script benchmarks/edge_latency.py`, as
`make bench` does): the real nginx runs the rendered config in front of a LiteLLM stand-in.
Prints p50/p95 of GET /v1/models direct to the stand-in, through nginx (TLS on, basic auth off),
and through nginx with basic auth, plus the delay nginx adds to the first streamed event.
Targets: nginx adds <= 1 ms p50; basic auth adds <= 1 ms p50; first event delayed <= 5 ms.

This machine's speed drifts from minute to minute, so requests through nginx alternate with direct
ones, in rounds that alternate between the two rendered stacks (one nginx runs at a time: both
listen on the same port). Each difference is then taken between requests that saw the same machine.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from offline.engine import OfflineRun
from offline.render import render_config
from tests.live.docker_dns import DockerDns
from tests.live.gateway_standin import GatewayStandin
from tests.support import namespaced

ROUNDS = 8
REQUESTS = 50
"""Requests per round, each way."""
STREAMS = 8
STANDIN = "127.0.0.41"
UNLIMITED = {
    "clientRateLimit": "10000",
    "clientRateBurst": "100000",
    "keyRateLimit": "10000",
    "keyRateBurst": "100000",
    "clients": {"bench": {}},
}


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95)] * 1000


def alternating(calls: dict[str, Callable[[], float]], count: int) -> dict[str, list[float]]:
    """`count` measurements of each kind, the kinds taking turns (in either order), after a warm-up."""
    for call in calls.values():
        for _ in range(3):
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    kinds = list(calls.items())
    for turn in range(count):
        for name, call in kinds if turn % 2 else reversed(kinds):
            samples[name].append(call())
    return samples


def get(client: httpx.Client, headers: dict[str, str]) -> Callable[[], float]:
    """A GET /v1/models; measures its latency."""

    def call() -> float:
        started = time.perf_counter()
        client.get("/v1/models", headers=headers).raise_for_status()
        return time.perf_counter() - started

    return call


def first_event(client: httpx.Client, headers: dict[str, str]) -> Callable[[], float]:
    """A streamed request read to its end; measures the time to its first event."""

    def call() -> float:
        started = time.perf_counter()
        first: float | None = None
        with client.stream("POST", "/v1/chat/completions", headers=headers, json={"stream": True}) as response:
            for line in response.iter_lines():
                if first is None and line.startswith("data: {"):
                    first = time.perf_counter() - started
        if first is None:
            raise RuntimeError("the stream carried no event")
        return first

    return call


def start_nginx(render: Path, run_dir: Path) -> subprocess.Popen[bytes]:
    """The real nginx on the rendered /etc/nginx."""
    conf_dir = render / "containers/edge-container/etc/nginx"
    process = subprocess.Popen(
        ["nginx", "-p", f"{conf_dir}/", "-c", "nginx.conf", "-g", f"daemon off; pid {run_dir}/nginx.pid;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            httpx.get("http://127.0.0.1:8081/healthz", timeout=0.5)
            return process
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start")


def measure_round(
    stack: tuple[OfflineRun, Path, dict[str, str]],
    direct: httpx.Client,
    direct_headers: dict[str, str],
    run_dir: Path,
    *,
    streams: bool,
) -> dict[str, list[float]]:
    """One round for one rendered stack: direct and through its nginx, alternating."""
    result, render, headers = stack
    process = start_nginx(render, run_dir)
    try:
        trust = httpx.create_ssl_context(verify=True)
        trust.load_verify_locations(cadata=result.outputs["caCertificate"])
        with httpx.Client(verify=trust, base_url=str(result.outputs["endpoint"]).removesuffix("/v1")) as edge:
            gets = alternating({"direct": get(direct, direct_headers), "edge": get(edge, headers)}, REQUESTS)
            if not streams:
                return gets
            firsts = alternating(
                {"direct": first_event(direct, direct_headers), "edge": first_event(edge, headers)}, STREAMS
            )
        return {**gets, "direct_first": firsts["direct"], "edge_first": firsts["edge"]}
    finally:
        process.terminate()
        process.wait()


def p50(samples: list[float]) -> float:
    """The median in milliseconds."""
    return statistics.median(samples) * 1000


def main() -> int:
    """Measure, print, exit 1 if a target is missed."""
    work = Path(tempfile.mkdtemp(prefix="llmstack-bench-"))
    work.chmod(0o755)
    dns, standin = DockerDns(), GatewayStandin(STANDIN, 4000)
    dns.set("litellm", STANDIN)
    samples: dict[str, dict[str, list[float]]] = {"plain": {}, "basic": {}}
    try:
        plain = render_config("bench", work / "plain", namespaced(UNLIMITED), notify=lambda _: None, seed=b"b")
        basic = render_config(
            "bench", work / "basic", namespaced({**UNLIMITED, "basicAuth": "true"}), notify=lambda _: None, seed=b"b"
        )
        key = {"Authorization": f"Bearer {plain.outputs['masterKey']}"}
        stacks = {
            "plain": (plain, work / "plain", key),
            "basic": (basic, work / "basic", basic.outputs["clients"]["bench"]["headers"]),
        }
        with httpx.Client(base_url=f"http://{STANDIN}:4000") as direct:
            for _ in range(ROUNDS):
                for name, stack in stacks.items():
                    measured_round = measure_round(stack, direct, key, work, streams=name == "plain")
                    for kind, measured in measured_round.items():
                        samples[name].setdefault(kind, []).extend(measured)
    finally:
        standin.close()
        dns.close()
        shutil.rmtree(work)
    rows = {
        "direct to the gateway stand-in": percentiles(samples["plain"]["direct"] + samples["basic"]["direct"]),
        "through nginx (TLS, basic auth off)": percentiles(samples["plain"]["edge"]),
        "through nginx (TLS, basic auth on)": percentiles(samples["basic"]["edge"]),
    }
    for label, (median, p95) in rows.items():
        print(f"{label:40s} p50 {median:7.3f} ms   p95 {p95:7.3f} ms")
    added = p50(samples["plain"]["edge"]) - p50(samples["plain"]["direct"])
    basic_added = p50(samples["basic"]["edge"]) - p50(samples["basic"]["direct"]) - added
    first = p50(samples["plain"]["edge_first"]) - p50(samples["plain"]["direct_first"])
    figures = {"nginx_added_p50_ms": added, "basic_auth_added_p50_ms": basic_added, "first_event_delay_p50_ms": first}
    print(f"nginx adds (p50)                         {added:7.3f} ms   (target <= 1)")
    print(f"basic auth adds (p50)                    {basic_added:7.3f} ms   (target <= 1)")
    print(f"first streamed event delayed by (p50)    {first:7.3f} ms   (target <= 5)")
    print(json.dumps({k: round(v, 3) for k, v in figures.items()}))
    return 0 if added <= 1 and basic_added <= 1 and first <= 5 else 1


if __name__ == "__main__":
    sys.exit(main())
