"""Benchmark: what the nginx edge adds, measured against a direct call in the same run.

Runs inside the test sandbox (`python -m tests.sandbox --script benchmarks/edge_latency.py`, as
`make bench` does): the real nginx runs the rendered config in front of a LiteLLM stand-in.
Prints p50/p95 of GET /v1/models direct to the stand-in, through nginx (TLS on, basic auth off),
and through nginx with basic auth, plus the delay nginx adds to the first streamed event.
Targets: nginx adds <= 1 ms p50; basic auth adds <= 1 ms p50; first event delayed <= 5 ms.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from offline.engine import OfflineRun
from offline.render import render_config
from tests.live.docker_dns import DockerDns
from tests.live.gateway_stub import GatewayStub
from tests.support import namespaced

REQUESTS = 400
STREAMS = 60
STUB = "127.0.0.41"
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


def timed_gets(client: httpx.Client, url: str, headers: dict[str, str]) -> list[float]:
    """Latencies of REQUESTS sequential keep-alive GETs, after a warm-up."""
    for _ in range(20):
        client.get(url, headers=headers).raise_for_status()
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        client.get(url, headers=headers).raise_for_status()
        samples.append(time.perf_counter() - started)
    return samples


def first_event_delays(client: httpx.Client, url: str, headers: dict[str, str]) -> list[float]:
    """Time from sending a streamed request to its first event, STREAMS times."""
    samples = []
    for _ in range(STREAMS):
        started = time.perf_counter()
        first: float | None = None
        with client.stream("POST", url, headers=headers, json={"stream": True}) as response:
            for line in response.iter_lines():
                if first is None and line.startswith("data: {"):
                    first = time.perf_counter() - started
        if first is not None:
            samples.append(first)
    return samples


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


def measure_edge(result: OfflineRun, render: Path, run_dir: Path, headers: dict[str, str]) -> dict[str, list[float]]:
    """Latency samples through nginx for one rendered stack."""
    process = start_nginx(render, run_dir)
    try:
        trust = httpx.create_ssl_context(verify=True)
        trust.load_verify_locations(cadata=result.outputs["caCertificate"])
        with httpx.Client(verify=trust, base_url=str(result.outputs["endpoint"]).removesuffix("/v1")) as client:
            return {
                "get": timed_gets(client, "/v1/models", headers),
                "first_event": first_event_delays(client, "/v1/chat/completions", headers),
            }
    finally:
        process.terminate()
        process.wait()


def main() -> int:
    """Measure, print, exit 1 if a target is missed."""
    work = Path(tempfile.mkdtemp(prefix="llmstack-bench-"))
    work.chmod(0o755)
    dns, stub = DockerDns(), GatewayStub(STUB, 4000)
    dns.set("litellm", STUB)
    try:
        plain = render_config("bench", work / "plain", namespaced(UNLIMITED), notify=lambda _: None, seed=b"b")
        basic = render_config(
            "bench", work / "basic", namespaced({**UNLIMITED, "basicAuth": "true"}), notify=lambda _: None, seed=b"b"
        )
        key = {"Authorization": f"Bearer {plain.outputs['masterKey']}"}
        with httpx.Client(base_url=f"http://{STUB}:4000") as direct:
            direct_get = timed_gets(direct, "/v1/models", key)
            direct_first = first_event_delays(direct, "/v1/chat/completions", key)
        edge = measure_edge(plain, work / "plain", work, key)
        edge_basic = measure_edge(basic, work / "basic", work, basic.outputs["clients"]["bench"]["headers"])
    finally:
        stub.close()
        dns.close()
        shutil.rmtree(work)
    rows = {
        "direct to the gateway stand-in": percentiles(direct_get),
        "through nginx (TLS, basic auth off)": percentiles(edge["get"]),
        "through nginx (TLS, basic auth on)": percentiles(edge_basic["get"]),
    }
    for label, (p50, p95) in rows.items():
        print(f"{label:40s} p50 {p50:7.3f} ms   p95 {p95:7.3f} ms")
    added = rows["through nginx (TLS, basic auth off)"][0] - rows["direct to the gateway stand-in"][0]
    basic_added = rows["through nginx (TLS, basic auth on)"][0] - rows["through nginx (TLS, basic auth off)"][0]
    first = percentiles(edge["first_event"])[0] - percentiles(direct_first)[0]
    figures = {"nginx_added_p50_ms": added, "basic_auth_added_p50_ms": basic_added, "first_event_delay_p50_ms": first}
    print(f"nginx adds (p50)                         {added:7.3f} ms   (target <= 1)")
    print(f"basic auth adds (p50)                    {basic_added:7.3f} ms   (target <= 1)")
    print(f"first streamed event delayed by (p50)    {first:7.3f} ms   (target <= 5)")
    print(json.dumps({k: round(v, 3) for k, v in figures.items()}))
    return 0 if added <= 1 and basic_added <= 1 and first <= 5 else 1


if __name__ == "__main__":
    sys.exit(main())
