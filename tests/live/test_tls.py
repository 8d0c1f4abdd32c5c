"""TLS profiles, checked with a real TLS scanner (sslyze, in its own virtualenv)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.live.conftest import EdgeRunner, Gateway, Rendered
from tests.support import PROJECT_DIR

SSLYZE = Path(os.environ.get("LLMSTACK_SSLYZE", PROJECT_DIR / ".venv-sslyze/bin/sslyze"))
# sslyze's command-line flag per protocol, and the key of its JSON result.
PROTOCOLS = {
    "ssl_2_0": "--sslv2",
    "ssl_3_0": "--sslv3",
    "tls_1_0": "--tlsv1",
    "tls_1_1": "--tlsv1_1",
    "tls_1_2": "--tlsv1_2",
    "tls_1_3": "--tlsv1_3",
}


def scan(tmp_path: Path) -> dict[str, list[str]]:
    """Protocols sslyze finds accepted on the edge, each with its accepted cipher suites."""
    if not SSLYZE.exists():
        pytest.fail(f"sslyze not found at {SSLYZE}: `make venv-sslyze` (CI does this)")
    report = tmp_path / "sslyze.json"
    scanned = subprocess.run(
        [str(SSLYZE), *PROTOCOLS.values(), f"--json_out={report}", "127.0.0.1:8443"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert scanned.returncode == 0, scanned.stdout + scanned.stderr
    result = json.loads(report.read_text())["server_scan_results"][0]["scan_result"]
    accepted = {}
    for protocol in PROTOCOLS:
        suites = result[f"{protocol}_cipher_suites"]["result"]["accepted_cipher_suites"]
        if suites:
            accepted[protocol] = [suite["cipher_suite"]["name"] for suite in suites]
    return accepted


def handshake(stack: Rendered, version: ssl.TLSVersion) -> None:
    context = stack.trust()
    context.minimum_version = context.maximum_version = version
    with httpx.Client(verify=context) as client:
        client.get(stack.origin + "/healthz")


def test_modern_profile_accepts_tls_1_3_only(
    render: Callable[..., Rendered], edges: EdgeRunner, gateway: Gateway, tmp_path: Path
) -> None:
    stack = edges.serve(render("modern"), gateway.address)
    assert list(scan(tmp_path)) == ["tls_1_3"]
    with pytest.raises(httpx.ConnectError):
        handshake(stack, ssl.TLSVersion.TLSv1_2)
    handshake(stack, ssl.TLSVersion.TLSv1_3)


def test_intermediate_profile_adds_tls_1_2_with_forward_secret_aead_suites_only(
    render: Callable[..., Rendered], edges: EdgeRunner, gateway: Gateway, tmp_path: Path
) -> None:
    stack = edges.serve(render("intermediate", tlsProfile="intermediate"), gateway.address)
    accepted = scan(tmp_path)
    assert set(accepted) == {"tls_1_2", "tls_1_3"}
    assert accepted["tls_1_2"]
    for suite in accepted["tls_1_2"]:
        assert suite.startswith("TLS_ECDHE_"), suite
        assert "GCM" in suite or "CHACHA20" in suite, suite
    handshake(stack, ssl.TLSVersion.TLSv1_2)  # what an older client does; 1.1 and below: see the scan
