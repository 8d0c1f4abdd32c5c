"""`tlsSource: acme` end to end: the real lego, the real Pebble, the real nginx.

lego (Debian's 4.9.1, the version the stack's image pins) runs the ACME container's rendered
entrypoint (the renewal loop) and command against Pebble. Emulated, as Docker would provide or as
only a test may: the volume paths map to temporary directories; `--dns cloudflare` becomes `--dns
exec` with `cloudflare_dns_standin` (lego 4.9.1's Cloudflare provider cannot be pointed away from
api.cloudflare.com), which also asks lego to query challtestsrv (`--dns.resolvers`, `--dns.disable-cp`);
the loop's check interval is seconds, not hours, and a forced renewal sets its renewal threshold
above the certificate's lifetime. The nginx reload watcher runs from the render with a 0.3 s
interval and the test nginx's master PID (PID 1 in the container). The upstream behind nginx is
the gateway stand-in: these tests are about the edge's certificate, not LiteLLM.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
from cryptography import x509

from tests.live.acme_servers import DIRECTORY_URL, DNS_SERVER, Pebble, start_pebble
from tests.live.conftest import GATEWAY_STANDIN_ADDRESS, EdgeRunner, Rendered
from tests.live.gateway_standin import GatewayStandin
from tests.support import PROJECT_DIR

HOSTNAME = "llm.example.com"
ACME_STACK = {
    "hostname": HOSTNAME,
    "tlsSource": "acme",
    "acmeEmail": "ops@example.com",
    "acmeZoneName": "example.com",
    "acmeZoneId": "0123456789abcdef0123456789abcdef",
    "acmeDirectory": DIRECTORY_URL,
    # The renewal test sends a new request every 50 ms from one address: above the default limit.
    "clientRateLimit": "1000",
    "clientRateBurst": "1000",
}
CONTAINER = "acme-container"


@pytest.fixture(scope="module")
def pebble(sandbox: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    running = start_pebble(tmp_path_factory.mktemp("pebble"))
    yield running
    running.close()


@dataclass
class AcmeVolumes:
    """The two volumes of the ACME container, as directories."""

    state: Path
    live: Path

    @property
    def pem(self) -> Path:
        """The served PEM (key and chain)."""
        return self.live / "edge.pem"

    @property
    def metrics(self) -> str:
        """The loop's Prometheus textfile."""
        return (self.live / "acme.prom").read_text()


@dataclass
class AcmeLoop:
    """The rendered ACME container's loop, run by the test with Debian's lego."""

    rendered: Rendered
    pebble: Pebble
    volumes: AcmeVolumes
    workdir: Path

    @property
    def refuse_file(self) -> Path:
        """While it exists, the Cloudflare stand-in refuses every DNS edit."""
        return self.workdir / "refuse-dns-edits"

    def start(self, **overrides: str) -> tuple[subprocess.Popen[bytes], Path]:
        """Start the loop (entrypoint + command from the render); its stderr goes to a fresh log."""
        inputs = self.rendered.inputs(CONTAINER)
        mounts = {"/acme/state": self.volumes.state, "/acme/live": self.volumes.live}
        command = [self._path(arg, mounts) for arg in inputs["command"]]
        provider = command.index("--dns") + 1
        assert command[provider] == "cloudflare"
        command[provider : provider + 1] = ["exec", "--dns.resolvers", DNS_SERVER, "--dns.disable-cp"]
        env = {k: self._path(v, mounts) for k, v in self.rendered.env(CONTAINER).items()}
        env.update(self._emulation(env), **overrides)
        log = self.workdir / f"loop-{time.monotonic_ns()}.log"
        with log.open("w") as output:
            process = subprocess.Popen([*inputs["entrypoints"], *command], env=env, stderr=output, stdout=output)
        return process, log

    def _emulation(self, env: dict[str, str]) -> dict[str, str]:
        standin = self.workdir / "cloudflare-dns-standin"
        standin.write_text(
            f'#!/bin/sh\ncd {PROJECT_DIR} && exec {sys.executable} -m tests.live.cloudflare_dns_standin "$@"\n'
        )
        standin.chmod(0o755)
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.workdir),
            "LLMSTACK_LEGO": "/usr/bin/lego",
            "LEGO_CA_CERTIFICATES": str(self.pebble.listener_ca),
            "EXEC_PATH": str(standin),
            "EXEC_POLLING_INTERVAL": "1",
            "STANDIN_ZONE": "example.com",
            "STANDIN_EXPECTED_TOKEN": env["CLOUDFLARE_DNS_API_TOKEN"],
            "STANDIN_REFUSE_FILE": str(self.refuse_file),
        }

    @staticmethod
    def _path(value: str, mounts: dict[str, Path]) -> str:
        for prefix, directory in mounts.items():
            if value == prefix or value.startswith(prefix + "/"):
                return str(directory) + value[len(prefix) :]
        return value


