"""The tunnel watch, live: the real nginx runs the rendered watch config in front of cloudflared's metrics server.

cloudflared's metrics server is a stand-in (`MetricsServerStandIn`: `/metrics`, `/ready` and a
pprof whose heap profile holds a marker, as the real one holds the tunnel token) on 127.0.0.1, the
loopback the watch shares with cloudflared. The watch must pass `GET /metrics` and refuse
everything else, however the path is spelt. Then Debian's Prometheus scrapes the watch through
the rendered tunnel job (its target resolved by the Docker DNS stand-in) and evaluates the rendered
TunnelDown expression: it fires at 0 connections and when the watch is gone. Only the rule's `for`
and the intervals are shortened, in the test's own copy.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from components.render.monitoring import JOB_TUNNEL
from components.tunnel import METRICS_ADDRESS
from components.tunnel_watch import WATCH_ALIAS, WATCH_PORT
from tests.live.cloudflared_standin import HA_CONNECTIONS, PPROF_MARKER, MetricsServerStandIn
from tests.live.conftest import Rendered, _wait_for_port, start_nginx
from tests.live.docker_dns import DockerDns
from tests.live.monitoring import binary
from tests.support import TUNNEL

WATCH_ADDRESS = "127.0.0.72"
"""cloudflared's address on the watch network (the watch listens on every address of its namespace)."""
PROMETHEUS = ("127.0.0.73", 9090)
REFUSED = (
    "/debug/pprof/heap",
    "/debug/pprof/",
    "/debug/pprof/heap?debug=1",
    "/metrics/../debug/pprof/heap",
    "/metrics/%2e%2e/debug/pprof/heap",
    "/%64ebug/pprof/heap",
    "//debug/pprof/heap",
    "/metrics/",
    "/METRICS",
    "/metrics;/debug/pprof/heap",
    "/ready",
    "/ready?x=1",
    "http://127.0.0.1:20241/debug/pprof/heap",
)
"""Request targets that must not reach cloudflared (absolute form included)."""


@dataclass
class Watch:
    """The running watch (the real nginx) and the metrics server behind it."""

    rendered: Rendered
    metrics: MetricsServerStandIn
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop nginx, as cloudflared's end would take the watch with it."""
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def watched(render: Callable[..., Rendered]) -> Rendered:
    return render("tunnelwatch", **TUNNEL)


@pytest.fixture(scope="module")
def watch(watched: Rendered, docker_dns: DockerDns, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watch]:
    host, _, port = METRICS_ADDRESS.rpartition(":")
    metrics = MetricsServerStandIn(host, int(port))
    conf_dir = watched.container_dir("tunnel-watch") / "etc/nginx"
    run_dir = tmp_path_factory.mktemp("watch")
    log = run_dir / "error.log"
    process = start_nginx(conf_dir, run_dir, log)
    _wait_for_port(WATCH_ADDRESS, WATCH_PORT, process, log)
    docker_dns.set(WATCH_ALIAS, WATCH_ADDRESS)
    running = Watch(watched, metrics, process)
    yield running
    if process.poll() is None:
        running.stop()
    metrics.close()


