"""Live fixtures: exact rendered files run in the real nginx and LiteLLM.

Everything runs inside the sandbox of `tests/live/sandbox.py` (loopback only, Docker's DNS address
answered by `docker_dns.DockerDns`). Each emulated container gets its own loopback address, as it
would get its own address on a Docker network. Renders share one seed, so every rendered stack
has the same master key and the one real LiteLLM (started once per session) serves them all.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from components.gateway import GATEWAY_GRACE_SECONDS
from components.shipped.litellm.llmstack_contract import BANS_FILE_ENV
from offline.engine import OfflineRun, reveal
from offline.render import read_stack_file, render_config
from tests.live.docker_dns import DockerDns
from tests.live.gateway_standin import GatewayStandin
from tests.live.ollama_standin import OllamaStandin
from tests.live.sandbox import in_sandbox
from tests.support import PROJECT_DIR, namespaced

GATEWAY_ADDRESS = "127.0.0.21"
GATEWAY_STANDIN_ADDRESS = "127.0.0.41"
OLLAMA_ADDRESS = "127.0.0.31"
UNREACHABLE_ADDRESS = "127.0.0.99"
"""An emulated container address where nothing listens: a gateway that is down."""
SEED = b"llmstack-live-tests"
BASIC_AUTH_WRITER = "edge-basic-auth-writer"
VENV_BIN = Path(sys.executable).parent


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

    @property
    def outputs(self) -> dict[str, Any]:
        """The stack outputs (stand-in secrets)."""
        return self.result.outputs

    def trust(self) -> ssl.SSLContext:
        """A TLS client context trusting this stack's CA and nothing else."""
        return ssl.create_default_context(cadata=self.outputs["caCertificate"])

    def client(self, source: str = "127.0.0.1") -> httpx.Client:
        """An HTTPS client connecting from `source` (a loopback address: an emulated client IP)."""
        transport = httpx.HTTPTransport(verify=self.trust(), local_address=source)
        return httpx.Client(transport=transport, timeout=30, base_url=self.origin)

    @property
    def origin(self) -> str:
        """https://host:port of the edge."""
        return str(self.outputs["endpoint"]).removesuffix("/v1")


@pytest.fixture(scope="session")
def sandbox() -> None:
    if not in_sandbox():
        pytest.fail("the live tier runs inside the Docker emulation: `make pytest` (python -m tests.live.sandbox)")


@pytest.fixture(scope="session")
def docker_dns(sandbox: None) -> Iterator[DockerDns]:
    dns = DockerDns()
    yield dns
    dns.close()


@pytest.fixture(scope="session")
def render() -> Iterator[Callable[..., Rendered]]:
    """Render a stack from plain config keys (cached per name), with the session's seed.

    Renders live in a world-traversable directory, as files in a container are: nginx workers
    run as an unprivileged user and read the htpasswd file on every request.
    """
    cache: dict[str, Rendered] = {}
    base = Path(tempfile.mkdtemp(prefix="llmstack-live-"))
    base.chmod(0o755)

    def _render(name: str, **config: object) -> Rendered:
        if name not in cache:
            directory = base / name
            result = render_config(name, directory, namespaced(config), notify=lambda _: None, seed=SEED)
            cache[name] = Rendered(directory, result)
        return cache[name]

    yield _render
    shutil.rmtree(base)


@pytest.fixture(scope="session")
def dev(render: Callable[..., Rendered]) -> Rendered:
    """The dev stack exactly as `Pulumi.dev.yaml` describes it."""
    config, _ = read_stack_file("dev", PROJECT_DIR, notify=lambda _: None)
    plain = {key.removeprefix("llmstack:"): value for key, value in config.items()}
    return render("dev", **plain)


@pytest.fixture(scope="session")
def ollama(docker_dns: DockerDns, dev: Rendered) -> Iterator[OllamaStandin]:
    # The pull containers' command ends with `pull TAG` (components/model_server.py).
    tags = tuple(
        command[-1]
        for command in (
            reveal(r.inputs).get("command") or [] for r in dev.result.of_type("docker:index/container:Container")
        )
        if len(command) >= 2 and command[-2] == "pull"
    )
    standin = OllamaStandin(OLLAMA_ADDRESS, 11434, tags)
    docker_dns.set("ollama", OLLAMA_ADDRESS)
    yield standin
    standin.close()


