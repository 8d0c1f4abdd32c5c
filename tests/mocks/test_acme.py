"""`tlsSource: acme` under Pulumi mocks: the token's scope, the volumes, who mounts what, the order."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from components.acme_token import DNS_WRITE, ZONE_READ
from components.program import run
from offline.engine import OfflineRun, is_secret, reveal, run_offline
from tests.support import PROJECT_DIR, namespaced

CONTAINER = "docker:index/container:Container"
API_TOKEN = "cloudflare:index/apiToken:ApiToken"
ZONE_ID = "0123456789abcdef0123456789abcdef"
ACME = {
    "exposure": "lan",
    "listenAddress": "192.168.50.10",
    "allowedCidrs": ["192.168.50.0/24"],
    "hostname": "llm.example.com",
    "tlsSource": "acme",
    "acmeEmail": "ops@example.com",
    "acmeZoneName": "example.com",
    "acmeZoneId": ZONE_ID,
}
Deploy = Callable[..., OfflineRun]


@pytest.fixture
def acme(deploy: Deploy) -> OfflineRun:
    return deploy("prod", **ACME)


def container(result: OfflineRun, name: str) -> dict[str, Any]:
    found: dict[str, Any] = reveal(result.named(name).inputs)
    return found


def test_the_created_token_may_read_the_one_zone_and_edit_its_dns_only(acme: OfflineRun) -> None:
    (token,) = acme.of_type(API_TOKEN)
    (policy,) = token.inputs["policies"]
    assert policy["effect"] == "allow"
    assert sorted(group["id"] for group in policy["permissionGroups"]) == sorted([ZONE_READ, DNS_WRITE])
    assert json.loads(policy["resources"]) == {f"com.cloudflare.api.account.zone.{ZONE_ID}": "*"}


def test_the_token_reaches_lego_as_a_secret_and_nowhere_else(acme: OfflineRun) -> None:
    lego = acme.named("acme-container")
    assert is_secret(lego.inputs["envs"])
    envs = container(acme, "acme-container")["envs"]
    token_value = next(e for e in envs if e.startswith("CLOUDFLARE_DNS_API_TOKEN=")).partition("=")[2]
    assert len(token_value) == 40
    others = json.dumps([reveal(r.inputs) for r in acme.resources if r.name != "acme-container"])
    assert token_value not in others
    assert token_value not in json.dumps(acme.outputs)


def test_a_given_token_creates_no_token(deploy: Deploy) -> None:
    config = namespaced({**ACME, "acmeZoneId": "", "acmeDnsApiToken": "given-token"})
    given = run_offline(run, stack="prod", config=config, secret_keys=frozenset({"llmstack:acmeDnsApiToken"}))
    assert given.of_type(API_TOKEN) == []
    envs = container(given, "acme-container")["envs"]
    assert "CLOUDFLARE_DNS_API_TOKEN=given-token" in envs


def test_the_volumes_persist_lego_state_apart_from_what_nginx_reads(acme: OfflineRun) -> None:
    lego = container(acme, "acme-container")
    edge = container(acme, "edge-container")
    lego_mounts = {v["containerPath"]: v["volumeName"] for v in lego["volumes"]}
    assert lego_mounts == {"/acme/state": "llmstack-prod-acme-state", "/acme/live": "llmstack-prod-acme-live"}
    # nginx sees its files and the served PEM's volume, read-only: never the account key on the state volume.
    assert edge["volumes"] == [
        {"volumeName": "llmstack-prod-nginx-files", "containerPath": "/etc/nginx", "readOnly": True},
        {"volumeName": "llmstack-prod-acme-live", "containerPath": "/etc/nginx/acme", "readOnly": True},
    ]
    # No certificate or key goes into nginx at `pulumi up`: it reads the renewed file. The carrier
    # makes the mount point, which the runtime cannot create inside the read-only files volume.
    uploads = container(acme, "edge-files-carrier")["uploads"]
    assert sorted(u["file"] for u in uploads) == [
        "/etc/nginx/acme/.mount-point",
        "/etc/nginx/llmstack/reload-on-renewal.sh",
        "/etc/nginx/nginx.conf",
    ]
    nginx_conf = next(u["content"] for u in uploads if u["file"].endswith("nginx.conf"))
    assert "ssl_certificate acme/edge.pem;" in nginx_conf
    assert "ssl_certificate_key acme/edge.pem;" in nginx_conf
    # Volumes are never replaced by an update: nothing in them is an input that can change.
    for volume in ("acme-state", "acme-live"):
        assert set(acme.named(volume).inputs) == {"name"}


def test_lego_runs_unprivileged_on_a_read_only_root_and_reaches_out_alone(acme: OfflineRun) -> None:
    lego = container(acme, "acme-container")
    # nginx's group: the 0640 PEM is readable by the non-root nginx and no other uid.
    assert lego["user"] == "65532:101"
    assert lego["readOnly"] is True
    assert lego["capabilities"] == {"drops": ["ALL"]}
    assert not lego.get("ports")
    (network,) = lego["networksAdvanced"]
    sharing = [
        name
        for name in ("edge-container", "gateway-container", "ollama-container")
        if network["name"] in {n["name"] for n in container(acme, name).get("networksAdvanced") or []}
    ]
    assert sharing == []
    setup = container(acme, "acme-volume-setup")
    assert setup["capabilities"] == {"drops": ["ALL"], "adds": ["CAP_CHOWN"]}
    assert setup["networkMode"] == "none"
    assert (setup["user"], setup["readOnly"]) == ("0:0", True)
    assert "chown 65532:101 /acme/state /acme/live" in setup["command"][0]


def test_lego_renews_on_its_own_schedule_and_nginx_starts_after_the_first_certificate(acme: OfflineRun) -> None:
    lego = container(acme, "acme-container")
    assert lego["entrypoints"][:2] == ["/bin/sh", "-c"]
    assert "renew --days" in lego["entrypoints"][2]
    assert lego["restart"] == "unless-stopped"
    assert "LLMSTACK_RENEW_DAYS=30" in lego["envs"]
    assert lego["command"][lego["command"].index("--server") + 1] == "https://acme-v02.api.letsencrypt.org/directory"
    assert lego["healthcheck"]["tests"] == ["CMD", "/bin/sh", "-c", "test -s /acme/live/edge.pem"]
    assert "acme-container" in acme.named("edge-container").options["dependsOn"]
    assert "acme-volume-setup" in acme.named("acme-container").options["dependsOn"]
    edge = container(acme, "edge-container")
    assert edge["command"][-1].endswith("& exec nginx -g 'daemon off; pid /tmp/nginx.pid;'")


def test_a_publicly_trusted_edge_hands_clients_no_ca(deploy: Deploy) -> None:
    result = deploy("prod", **ACME, clients={"editor": {}})
    assert result.outputs["caCertificate"] is None
    editor = reveal(result.outputs["clients"])["editor"]
    assert "SSL_CERT_FILE" not in editor["openaiEnv"]
    assert "caBundlePath" not in (editor["continueConfig"] or "")
    assert "--cacert" not in editor["curl"]
    assert result.of_type("tls:index/selfSignedCert:SelfSignedCert") == []


def test_the_dev_path_never_imports_pulumi_cloudflare() -> None:
    """FACTS: importing it costs seconds; only the tunnel or a created ACME token may."""
    code = (
        "import sys; from offline.render import render_config; import tempfile, pathlib;"
        "render_config('dev', pathlib.Path(tempfile.mkdtemp()), {}, notify=lambda _: None);"
        "print('pulumi_cloudflare' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def _state(result: OfflineRun) -> dict[str, Any]:
    return {r.name: reveal(r.inputs) for r in result.resources}


def _same_state(**config: Any) -> OfflineRun:
    """One state for every render (the offline engine's stand-in for an unchanged Pulumi state)."""
    return run_offline(run, stack="prod", config=namespaced(config), seed=b"one-state")


def test_self_signed_stacks_get_no_acme_part_and_keep_their_edge(deploy: Deploy) -> None:
    lan = {k: v for k, v in ACME.items() if not k.startswith("acme") and k != "tlsSource"}
    result = deploy("prod", **lan)
    assert [r.name for r in result.resources if "acme" in r.name] == []
    assert result.of_type(API_TOKEN) == []
    edge = container(result, "edge-container")
    assert [v["containerPath"] for v in edge["volumes"]] == ["/etc/nginx"]
    assert edge["entrypoints"] == ["nginx"]
    uploads = container(result, "edge-files-carrier")["uploads"]
    assert {"/etc/nginx/tls/server.crt", "/etc/nginx/tls/server.key"} <= {u["file"] for u in uploads}


def test_switching_to_acme_replaces_the_certificate_and_edge_only() -> None:
    lan = {k: v for k, v in ACME.items() if not k.startswith("acme") and k != "tlsSource"}
    self_signed, acme = (
        _state(_same_state(**lan, clients={"editor": {}})),
        _state(_same_state(**ACME, clients={"editor": {}})),
    )
    kept = set(self_signed) & set(acme)
    # Keys, secrets, the model volume, the gateway and Ollama stay exactly as they were.
    assert {name for name in kept if self_signed[name] != acme[name]} == {"edge-container", "edge-files-carrier"}
    assert {"gateway-container", "ollama-container", "gateway-master-key"} <= kept
    # The stack's own CA and server certificate go: clients trust the public roots instead.
    assert set(self_signed) - kept == {
        "certificate",
        "certificate-ca",
        "certificate-ca-key",
        "certificate-server",
        "certificate-server-key",
        "certificate-server-request",
    }
    assert {name for name in set(acme) - kept} == {
        "acme",
        "acme-image",
        "acme-state",
        "acme-live",
        "acme-egress",
        "acme-volume-setup",
        "acme-container",
        "acme-dns-token",
    }


def test_pausing_an_acme_stack_keeps_lego_renewing() -> None:
    """While paused nothing is served, but the certificate stays current for the moment it is unpaused."""
    serving, paused = _state(_same_state(**ACME)), _state(_same_state(**ACME, paused="true"))
    assert set(serving) - set(paused) == {"edge-container"}
    assert {name for name in paused if paused[name] != serving[name]} == set()
    assert "acme-container" in paused


def test_with_basic_auth_nginx_mounts_both_volumes_and_waits_for_both_writers() -> None:
    result = _same_state(**ACME, basicAuth="true")
    edge = container(result, "edge-container")
    assert sorted((v["containerPath"], v["readOnly"]) for v in edge["volumes"]) == [
        ("/etc/nginx", True),
        ("/etc/nginx/acme", True),
        ("/etc/nginx/auth", True),
    ]
    assert {"acme-container", "edge-basic-auth-writer"} <= set(result.named("edge-container").options["dependsOn"])
