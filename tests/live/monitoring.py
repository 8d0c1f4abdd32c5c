"""Run a rendered stack's monitoring containers here (Debian's Prometheus, exporter, Alertmanager).

The probe runs too, and a stand-in for the operator's webhook receiver.

Each runs the rendered container's own command and files. What Docker would provide is emulated
as for nginx and LiteLLM (tests/live/conftest.py): container paths go to the render's directories
(the data volume to a temporary one), and Docker's DNS answers each alias with the loopback
address the emulated container listens on. nginx's address on the monitoring network is an address
of the monitoring subnet added to the sandbox's loopback, so its status page sees the exporter
come from that network, as in Docker. No target address in prometheus.yml is changed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from components.monitoring import ALERTMANAGER_ALIAS, NGINX_EXPORTER_ALIAS, PROBE_ALIAS, PROMETHEUS_PORT
from tests.live.conftest import VENV_BIN, Rendered
from tests.live.docker_dns import DockerDns

EXPORTER_ADDRESS = "127.0.0.51"
PROBE_ADDRESS = "127.0.0.52"
ALERTMANAGER_ADDRESS = "127.0.0.53"
PROMETHEUS_ADDRESS = "127.0.0.1"
"""Prometheus scrapes itself at 127.0.0.1, its own loopback in the container."""


def binary(name: str) -> str:
    """A Debian binary CI installs (.ci/run)."""
    path = shutil.which(name) or f"/usr/bin/{name}"
    if not Path(path).exists():
        pytest.fail(f"{name} is not installed: CI's .ci/run installs Debian's package")
    return path


def nginx_monitoring_address(rendered: Rendered) -> str:
    """An address of the monitoring subnet for nginx, added to the sandbox's loopback once."""
    import ipaddress

    subnet = rendered.inputs("network-monitoring")["ipamConfigs"][0]["subnet"]
    address = str(ipaddress.ip_network(subnet)[5])
    present = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=True)
    if f" {address}/" not in present.stdout:
        subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True)
    return address


