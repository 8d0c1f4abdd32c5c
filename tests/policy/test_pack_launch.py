"""The policy pack launched the way the Pulumi CLI launches a local Python pack, then asked over gRPC.

For `runtime: python` with `options: virtualenv: .venv`, the CLI runs its shim
`pulumi-analyzer-policy-python <engine> . -virtualenv=.venv -toolchain=pip` in the pack directory
(pulumi: sdk/go/common/resource/plugin/analyzer_plugin.go, NewPolicyAnalyzer); the shim runs
`<pack>/.venv/bin/python -u -m pulumi.policy <engine> .` with the venv's bin first on PATH, or
fails when the venv does not exist: the CLI never creates it. `make policy-venv` does; `make pytest`
builds it first. The pack prints its port and serves the analyzer service until it is stopped.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc  # type: ignore[import-untyped]  # no stubs in the lock
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy.rules import RULES
from tests.support import PROJECT_DIR

PACK_DIR = PROJECT_DIR / "policy"
VENV = PACK_DIR / ".venv"
PACK_FILES = ("PulumiPolicy.yaml", "requirements.txt", "*.py")
"""What `pulumi policy publish` would ship: the pack directory, nothing above it."""


def launch(pack_dir: Path) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """Start the pack as the CLI's shim does and connect to the port it prints."""
    python = VENV / "bin" / "python"
    assert python.is_file(), "no policy/.venv: run `make policy-venv` (make pytest does)"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
    env["PATH"] = f"{VENV / 'bin'}:{env.get('PATH', '')}"
    pack = subprocess.Popen(
        [str(python), "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
        cwd=pack_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert pack.stdout is not None
        port = pack.stdout.readline().strip()
        assert port.isdigit(), f"the pack did not print its port: {port!r} {pack.stderr.read() if pack.stderr else ''}"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        os.killpg(pack.pid, signal.SIGTERM)
        pack.communicate(timeout=30)  # reaps it and closes the pipes


@pytest.fixture(scope="module")
def published_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pack directory alone, under another name, with no project around it."""
    copy = tmp_path_factory.mktemp("elsewhere") / "llmstack-security-pack"
    copy.mkdir()
    for pattern in PACK_FILES:
        for source in PACK_DIR.glob(pattern):
            shutil.copy2(source, copy / source.name)
    return copy


@pytest.mark.parametrize("where", ["repository", "copied-alone"])
def test_the_pack_launched_like_the_cli_reports_every_policy(where: str, published_copy: Path) -> None:
    pack_dir = PACK_DIR if where == "repository" else published_copy
    for analyzer in launch(pack_dir):
        info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
        assert info.name == "llmstack-security"
        assert [policy.name for policy in info.policies] == [rule.name for rule in RULES]
        levels = [analyzer_pb2.EnforcementLevel.Name(policy.enforcementLevel) for policy in info.policies]
        assert levels == ["MANDATORY" if rule.mandatory else "ADVISORY" for rule in RULES]


def test_the_launched_pack_blocks_a_violation_over_grpc() -> None:
    properties = struct_pb2.Struct()
    json_format.ParseDict({"name": "llm-backend", "privileged": True, "image": UNKNOWN_STRING_VALUE}, properties)
    request = analyzer_pb2.AnalyzeRequest(
        urn="urn:pulumi:dev::llmstack::docker:index/container:Container::x",
        type="docker:index/container:Container",
        name="x",
        properties=properties,
    )
    for analyzer in launch(PACK_DIR):
        response = analyzer.Analyze(request, timeout=30)
        blocking = {
            d.policyName
            for d in response.diagnostics
            if analyzer_pb2.EnforcementLevel.Name(d.enforcementLevel) == "MANDATORY"
        }
        assert "no-privileged-containers" in blocking