def wait_for(condition: Callable[[], bool], what: str, log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; loop log:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def acme(render: Callable[..., Rendered], pebble: Pebble, tmp_path_factory: pytest.TempPathFactory) -> AcmeLoop:
    """The rendered stack's loop, after it obtained the first certificate (then stopped)."""
    workdir = tmp_path_factory.mktemp("acme")
    volumes = AcmeVolumes(state=workdir / "state", live=workdir / "live")
    volumes.state.mkdir(mode=0o700)
    volumes.live.mkdir()
    loop = AcmeLoop(render("acme-live", **ACME_STACK), pebble, volumes, workdir)
    process, log = loop.start()
    try:
        # The loop records the attempt for Prometheus after it installs the certificate.
        wait_for(lambda: (volumes.live / "acme.prom").exists(), "the first certificate and its record", log)
    finally:
        stop(process)
    return loop


@pytest.fixture
def served(acme: AcmeLoop, edges: EdgeRunner, gateway_standin: GatewayStandin) -> Iterator[AcmeLoop]:
    """The real nginx serving the rendered edge with the ACME volume mounted as Docker would, and the watcher."""
    conf_dir = acme.rendered.container_dir("edge-container") / "etc/nginx"
    mount = conf_dir / "acme"
    if not mount.is_symlink():
        # The carrier's mount point (edge.py): the volume covers it in Docker, the link replaces it here.
        shutil.rmtree(mount, ignore_errors=True)
        mount.symlink_to(acme.volumes.live)
    edges.serve(acme.rendered, GATEWAY_STANDIN_ADDRESS)
    assert edges.process is not None
    watcher = subprocess.Popen(
        ["sh", str(conf_dir / "llmstack/reload-on-renewal.sh"), "0.3", str(edges.process.pid), str(acme.volumes.pem)]
    )
    yield acme
    watcher.terminate()
    watcher.wait(timeout=10)


def trusting_pebble(pebble: Pebble) -> ssl.SSLContext:
    """A client that trusts Pebble's root and nothing else."""
    return ssl.create_default_context(cadata=pebble.root_pem())


def served_certificate(context: ssl.SSLContext) -> x509.Certificate:
    """The certificate nginx presents for HOSTNAME, verified by `context` (chain and name)."""
    with (
        socket.create_connection(("127.0.0.1", 8443), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=HOSTNAME) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def client(context: ssl.SSLContext) -> httpx.Client:
    return httpx.Client(verify=context, base_url="https://127.0.0.1:8443", timeout=30)


SNI = {"sni_hostname": HOSTNAME}


def test_lego_obtains_a_certificate_that_nginx_serves_and_pebbles_root_verifies(served: AcmeLoop) -> None:
    context = trusting_pebble(served.pebble)
    certificate = served_certificate(context)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [HOSTNAME]
    with client(context) as https:
        assert https.get("/v1/models", extensions=SNI).status_code == 200
    # A client trusting only the system roots refuses Pebble's certificate: it is Pebble's root that verifies.
    with pytest.raises(ssl.SSLCertVerificationError):
        served_certificate(ssl.create_default_context())
    # The key and chain live in one file only lego's user and nginx's group (lego's gid, acme.py) can
    # read; the account key never leaves the state volume.
    assert served.volumes.pem.stat().st_mode & 0o777 == 0o640
    assert not list(served.volumes.live.glob("*.key"))
    assert "llmstack_acme_last_attempt_success 1" in served.volumes.metrics


def openai_trusting(roots: Path | None, monkeypatch: pytest.MonkeyPatch) -> openai.OpenAI:
    """The OpenAI SDK as a client configured with no CA: it verifies against its trust store.

    `roots` stands for that store (SSL_CERT_FILE, which httpx reads when no CA is given): Pebble's
    root plays a public root; None leaves the SDK's default store (certifi). The request goes to
    127.0.0.1 and names HOSTNAME in SNI and in the certificate check, as DNS would have it.
    """
    if roots is None:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    else:
        monkeypatch.setenv("SSL_CERT_FILE", str(roots))

    def by_name(request: httpx.Request) -> None:
        request.extensions["sni_hostname"] = HOSTNAME

    http_client = openai.DefaultHttpxClient(event_hooks={"request": [by_name]})
    return openai.OpenAI(
        base_url="https://127.0.0.1:8443/v1", api_key="sk-test", http_client=http_client, max_retries=0
    )


def test_the_openai_client_verifies_against_pebbles_root_and_refuses_an_unknown_ca(
    served: AcmeLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pebble_root = tmp_path / "pebble-root.pem"
    pebble_root.write_text(served.pebble.root_pem())
    with openai_trusting(pebble_root, monkeypatch) as sdk:
        assert [model.id for model in sdk.models.list()] == ["standin-model"]
    # Another CA (the one behind Pebble's own listener), or the SDK's default store: verification fails.
    for roots in (served.pebble.listener_ca, None):
        with openai_trusting(roots, monkeypatch) as sdk, pytest.raises(openai.APIConnectionError) as failed:
            sdk.models.list()
        cause = failed.value.__cause__
        while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
            cause = cause.__cause__ or cause.__context__
        assert isinstance(cause, ssl.SSLCertVerificationError), repr(failed.value.__cause__)


def test_the_configs_of_a_publicly_trusted_edge_carry_no_ca(served: AcmeLoop) -> None:
    outputs = served.rendered.outputs
    assert outputs["caCertificate"] is None
    assert outputs["caCertificateFile"] is None


def test_a_restarted_loop_keeps_the_certificate_it_has(served: AcmeLoop) -> None:
    """A replaced container (new image, new `pulumi up`) finds the volumes and orders nothing."""
    before = served.volumes.pem.read_bytes()
    process, log = served.start(LLMSTACK_CHECK_SECONDS="3600")
    try:
        wait_for(lambda: "no renewal" in log.read_text(), "lego's renewal check", log)
        time.sleep(0.5)
    finally:
        stop(process)
    assert served.volumes.pem.read_bytes() == before
    assert "installed a new certificate" not in log.read_text()


def test_another_directory_orders_a_new_certificate_at_once(served: AcmeLoop) -> None:
    """Staging to production: the same names from another CA are a new order, not a renewal when due.

    Pebble has one directory: the loop is told another (its environment, as a changed acmeDirectory
    renders it) while lego keeps the rendered --server.
    """
    before = served.volumes.pem.read_bytes()
    directory = served.rendered.env(CONTAINER)["LLMSTACK_DIRECTORY"]
    process, log = served.start(LLMSTACK_CHECK_SECONDS="3600", LLMSTACK_DIRECTORY=directory + "?moved")
    try:
        wait_for(lambda: "installed a new certificate" in log.read_text(), "the new order", log)
    finally:
        stop(process)
    assert served.volumes.pem.read_bytes() != before
    # Back on the rendered directory, that is a new order again.
    process, log = served.start(LLMSTACK_CHECK_SECONDS="3600")
    try:
        wait_for(lambda: "installed a new certificate" in log.read_text(), "the order back", log)
    finally:
        stop(process)


def stream_into(context: ssl.SSLContext, events: list[str], failures: list[str]) -> None:
    """One streamed completion through the edge; its data lines, or the error, land in the lists."""
    try:
        with (
            client(context) as https,
            https.stream("POST", "/v1/chat/completions", json={"stream": True}, extensions=SNI) as response,
        ):
            events.extend(line for line in response.iter_lines() if line.startswith("data: "))
    except httpx.HTTPError as error:
        failures.append(f"stream: {error!r}")


def test_a_renewal_is_served_while_a_stream_runs_and_no_request_fails(
    served: AcmeLoop, gateway_standin: GatewayStandin
) -> None:
    context = trusting_pebble(served.pebble)
    old_serial = served_certificate(context).serial_number
    events: list[str] = []
    failures: list[str] = []
    gateway_standin.chunk_delay = 1.5
    streamer = threading.Thread(target=stream_into, args=(context, events, failures))
    streamer.start()
    # Forced renewal: a threshold above Pebble's certificate lifetime makes lego renew now.
    process, log = served.start(LLMSTACK_RENEW_DAYS="100000", LLMSTACK_CHECK_SECONDS="3600")
    serials: set[int] = set()

    def renewal_served() -> bool:
        # Two serials seen is not enough: the previous test's order may still be reloading in.
        if "installed a new certificate" not in log.read_text():
            return False
        installed = x509.load_pem_x509_certificate(served.volumes.pem.read_bytes()).serial_number
        return installed in serials and installed != old_serial

    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (not renewal_served() or streamer.is_alive()):
            try:
                with client(context) as https:
                    status = https.get("/v1/models", extensions=SNI).status_code
                if status != 200:
                    failures.append(f"new request: {status}")
                serials.add(served_certificate(context).serial_number)
            except (httpx.HTTPError, OSError) as error:
                failures.append(f"new request: {error!r}")
            time.sleep(0.05)
    finally:
        streamer.join(timeout=30)
        gateway_standin.chunk_delay = 0.0
        stop(process)
    assert "installed a new certificate" in log.read_text(), log.read_text()[-3000:]
    assert failures == []
    # The stream begun on the old certificate ended whole.
    assert len(events) == 5
    assert events[-1] == "data: [DONE]"
    # A new certificate was served; on a loaded machine the first look may already come after the
    # renewal, so seeing the old one here is not required (it was served before lego started).
    assert serials - {old_serial}
    assert served_certificate(context).serial_number != old_serial


def test_a_failed_renewal_keeps_the_served_certificate_and_says_so(served: AcmeLoop) -> None:
    context = trusting_pebble(served.pebble)
    before = served_certificate(context).serial_number
    served.refuse_file.touch()
    process, log = served.start(LLMSTACK_RENEW_DAYS="100000", LLMSTACK_CHECK_SECONDS="3600")
    try:
        wait_for(
            lambda: "renewal FAILED" in log.read_text() and "attempt_success 0" in served.volumes.metrics,
            "the failed renewal and its record",
            log,
        )
    finally:
        stop(process)
        served.refuse_file.unlink()
    text = log.read_text()
    assert "nginx keeps serving the current certificate" in text
    assert "403 Authentication error" in text  # the DNS step's own refusal is in the log
    assert served_certificate(context).serial_number == before
    assert "llmstack_acme_last_attempt_success 0" in served.volumes.metrics
    assert os.access(served.volumes.pem, os.R_OK)