@dataclass
class Gateway:
    """A real LiteLLM process running a rendered stack's gateway container."""

    rendered: Rendered
    address: str
    keys_volume: Path
    process: subprocess.Popen[bytes]

    def deliver_keys(self, rendered: Rendered | None = None) -> None:
        """Run the key-writer container's command, as `pulumi up` would after a client change."""
        source = rendered or self.rendered
        writer = source.inputs("gateway-client-keys-writer")
        mounts = {"/keys": self.keys_volume, "/": source.container_dir("gateway-client-keys-writer")}
        command = _emulate(writer["command"], mounts=mounts, address=self.address)
        subprocess.run([*_without_capabilities(writer), sys.executable, *command], check=True)


def _without_capabilities(container: dict[str, Any]) -> list[str]:
    """The prefix that runs a command with the container's capabilities: root here has them all.

    Without CAP_DAC_OVERRIDE, root cannot write a file it made read-only, as in the container.
    """
    capabilities = container["capabilities"]
    if capabilities.get("drops") != ["ALL"] or capabilities.get("adds"):
        pytest.fail(f"no emulation for the capabilities {capabilities}")
    return ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs"]


def start_gateway(rendered: Rendered, address: str, workdir: Path) -> Gateway:
    """LiteLLM with the container's command, env and files; its keys volume is a directory."""
    keys_volume = workdir / "keys"
    keys_volume.mkdir(mode=0o755)
    mounts = {"/run/llmstack/keys": keys_volume, "/": rendered.container_dir("gateway-container")}
    inputs = rendered.inputs("gateway-container")
    command = _emulate(inputs["command"], mounts=mounts, address=address)
    # The image's python3 and litellm are the venv's.
    program = {"python3": sys.executable}.get(inputs.get("entrypoints", ["litellm"])[0], str(VENV_BIN / "litellm"))
    env = {
        name: _emulate([value], mounts=mounts, address=address)[0]
        for name, value in rendered.env("gateway-container").items()
    }
    log = workdir / "litellm.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [program, *command],
            # Its own directory, as in a container: LiteLLM puts ../.. of its working directory
            # first on sys.path, where any stray package would shadow its own.
            cwd=workdir,
            env={"PATH": os.environ["PATH"], "HOME": str(workdir), **env},
            stdout=output,
            stderr=output,
        )
    gateway = Gateway(rendered, address, keys_volume, process)
    gateway.deliver_keys()
    try:
        _wait_for_http(f"http://{address}:4000/health/liveliness", process, log, seconds=400)
    except BaseException:
        stop_gateway(gateway)
        raise
    return gateway