def _raw_get(target: str, method: str = "GET") -> tuple[int, bytes]:
    """One request with its target sent byte for byte (no client normalises it)."""
    with socket.create_connection((WATCH_ADDRESS, WATCH_PORT), timeout=10) as connection:
        connection.sendall(f"{method} {target} HTTP/1.1\r\nHost: {WATCH_ALIAS}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer


def test_the_watch_passes_metrics_from_cloudflareds_loopback(watch: Watch) -> None:
    status, answer = _raw_get("/metrics")
    assert status == 200
    assert f"{HA_CONNECTIONS} 4".encode() in answer
    assert watch.metrics.paths[-1] == "/metrics"


@pytest.mark.parametrize("target", REFUSED)
def test_everything_else_is_refused_and_the_profile_never_crosses(watch: Watch, target: str) -> None:
    before = len(watch.metrics.paths)
    status, answer = _raw_get(target)
    assert status in (400, 403, 404), answer[:200]
    assert PPROF_MARKER.encode() not in answer
    assert watch.metrics.paths[before:] == [], "the request reached cloudflared's metrics server"


def test_a_query_string_or_another_method_never_reaches_cloudflared(watch: Watch) -> None:
    before = len(watch.metrics.paths)
    status, answer = _raw_get("/metrics?/../debug/pprof/heap")
    assert status == 200
    assert PPROF_MARKER.encode() not in answer
    assert _raw_get("/metrics", method="POST")[0] == 403
    # cloudflared saw exactly "/metrics": no query string, no other method's request.
    assert watch.metrics.paths[before:] == ["/metrics"]


@pytest.fixture(scope="module")
def prometheus(watch: Watch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's Prometheus with the rendered tunnel job and TunnelDown expression (intervals shortened)."""
    etc = watch.rendered.container_dir("monitoring-prometheus") / "etc/prometheus"
    rendered = yaml.safe_load((etc / "prometheus.yml").read_text())
    (job,) = [job for job in rendered["scrape_configs"] if job["job_name"] == JOB_TUNNEL]
    assert job["static_configs"] == [{"targets": [f"{WATCH_ALIAS}:{WATCH_PORT}"]}]
    (rule_file,) = rendered["rule_files"]
    rules = yaml.safe_load((etc / rule_file).read_text())
    (rule,) = [rule for group in rules["groups"] for rule in group["rules"] if rule["alert"] == "TunnelDown"]
    workdir = tmp_path_factory.mktemp("prometheus")
    (workdir / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "t", "rules": [{**rule, "for": "2s"}]}]}))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": ["rules.yml"],
        "scrape_configs": [job],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = workdir / "prometheus.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address={PROMETHEUS[0]}:{PROMETHEUS[1]}",
            ],
            stdout=output,
            stderr=output,
            cwd=workdir,
        )
    url = f"http://{PROMETHEUS[0]}:{PROMETHEUS[1]}"
    try:
        _wait(lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200, log, "ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _query(url: str, expression: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": expression}, timeout=5)
    answer.raise_for_status()
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def _samples(url: str, expression: str) -> list[float]:
    return [float(sample["value"][1]) for sample in _query(url, expression)]


def _wait(check: Callable[[], bool], log: Path | None, what: str, seconds: float = 40) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    targets = httpx.get(f"http://{PROMETHEUS[0]}:{PROMETHEUS[1]}/api/v1/targets", timeout=5).json()["data"]
    health = [(t["scrapeUrl"], t["health"], t["lastError"]) for t in targets["activeTargets"]]
    pytest.fail(f"{what}: not within {seconds}s; targets: {health}\n{log.read_text()[-2000:] if log else ''}")


FIRING = 'ALERTS{alertname="TunnelDown", alertstate="firing"}'


def test_prometheus_scrapes_the_watch_and_tunnel_down_fires_at_zero_connections(watch: Watch, prometheus: str) -> None:
    up = f'up{{job="{JOB_TUNNEL}"}}'
    _wait(lambda: _samples(prometheus, up) == [1.0], None, "the watch is up")
    _wait(lambda: _samples(prometheus, HA_CONNECTIONS) == [4.0], None, "4 connections seen")
    time.sleep(3)  # longer than the rule's `for`: nothing may be pending or firing
    assert _query(prometheus, 'ALERTS{alertname="TunnelDown"}') == []
    watch.metrics.connections = 0
    _wait(lambda: bool(_query(prometheus, FIRING)), None, "TunnelDown fires at 0 connections")
    watch.metrics.connections = 2
    _wait(lambda: _query(prometheus, 'ALERTS{alertname="TunnelDown"}') == [], None, "TunnelDown resolves")
    assert all(path == "/metrics" for path in watch.metrics.paths), "Prometheus's scrapes reach /metrics alone"


def test_tunnel_down_fires_when_the_watch_is_gone(watch: Watch, prometheus: str) -> None:
    """Without cloudflared its namespace goes, and the watch in it and the watch with it: the target stops answering."""
    _wait(lambda: _query(prometheus, 'ALERTS{alertname="TunnelDown"}') == [], None, "no alert to begin with")
    watch.stop()
    _wait(lambda: _samples(prometheus, f'up{{job="{JOB_TUNNEL}"}}') == [0.0], None, "the target is down")
    _wait(lambda: bool(_query(prometheus, FIRING)), None, "TunnelDown fires without the watch")