@dataclass
class Monitoring:
    """The running monitoring containers of one render."""

    rendered: Rendered
    prometheus_url: str
    logs: dict[str, Path]

    def query(self, expression: str) -> list[dict[str, Any]]:
        """An instant PromQL query's result vector."""
        answer = httpx.get(f"{self.prometheus_url}/api/v1/query", params={"query": expression}, timeout=10)
        answer.raise_for_status()
        result: list[dict[str, Any]] = answer.json()["data"]["result"]
        return result

    def series(self) -> list[dict[str, str]]:
        """Every series Prometheus holds, as label sets."""
        answer = httpx.get(f"{self.prometheus_url}/api/v1/series", params={"match[]": '{__name__=~".+"}'}, timeout=10)
        answer.raise_for_status()
        found: list[dict[str, str]] = answer.json()["data"]
        return found

    def wait_for(self, expression: str, expected: object, seconds: float = 60) -> list[dict[str, Any]]:
        """Query until `expected(result)` (a callable) or the values equal `expected` (by labels)."""
        deadline = time.monotonic() + seconds
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(expression)
            if expected(result) if callable(expected) else values(result) == expected:
                return result
            time.sleep(1)
        tails = {name: path.read_text()[-1500:] for name, path in self.logs.items() if path.exists()}
        found = [(sample["metric"], sample["value"][1]) for sample in result]
        targets = httpx.get(f"{self.prometheus_url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        health = [(t["labels"]["job"], t["health"], t["lastError"]) for t in targets]
        pytest.fail(f"{expression}: {found} after {seconds}s, expected {expected}\ntargets: {health}\n{tails}")


def values(result: list[dict[str, Any]], *labels: str) -> dict[Any, float]:
    """A result vector as {label values (or the one value): sample value}."""
    table: dict[Any, float] = {}
    for sample in result:
        key = tuple(sample["metric"].get(label, "") for label in labels)
        table[key[0] if len(key) == 1 else key] = float(sample["value"][1])
    return table


def _argument(arguments: list[str], flag: str, replacement: str) -> list[str]:
    """The arguments with `flag=…` given `replacement` as its value (an emulated path)."""
    return [f"{flag}={replacement}" if a.startswith(f"{flag}=") else a for a in arguments]


@contextmanager
def running_monitoring(rendered: Rendered, dns: DockerDns, workdir: Path, nginx_address: str) -> Iterator[Monitoring]:
    """The rendered Prometheus, nginx exporter and probe, stopped on leaving the block."""
    prefix = f"llmstack-{rendered.directory.name}"
    dns.set(f"{prefix}-nginx", nginx_address)
    dns.set(NGINX_EXPORTER_ALIAS, EXPORTER_ADDRESS)
    dns.set(PROBE_ALIAS, PROBE_ADDRESS)
    logs: dict[str, Path] = {}
    with ExitStack() as stack:

        def start(name: str, command: list[str]) -> None:
            logs[name] = workdir / f"{name}.log"
            with logs[name].open("w") as output:
                process = subprocess.Popen(command, stdout=output, stderr=output, cwd=workdir)
            stack.callback(_stop, process)

        exporter = rendered.inputs("monitoring-nginx-exporter")["command"]
        start("exporter", [binary("prometheus-nginx-exporter"), *exporter])
        probe = rendered.inputs("monitoring-probe")
        probe_script = rendered.container_dir("monitoring-probe") / probe["command"][0].lstrip("/")
        start("probe", [str(VENV_BIN / "python3"), str(probe_script), *probe["command"][1:]])
        if rendered.directory.joinpath("containers", "monitoring-alertmanager").exists():
            dns.set(ALERTMANAGER_ALIAS, ALERTMANAGER_ADDRESS)
            start("alertmanager", _alertmanager_command(rendered, workdir))
        prometheus = rendered.inputs("monitoring-prometheus")["command"]
        config = rendered.container_dir("monitoring-prometheus") / "etc/prometheus/prometheus.yml"
        (workdir / "tsdb").mkdir()
        prometheus = _argument(prometheus, "--config.file", str(config))
        prometheus = _argument(prometheus, "--storage.tsdb.path", str(workdir / "tsdb"))
        start("prometheus", [binary("prometheus"), *prometheus])
        url = f"http://{PROMETHEUS_ADDRESS}:{PROMETHEUS_PORT}"
        _wait_ready(f"{url}/-/ready", logs["prometheus"])
        yield Monitoring(rendered, url, logs)


def _alertmanager_command(rendered: Rendered, workdir: Path) -> list[str]:
    """The rendered Alertmanager's command, its config and storage at their emulated paths."""
    command: list[str] = rendered.inputs("monitoring-alertmanager")["command"]
    config = rendered.container_dir("monitoring-alertmanager") / "etc/alertmanager/alertmanager.yml"
    (workdir / "alertmanager").mkdir()
    command = _argument(command, "--config.file", str(config))
    command = _argument(command, "--storage.path", str(workdir / "alertmanager"))
    listen = command[[a.startswith("--web.listen-address=") for a in command].index(True)].rpartition(":")[2]
    command = _argument(command, "--web.listen-address", f"{ALERTMANAGER_ADDRESS}:{listen}")
    return [binary("prometheus-alertmanager"), *command]


class WebhookReceiverStandin:
    """Stand-in for the operator's webhook receiver: records every notification Alertmanager posts."""

    def __init__(self, address: str, port: int) -> None:
        self.notifications: list[dict[str, Any]] = []
        received = self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read `notifications`."""

        self._server = ThreadingHTTPServer((address, port), Handler)
        threading.Thread(target=self._server.serve_forever, name="webhook-standin", daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def _wait_ready(url: str, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} not ready after {seconds}s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