def stop_gateway(gateway: Gateway) -> None:
    """Stop the LiteLLM process as Docker stops its container: SIGTERM, then SIGKILL after the grace period."""
    gateway.process.terminate()
    try:
        gateway.process.wait(timeout=GATEWAY_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        gateway.process.kill()
        gateway.process.wait(timeout=10)


@contextlib.contextmanager
def running_gateway(rendered: Rendered, address: str, workdir: Path) -> Iterator[Gateway]:
    """A LiteLLM for `rendered` at `address`, stopped on leaving the block."""
    running = start_gateway(rendered, address, workdir)
    try:
        yield running
    finally:
        stop_gateway(running)


def forgive(gateway: Gateway) -> None:
    """Forget every ban and counted failed login of `gateway` (its ban list, in its emulated volume)."""
    inside = gateway.rendered.env("gateway-container")[BANS_FILE_ENV]
    path = gateway.rendered.container_dir("gateway-container") / inside.lstrip("/")
    if not path.exists():
        return
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as db, db:
        db.execute("DELETE FROM bans")
        db.execute("DELETE FROM failures")


@pytest.fixture(autouse=True)
def _no_ban_outlives_a_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, the LiteLLMs it used forget their bans.

    Bans are on by default, and most clients here share 127.0.0.1: the wrong and revoked keys
    some tests send on purpose would add up (3 in 10 minutes) and ban the tests after them.
    """
    yield
    for value in request.node.funcargs.values():
        if isinstance(value, Gateway):
            forgive(value)


@pytest.fixture(scope="session")
def gateway(dev: Rendered, ollama: OllamaStandin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The real LiteLLM proxy running the dev stack's gateway container."""
    with running_gateway(dev, GATEWAY_ADDRESS, tmp_path_factory.mktemp("litellm")) as running:
        yield running


@pytest.fixture(scope="session")
def gateway_standin(sandbox: None) -> Iterator[GatewayStandin]:
    standin = GatewayStandin(GATEWAY_STANDIN_ADDRESS, 4000)
    yield standin
    standin.close()


@dataclass
class EdgeRunner:
    """Runs the real nginx on one rendered stack at a time (they all listen on the same port)."""

    dns: DockerDns
    workdir: Path
    running: tuple[Path, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    logs: dict[str, Path] = field(default_factory=dict)

    def serve(self, rendered: Rendered, gateway_address: str) -> Rendered:
        """Nginx with `rendered`'s /etc/nginx as its prefix, `litellm` resolving to `gateway_address`."""
        if self.running == (rendered.directory, gateway_address) and self.process and self.process.poll() is None:
            return rendered
        self.stop()
        self.dns.set("litellm", gateway_address)
        conf_dir = rendered.container_dir("edge-container") / "etc/nginx"
        if (
            any(r.name == BASIC_AUTH_WRITER for r in rendered.result.resources)
            and not (conf_dir / "auth/htpasswd").exists()
        ):
            self.deliver_basic_auth(rendered, into=rendered)
        run_dir = self.workdir / f"{rendered.directory.name}-{gateway_address}"
        run_dir.mkdir(exist_ok=True)
        self.logs = {"access": run_dir / "access.log", "error": run_dir / "error.log"}
        with self.logs["access"].open("w") as stdout, self.logs["error"].open("w") as stderr:
            self.process = subprocess.Popen(
                [
                    nginx_binary(),
                    "-p",
                    f"{conf_dir}/",
                    "-c",
                    "nginx.conf",
                    "-g",
                    f"daemon off; pid {run_dir}/nginx.pid;",
                ],
                stdout=stdout,
                stderr=stderr,
            )
        self.running = (rendered.directory, gateway_address)
        _wait_for_port("127.0.0.1", 8443, self.process, self.logs["error"])
        return rendered

    @staticmethod
    def deliver_basic_auth(source: Rendered, *, into: Rendered) -> None:
        """Run `source`'s basic-auth writer into `into`'s auth volume, as `pulumi up` would."""
        writer = source.inputs(BASIC_AUTH_WRITER)
        volume = into.container_dir("edge-container") / "etc/nginx/auth"
        volume.mkdir(mode=0o755, exist_ok=True)
        mounts = {"/etc/nginx/auth": volume, "/": source.container_dir(BASIC_AUTH_WRITER)}
        command = _emulate([*writer["entrypoints"], *writer["command"]], mounts=mounts, address="127.0.0.1")
        subprocess.run([*_without_capabilities(writer), *command], check=True)

    def stop(self) -> None:
        """Stop the running nginx, if any."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process, self.running = None, None


@pytest.fixture(scope="session")
def edges(docker_dns: DockerDns, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeRunner]:
    runner = EdgeRunner(docker_dns, tmp_path_factory.mktemp("nginx"))
    yield runner
    runner.stop()


@pytest.fixture
def edge(edges: EdgeRunner, dev: Rendered, gateway: Gateway) -> Rendered:
    """The dev stack's edge in front of the real LiteLLM."""
    return edges.serve(dev, gateway.address)


def nginx_binary() -> str:
    """Debian's nginx, which CI installs."""
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(path).exists():
        pytest.fail("nginx is not installed: `apt-get install nginx` (CI does this in .ci/run)")
    return path


def _emulate(arguments: list[str], *, mounts: dict[str, Path], address: str) -> list[str]:
    """Container arguments as they run here.

    Paths go to the mount's directory (longest prefix wins); 0.0.0.0 becomes the container's
    emulated address.
    """
    emulated = []
    for argument in arguments:
        if argument == "0.0.0.0":  # noqa: S104 - the container's all-interfaces bind
            argument = address
        elif argument.startswith("/"):
            prefix = max((p for p in mounts if argument == p or argument.startswith(p.rstrip("/") + "/")), key=len)
            argument = str(mounts[prefix] / argument[len(prefix) :].lstrip("/"))
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


def start_nginx(conf_dir: Path, run_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    """Debian's nginx on `conf_dir/nginx.conf` in the foreground, its pid file in `run_dir`, output to `log`."""
    with log.open("w") as output:
        return subprocess.Popen(
            [nginx_binary(), "-p", f"{conf_dir}/", "-c", "nginx.conf", "-g", f"daemon off; pid {run_dir}/nginx.pid;"],
            stdout=output,
            stderr=output,
        )


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
