"""Live fixtures: the dev stack's exact rendered files run in the real nginx and LiteLLM.

Everything runs inside the sandbox of `tests/sandbox.py` (loopback only, Docker's DNS address
answered by `docker_dns.DockerDns`). Each emulated container gets its own loopback address, as
it would get its own address on a Docker network. Expensive processes start once per session.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from offline.engine import OfflineRun, reveal
from offline.render import render_stack
from tests.live.docker_dns import DockerDns
from tests.live.ollama_stub import OllamaStub
from tests.sandbox import in_sandbox

GATEWAY_ADDRESS = "127.0.0.21"
OLLAMA_ADDRESS = "127.0.0.31"
VENV_BIN = Path(sys.executable).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/live is in the live tier."""
    for item in items:
        if "tests/live/" in str(item.fspath):
            item.add_marker(pytest.mark.live)


@dataclass(frozen=True)
class Rendered:
    """A rendered stack on disk."""

    directory: Path
    result: OfflineRun

    def container_dir(self, name: str) -> Path:
        """Where the render put the files of container resource `name` (its emulated filesystem)."""
        return self.directory / "containers" / name

    def env(self, name: str) -> dict[str, str]:
        """The environment of container resource `name`."""
        env: dict[str, str] = json.loads((self.container_dir(name) / "env.json").read_text())
        return env

    def inputs(self, name: str) -> dict[str, Any]:
        """The inputs of resource `name`, secrets revealed."""
        inputs: dict[str, Any] = reveal(self.result.named(name).inputs)
        return inputs


@pytest.fixture(scope="session")
def sandbox() -> None:
    if not in_sandbox():
        pytest.fail("the live tier runs inside the Docker emulation: `make pytest` (python -m tests.sandbox)")


@pytest.fixture(scope="session")
def docker_dns(sandbox: None) -> Iterator[DockerDns]:
    dns = DockerDns()
    yield dns
    dns.close()


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    directory = tmp_path_factory.mktemp("render-dev")
    return Rendered(directory, render_stack("dev", directory, notify=lambda _: None))


@pytest.fixture(scope="session")
def ollama(docker_dns: DockerDns, dev: Rendered) -> Iterator[OllamaStub]:
    tags = tuple(pull["command"][1] for name, pull in _containers(dev).items() if name.startswith("ollama-pull-"))
    stub = OllamaStub(OLLAMA_ADDRESS, 11434, tags)
    docker_dns.set("ollama", OLLAMA_ADDRESS)
    yield stub
    stub.close()


@pytest.fixture(scope="session")
def gateway(
    docker_dns: DockerDns, dev: Rendered, ollama: OllamaStub, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The real LiteLLM proxy running the container's command on the rendered config."""
    inputs = dev.inputs("gateway-container")
    mounts = {"/": str(dev.container_dir("gateway-container")) + "/"}
    command = _emulate(inputs["command"], mounts=mounts, listen_address=GATEWAY_ADDRESS)
    log = tmp_path_factory.mktemp("litellm") / "litellm.log"
    env = {"PATH": os.environ["PATH"], "HOME": str(log.parent), **dev.env("gateway-container")}
    with log.open("w") as output:
        process = subprocess.Popen([str(VENV_BIN / "litellm"), *command], env=env, stdout=output, stderr=output)
    docker_dns.set("litellm", GATEWAY_ADDRESS)
    try:
        _wait_for_http(f"http://{GATEWAY_ADDRESS}:4000/health/liveliness", process, log, seconds=120)
        yield f"http://{GATEWAY_ADDRESS}:4000"
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="session")
def edge(dev: Rendered, gateway: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real nginx running the rendered nginx.conf with the container's /etc/nginx as its prefix."""
    conf_dir = dev.container_dir("edge-container") / "etc/nginx"
    run_dir = tmp_path_factory.mktemp("nginx")
    with (run_dir / "stdout.log").open("w") as stdout, (run_dir / "stderr.log").open("w") as stderr:
        process = subprocess.Popen(
            [nginx_binary(), "-p", f"{conf_dir}/", "-c", "nginx.conf", "-g", f"daemon off; pid {run_dir}/nginx.pid;"],
            stdout=stdout,
            stderr=stderr,
        )
    try:
        _wait_for_port("127.0.0.1", 8443, process, run_dir / "stderr.log")
        yield str(dev.result.outputs["endpoint"])
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def ca_file(dev: Rendered, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stack's CA certificate saved where a user would save it."""
    path = tmp_path_factory.mktemp("client") / "ca.pem"
    path.write_text(dev.result.outputs["caCertificate"])
    return path


@pytest.fixture(scope="session")
def trust(ca_file: Path) -> ssl.SSLContext:
    """A TLS client context that trusts the stack's CA and nothing else."""
    return ssl.create_default_context(cafile=str(ca_file))


@pytest.fixture
def https(trust: ssl.SSLContext) -> Iterator[httpx.Client]:
    """A plain HTTPS client that trusts the stack's CA."""
    with httpx.Client(verify=trust, timeout=30) as client:
        yield client


def _containers(rendered: Rendered) -> dict[str, dict[str, Any]]:
    return {r.name: reveal(r.inputs) for r in rendered.result.of_type("docker:index/container:Container")}


def _emulate(command: list[str], *, mounts: dict[str, str], listen_address: str) -> list[str]:
    """A container command as it runs here: container paths → render dirs, 0.0.0.0 → its address."""
    emulated = []
    for argument in command:
        if argument == "0.0.0.0":  # noqa: S104 - the container's all-interfaces bind
            argument = listen_address
        elif argument.startswith("/"):
            argument = mounts["/"] + argument.lstrip("/")
        emulated.append(argument)
    return emulated


def _wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} not up after {seconds}s:\n{log.read_text()[-3000:]}")


def _wait_for_port(address: str, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(100):
        if process.poll() is not None:
            pytest.fail(f"nginx exited with {process.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection((address, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"nginx did not listen on {address}:{port}:\n{log.read_text()}")


def nginx_binary() -> str:
    """Debian's nginx, which CI installs."""
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(path).exists():
        pytest.fail("nginx is not installed: `apt-get install nginx` (CI does this in .ci/run)")
    return path
