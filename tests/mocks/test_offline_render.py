"""`make render`: the files a stack would deploy, written without Pulumi, Docker or a cloud account."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pulumi_random as random
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from offline.engine import DuplicateResourceError, ProgramFailedError, run_offline
from offline.render import render_stack
from tests.support import PROJECT_DIR, STACK_FILES

STACKS = [path.name.split(".")[1] for path in STACK_FILES]


@pytest.mark.parametrize("stack", STACKS)
def test_render_writes_resources_container_files_and_outputs(stack: str, tmp_path: Path) -> None:
    result = render_stack(stack, tmp_path, notify=lambda _: None)
    resources = json.loads((tmp_path / "resources.json").read_text())
    assert [(r["type"], r["name"]) for r in resources] == [(r.type, r.name) for r in result.resources]
    assert all({"type", "name", "parent", "inputs"} <= set(r) for r in resources)
    outputs = json.loads((tmp_path / "outputs.json").read_text())
    assert set(outputs) >= {"endpoint", "masterKey", "models", "clients"}
    containers = tmp_path / "containers"
    assert (containers / "edge-files-carrier" / "etc/nginx/nginx.conf").is_file()
    assert (containers / "gateway-files-carrier" / "etc/litellm/config.yaml").is_file()
    for name in ("edge-container", "gateway-container", "ollama-container"):
        assert isinstance(json.loads((containers / name / "env.json").read_text()), dict)


def test_resources_json_never_holds_a_secret(tmp_path: Path) -> None:
    render_stack("dev", tmp_path, notify=lambda _: None)
    resources_text = (tmp_path / "resources.json").read_text()
    outputs = json.loads((tmp_path / "outputs.json").read_text())
    keys = [outputs["masterKey"], *(client["apiKey"] for client in outputs["clients"].values())]
    private_key = (tmp_path / "containers/edge-files-carrier/etc/nginx/tls/server.key").read_text()
    assert [key for key in keys if key in resources_text] == []
    assert "PRIVATE KEY" not in resources_text
    assert private_key.strip().splitlines()[1] not in resources_text
    assert '"[secret]"' in resources_text


def test_stand_in_secrets_are_consistent_across_files(tmp_path: Path) -> None:
    render_stack("dev", tmp_path, notify=lambda _: None)
    outputs = json.loads((tmp_path / "outputs.json").read_text())
    env = json.loads((tmp_path / "containers/gateway-container/env.json").read_text())
    assert env["LITELLM_MASTER_KEY"] not in (outputs["masterKey"], "")
    client = outputs["clients"]["dev"]
    assert client["apiKey"] in client["openaiEnv"]
    assert client["apiKey"] in client["continueConfig"]
    assert client["apiKey"] in client["curl"]
    keys_file = json.loads(
        (tmp_path / "containers/gateway-client-keys-inbox-carrier/opt/llmstack/clients.json").read_text()
    )
    assert keys_file["clients"][0]["keys"][0]["sha256"] == hashlib.sha256(client["apiKey"].encode()).hexdigest()
    assert keys_file["master"][0]["sha256"] == hashlib.sha256(outputs["masterKey"].encode()).hexdigest()
    tls = tmp_path / "containers/edge-files-carrier/etc/nginx/tls"
    chain = x509.load_pem_x509_certificates((tls / "server.crt").read_bytes())
    key = serialization.load_pem_private_key((tls / "server.key").read_bytes(), password=None)
    assert chain[0].public_key() == key.public_key()
    ca = x509.load_pem_x509_certificate(outputs["caCertificate"].encode())
    chain[0].verify_directly_issued_by(ca)


def test_each_render_generates_fresh_stand_ins(tmp_path: Path) -> None:
    first = render_stack("dev", tmp_path / "a", notify=lambda _: None)
    second = render_stack("dev", tmp_path / "b", notify=lambda _: None)
    assert first.outputs["masterKey"] != second.outputs["masterKey"]


def test_encrypted_config_is_replaced_by_stand_ins_and_the_render_says_so(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.byo.yaml").write_text(
        "config:\n"
        "  llmstack:tlsSource: provided\n"
        "  llmstack:hostname: llm.example.internal\n"
        "  llmstack:tlsCertificate:\n    secure: v1:AAAAencryptedcertificate\n"
        "  llmstack:tlsPrivateKey:\n    secure: v1:AAAAencryptedkey\n"
    )
    notes: list[str] = []
    result = render_stack("byo", tmp_path / "out", notify=notes.append, project_dir=project)
    assert any("llmstack:tlsCertificate is encrypted" in note for note in notes)
    assert any("llmstack:tlsPrivateKey is encrypted" in note for note in notes)
    tls = tmp_path / "out/containers/edge-files-carrier/etc/nginx/tls"
    certificate = x509.load_pem_x509_certificate((tls / "server.crt").read_bytes())
    key = serialization.load_pem_private_key((tls / "server.key").read_bytes(), password=None)
    assert certificate.public_key() == key.public_key()
    assert result.outputs["caCertificate"] is None
    assert not result.of_type("tls:index/privateKey:PrivateKey"), "a provided certificate generates no keys"


def test_make_render_works_from_the_command_line(tmp_path: Path) -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "render", "STACK=dev", f"OUT={tmp_path}"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "resources for stack dev written" in done.stdout
    assert (tmp_path / "resources.json").is_file()


def test_render_of_an_unknown_stack_fails_clearly(tmp_path: Path) -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "render", "STACK=nosuch", f"OUT={tmp_path}"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "no stack file Pulumi.nosuch.yaml" in done.stderr


def test_the_render_refuses_duplicate_resource_names_as_the_engine_does() -> None:
    # Pulumi's mocks accept a second resource under a URN already registered; the engine does not.
    def program() -> None:
        random.RandomId("same", byte_length=4)
        random.RandomId("same", byte_length=4)

    with pytest.raises(ProgramFailedError) as failed:
        run_offline(program, stack="duplicates", config={})
    assert isinstance(failed.value.__cause__, DuplicateResourceError)
    assert "Duplicate resource URN" in str(failed.value.__cause__)
    assert "randomId:RandomId::same" in str(failed.value.__cause__)
