"""Docker tier: the rendered stack on a real Docker engine, with stand-in images.

What runs: `tests/docker/applier.py` (standing in for the Pulumi engine and docker provider) applies
exactly what the program registers to the local engine; the images are the offline-built stand-ins
of `tests/docker/images.py`, tagged as the render references them. Tests talk to the stack only
through ports published on 127.0.0.1 and through `docker exec`.

Needs an engine on /var/run/docker.sock (`make docker-up`) and runs outside the live tier's network
sandbox (published ports live in the host's network namespace): `make test-docker`. Without an engine
every test here is skipped.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from components.gateway import CONFIG_DIR
from components.shipped.litellm.llmstack_contract import BANS_MODULE
from offline.engine import OfflineRun, reveal
from offline.render import read_stack_file, render_config
from tests.docker.applier import CONTAINER, Applier, engine_available
from tests.docker.images import DOCKER, ensure_images, references_of
from tests.docker.outside_host import OutsideHost, outside_host
from tests.live.sandbox import in_sandbox
from tests.support import PROJECT_DIR, namespaced

SEED = b"llmstack-docker-tests"
HEALTHY_WITHIN = 150.0
"""Seconds for every serving container to report healthy (LiteLLM: ~20 s to start, 15 s interval)."""


@dataclass(frozen=True)
class Stack:
    """A rendered stack applied to the engine."""

    run: OfflineRun
    applier: Applier

    @property
    def outputs(self) -> dict[str, Any]:
        """Stack outputs (the render's stand-in secrets)."""
        return self.run.outputs

    def inputs(self, name: str) -> dict[str, Any]:
        """Inputs of resource `name`, secrets revealed."""
        inputs: dict[str, Any] = reveal(self.run.named(name).inputs)
        return inputs

    def container_name(self, resource: str) -> str:
        """The Docker name of container resource `resource`."""
        return str(self.inputs(resource)["name"])

    def serving(self) -> list[str]:
        """Container resources that keep running (not one-shot jobs, not file carriers)."""
        return [
            r.name
            for r in self.run.of_type(CONTAINER)
            if not reveal(r.inputs).get("attach") and reveal(r.inputs).get("start", True)
        ]

    def carriers(self) -> list[str]:
        """Container resources created only to carry files into their volume, never started."""
        return [r.name for r in self.run.of_type(CONTAINER) if reveal(r.inputs).get("start", True) is False]

    def one_shots(self) -> list[str]:
        """Container resources that run to completion on apply."""
        return [r.name for r in self.run.of_type(CONTAINER) if reveal(r.inputs).get("attach")]

    def trust(self) -> ssl.SSLContext:
        """TLS context trusting the stack's CA only."""
        return ssl.create_default_context(cadata=self.outputs["caCertificate"])

    def client(self, **kwargs: Any) -> httpx.Client:
        """An HTTPS client for the edge's published endpoint."""
        origin = str(self.outputs["endpoint"]).removesuffix("/v1")
        return httpx.Client(base_url=origin, verify=self.trust(), timeout=30, **kwargs)

    def exec(
        self, resource: str, *command: str, user: str | None = None, timeout: float = 20
    ) -> subprocess.CompletedProcess[str]:
        """`docker exec` in container resource `resource`."""
        options = ["--user", user] if user else []
        return subprocess.run(
            [DOCKER, "exec", *options, self.container_name(resource), *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def wait_until_healthy(self) -> None:
        """Every serving container healthy by its own healthcheck (running, for one without a check)."""
        for name in self.serving():
            if self.inputs(name).get("healthcheck"):
                self.applier.wait_healthy(name, HEALTHY_WITHIN)
            elif not self.applier.inspect(name)["State"]["Running"]:
                raise AssertionError(f"{name} is not running:\n{self.applier.logs(name)}")


@pytest.fixture(scope="session")
def engine() -> str:
    if in_sandbox():
        pytest.skip("the docker tier talks to ports published in the host's network namespace: `make test-docker`")
    version = engine_available()
    if version is None:
        pytest.skip(
            "no Docker engine on /var/run/docker.sock: start one with `make docker-up` "
            "(as root: tests/docker/engine.sh install && tests/docker/engine.sh up), then `make test-docker`"
        )
    return version


@pytest.fixture(scope="session")
def render_stack() -> Iterator[Callable[..., OfflineRun]]:
    """Render a stack (plain config keys) with the session's seed into a fresh directory."""
    base = Path(tempfile.mkdtemp(prefix="llmstack-docker-"))

    def _render(stack: str, **config: object) -> OfflineRun:
        directory = base / f"{stack}-{len(list(base.iterdir()))}"
        # Monitoring off unless a test turns it on (test_monitoring.py): the other stacks of the tier
        # stay as small and quick to become healthy as before.
        config = {"monitoring": False, **config}
        return render_config(stack, directory, namespaced(config), notify=lambda _: None, seed=SEED)

    yield _render
    shutil.rmtree(base, ignore_errors=True)


def dev_config() -> dict[str, Any]:
    """The dev stack's config as `Pulumi.dev.yaml` sets it (plain keys)."""
    config, _ = read_stack_file("dev", PROJECT_DIR, notify=lambda _: None)
    return {key.removeprefix("llmstack:"): _plain(value) for key, value in config.items()}


def _plain(value: str) -> object:
    try:
        decoded: object = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, list | dict) else value


def apply_stack(run: OfflineRun) -> Stack:
    """Build the stand-ins the run references, apply it, wait until it is healthy."""
    images = [(r.name, reveal(r.inputs)["name"]) for r in run.of_type("docker:index/remoteImage:RemoteImage")]
    started = time.monotonic()
    ensure_images(references_of(images), log=lambda line: None)
    built = time.monotonic() - started
    applier = Applier(log=lambda line: None)
    applier.destroy(run)  # leftovers of an interrupted session
    started = time.monotonic()
    stack = Stack(run, applier)
    try:
        applier.apply(run)
        stack.wait_until_healthy()
    except BaseException:
        applier.destroy(run)
        applier.close()
        raise
    TIMINGS.append(
        f"{run.outputs['endpoint']}: images {built:.0f} s, apply until healthy {time.monotonic() - started:.0f} s"
    )
    return stack


TIMINGS: list[str] = []


@pytest.fixture(scope="session")
def dev(engine: str, render_stack: Callable[..., OfflineRun]) -> Iterator[Stack]:
    """The dev stack, exactly as Pulumi.dev.yaml describes it, running on the engine."""
    stack = apply_stack(render_stack("dev", **dev_config()))
    yield stack
    stack.applier.destroy()
    stack.applier.close()


BANS_COMMAND = ("python3", f"{CONFIG_DIR}/{BANS_MODULE}.py")
"""The ban list's command line in the LiteLLM container (docs/OPERATIONS.md)."""


def host_address(stack: Stack) -> str | None:
    """The address nginx saw for this machine's last request (Docker's proxy for the published port).

    From the newest line of nginx's JSON access log; None before any request reached it.
    """
    for line in reversed(stack.applier.logs("edge-container").splitlines()):
        if line.startswith("{"):
            return str(json.loads(line)["client"])
    return None


@pytest.fixture(autouse=True)
def _no_ban_outlives_a_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Lift every ban on the dev stack and forget every failed login counted there.

    Every request of this tier reaches nginx from one address (Docker's proxy for the published
    port), and bans are on in Pulumi.dev.yaml:
    the wrong and revoked keys some tests send on purpose would add up (3 in 10 minutes) and ban
    every test after them.
    """
    yield
    stack = request.node.funcargs.get("dev")
    if isinstance(stack, Stack) and "gateway-container" in stack.applier.ids:
        # All of them: a test that replaced nginx leaves no log line naming this machine's address.
        lifted = stack.exec("gateway-container", *BANS_COMMAND, "lift", "--all")
        assert lifted.returncode == 0, lifted.stderr


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Report what the tier measured (image builds, time to healthy, outages)."""
    if TIMINGS or MEASURED:
        terminalreporter.section("docker tier measurements")
        for line in [*TIMINGS, *MEASURED]:
            terminalreporter.write_line(line)


MEASURED: list[str] = []
"""Lines the tests report at the end of the session (e.g. the outage of a replacement)."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On failure, attach the last log lines of every running container of the stacks in use."""
    report = yield
    if report.failed and call.when == "call":
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, Stack):
                for name in value.serving():
                    if name in value.applier.ids:
                        report.sections.append((f"docker logs {name}", value.applier.logs(name)[-3000:]))
    return report


@pytest.fixture(scope="session")
def outside(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OutsideHost]:
    """A host outside every stack, in a network namespace of its own (tests/docker/outside_host.py)."""
    with outside_host(tmp_path_factory.mktemp("outside")) as host:
        yield host
