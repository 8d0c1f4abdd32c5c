"""Tunnel mode under Pulumi mocks (test double: `offline.engine`).

Cloudflare's side and the connector-token lookup are `offline.standins` stand-ins: nothing talks to
Cloudflare.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from cryptography import x509

from components.edge import HTTPS_PORT
from components.render.nginx import KEEPALIVE_SECONDS
from components.settings.rules import SettingsError
from components.tunnel import TOKEN_FILE
from offline.engine import OfflineRun, ProgramFailedError, is_secret, redact, reveal
from offline.standins import stand_in_image_id
from policy.rules import RULES_BY_NAME
from tests.mocks.test_stack_resources import containers, nat_networks, networks_of
from tests.support import LAN, TUNNEL

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
TUNNEL_TYPE = "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared"
TUNNEL_CONFIG = "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig"
ACCESS_APP = "cloudflare:index/zeroTrustAccessApplication:ZeroTrustAccessApplication"
ACCESS_POLICY = "cloudflare:index/zeroTrustAccessPolicy:ZeroTrustAccessPolicy"
SERVICE_TOKEN = "cloudflare:index/zeroTrustAccessServiceToken:ZeroTrustAccessServiceToken"
RULESET = "cloudflare:index/ruleset:Ruleset"
CONNECTOR = "10.231.53.2"
Deploy = Callable[..., OfflineRun]


def uploads(container: dict[str, Any]) -> dict[str, str]:
    return {u["file"]: u["content"] for u in container.get("uploads") or []}


@pytest.fixture
def tunnel(deploy: Deploy) -> OfflineRun:
    return deploy(stack="prod", **TUNNEL)


def test_the_connector_token_is_secret_and_in_no_plain_output_or_input(deploy: Deploy) -> None:
    result = deploy(stack="prod", **TUNNEL, accessServiceToken="true")
    connector = result.named("tunnel-files-carrier")
    # A file, not an environment variable `docker inspect` shows; in state only as a secret.
    envs = reveal(result.named("tunnel-container").inputs)["envs"]
    assert [e for e in envs if not e.startswith("LLMSTACK_FILES_DIGEST=")] == [f"TUNNEL_TOKEN_FILE={TOKEN_FILE}"]
    assert is_secret(connector.inputs["uploads"])
    (upload,) = [u for u in reveal(connector.inputs["uploads"]) if u["file"] == TOKEN_FILE]
    assert upload["permissions"] == "0444", "the image's non-root user reads it"
    token = upload["content"]
    # The stand-in lookup was asked for this account's tunnel.
    claims = json.loads(base64.b64decode(token))
    assert claims["a"] == TUNNEL["cloudflareAccountId"]
    assert claims["t"] == result.named("tunnel-config").inputs["tunnelId"]
    plain_outputs = {k: v for k, v in result.outputs.items() if k not in result.secret_outputs}
    assert token not in json.dumps(plain_outputs)
    assert token not in json.dumps([redact(r.inputs) for r in result.resources])


def test_the_tunnel_is_remotely_managed_with_a_generated_secret(tunnel: OfflineRun) -> None:
    (created,) = tunnel.of_type(TUNNEL_TYPE)
    assert created.inputs["configSrc"] == "cloudflare"
    assert created.inputs["accountId"] == TUNNEL["cloudflareAccountId"]
    assert is_secret(created.inputs["tunnelSecret"])
    secret = tunnel.named("tunnel-secret")
    assert secret.type == "random:index/randomBytes:RandomBytes"
    assert secret.inputs["length"] >= 32
    assert len(base64.b64decode(reveal(created.inputs["tunnelSecret"]))) == 32


def test_a_new_tunnel_secret_replaces_the_tunnel_under_a_name_of_its_own(deploy: Deploy) -> None:
    runs = [
        deploy(stack="prod", **TUNNEL, **epochs) for epochs in ({}, {"tunnelSecretEpoch": "2"}, {"rotationEpoch": "2"})
    ]
    tunnels = [run.named("tunnel-tunnel") for run in runs]
    # The provider would update the secret in place, and connectors with the old token stay connected.
    assert all(t.options.get("replaceOnChanges") == ["tunnelSecret"] for t in tunnels)
    names = [t.inputs["name"] for t in tunnels]
    # Names are unique per account and the new tunnel exists before the old one is deleted.
    assert len(set(names)) == 3
    assert names[0] == "llmstack-prod", "the first generation keeps its name: upgrading renames nothing"
    assert all(name.startswith("llmstack-prod") for name in names)


def test_the_tunnel_secret_follows_its_rotation_epochs(deploy: Deploy) -> None:
    keepers = [
        deploy(stack="prod", **TUNNEL, **epochs).named("tunnel-secret").inputs["keepers"]
        for epochs in ({}, {"tunnelSecretEpoch": "2"}, {"rotationEpoch": "2"})
    ]
    assert len({json.dumps(k, sort_keys=True) for k in keepers}) == 3, "each epoch replaces the secret"


def test_the_hostname_is_a_proxied_cname_to_the_tunnel(tunnel: OfflineRun) -> None:
    (created,) = tunnel.of_type(TUNNEL_TYPE)
    tunnel_id = tunnel.named("tunnel-config").inputs["tunnelId"]
    assert tunnel_id == f"{created.name}-id"  # the id the (mock) engine gave the tunnel
    dns = tunnel.named("tunnel-dns").inputs
    assert dns["type"] == "CNAME"
    assert dns["name"] == TUNNEL["hostname"]
    assert dns["content"] == f"{tunnel_id}.cfargotunnel.com"
    assert dns["proxied"] is True
    assert dns["ttl"] == 1
    assert dns["zoneId"] == TUNNEL["cloudflareZoneId"]


def test_the_ingress_sends_the_hostname_to_nginx_over_verified_tls_and_404s_the_rest(tunnel: OfflineRun) -> None:
    config = tunnel.named("tunnel-config").inputs
    first, catch_all = config["config"]["ingresses"]
    nginx = containers(tunnel)["edge-files-carrier"]
    assert first["hostname"] == TUNNEL["hostname"]
    assert first["service"] == f"https://{containers(tunnel)['edge-container']['name']}:{HTTPS_PORT}"
    assert catch_all == {"service": "http_status:404"}
    origin = first["originRequest"]
    assert origin["originServerName"] == TUNNEL["hostname"]
    assert origin["keepAliveTimeout"] < KEEPALIVE_SECONDS, "cloudflared must not reuse a connection nginx is closing"
    assert not origin.get("noTlsVerify")
    # The CA cloudflared verifies nginx with is the one that signed nginx's certificate.
    ca = x509.load_pem_x509_certificate(uploads(containers(tunnel)["tunnel-files-carrier"])[origin["caPool"]].encode())
    served = x509.load_pem_x509_certificate(uploads(nginx)["/etc/nginx/tls/server.crt"].encode())
    served.verify_directly_issued_by(ca)
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert TUNNEL["hostname"] in names.get_values_for_type(x509.DNSName)
    assert RULES_BY_NAME["tunnel-ingress-to-nginx"].check(TUNNEL_CONFIG, config) == []


def test_no_container_publishes_a_host_port_but_prometheus_on_loopback(tunnel: OfflineRun) -> None:
    for name, container in containers(tunnel).items():
        if name == "monitoring-prometheus":
            assert [p["ip"] for p in container["ports"]] == ["127.0.0.1"]
            continue
        assert not container.get("ports"), name
        assert not container.get("publishAllPorts"), name
        assert container.get("networkMode") != "host", name
    assert [n.name for n in tunnel.of_type(NETWORK) if n.name.endswith("-publish")] == ["network-monitoring-publish"]


def test_cloudflared_shares_a_network_with_nginx_and_one_with_prometheus_only(tunnel: OfflineRun) -> None:
    found = containers(tunnel)
    connector = networks_of(found["tunnel-container"])
    neighbours = {
        network: sorted(name for name, c in found.items() if name != "tunnel-container" and network in networks_of(c))
        for network in connector
    }
    assert neighbours == {
        "llmstack-prod-tunnel": ["edge-container"],
        "llmstack-prod-tunnel-egress": [],
        # Monitoring on (the default): Prometheus scrapes the tunnel watch there (tunnel_watch.py).
        "llmstack-prod-tunnel-watch": ["monitoring-prometheus"],
    }
    internal = {n.inputs["name"] for n in tunnel.of_type(NETWORK) if n.inputs.get("internal")}
    assert "llmstack-prod-tunnel" in internal, "nginx gains no route out through the tunnel network"
    assert "llmstack-prod-tunnel-egress" not in internal, "cloudflared needs its way out to Cloudflare"
    for name in ("gateway-container", "ollama-container"):
        assert not networks_of(found[name]) & connector, name


def test_cloudflared_has_a_fixed_address_outside_dockers_dynamic_range(tunnel: OfflineRun) -> None:
    network = tunnel.named("network-tunnel")
    assert network.inputs["ipamConfigs"] == [
        {"subnet": "10.231.53.0/28", "gateway": "10.231.53.1", "ipRange": "10.231.53.8/29"}
    ]
    assert network.options["deleteBeforeReplace"] is True, "a pinned subnet collides on create-before-delete"
    attached = {n["name"]: n for n in containers(tunnel)["tunnel-container"]["networksAdvanced"]}
    assert attached["llmstack-prod-tunnel"]["ipv4Address"] == CONNECTOR


def test_nginx_believes_cf_connecting_ip_from_the_connector_only(deploy: Deploy) -> None:
    for subnet, connector in [("10.231.53.0/28", CONNECTOR), ("172.30.99.0/24", "172.30.99.2")]:
        result = deploy(stack="prod", **TUNNEL, tunnelSubnet=subnet)
        conf = uploads(containers(result)["edge-files-carrier"])["/etc/nginx/nginx.conf"]
        assert re.findall(r"set_real_ip_from (\S+);", conf) == [f"{connector}/32"]
        assert "real_ip_header CF-Connecting-IP;" in conf
        address = containers(result)["tunnel-container"]["networksAdvanced"][1]["ipv4Address"]
        assert address == connector


def test_cloudflared_runs_without_autoupdate_and_reports_readiness_on_its_loopback_only(
    tunnel: OfflineRun,
) -> None:
    connector = containers(tunnel)["tunnel-container"]
    assert connector["entrypoints"] == ["cloudflared"]
    # Metrics and pprof on the connector's own loopback: nginx, its only neighbour, cannot reach them.
    assert connector["command"] == ["tunnel", "--no-autoupdate", "--metrics", "127.0.0.1:20241", "run"]
    assert connector["healthcheck"]["tests"] == [
        "CMD",
        "cloudflared",
        "tunnel",
        "--metrics",
        "127.0.0.1:20241",
        "ready",
    ]
    reference = tunnel.named("tunnel-image").inputs["name"]
    assert reference.startswith("cloudflare/cloudflared:")
    assert connector["image"] == stand_in_image_id(reference)  # the pulled image's ID, as the provider gives it
    assert connector["capabilities"] == {"drops": ["ALL"]}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, set()),
        ({"accessEmails": ["you@example.com"]}, {ACCESS_APP, ACCESS_POLICY}),
        ({"accessServiceToken": "true"}, {ACCESS_APP, ACCESS_POLICY, SERVICE_TOKEN}),
    ],
    ids=["off", "people", "api-clients"],
)
def test_access_resources_appear_only_when_enabled(config: dict[str, Any], expected: set[str], deploy: Deploy) -> None:
    result = deploy(stack="prod", **TUNNEL, **config)
    access = {r.type for r in result.resources if "zeroTrustAccess" in r.type}
    assert access == expected
    assert ("accessHeaders" in result.outputs) == (SERVICE_TOKEN in expected)
    if ACCESS_APP in expected:
        (app,) = result.of_type(ACCESS_APP)
        assert app.inputs["domain"] == TUNNEL["hostname"]
        policies = {f"{p.name}-id" for p in result.of_type(ACCESS_POLICY)}
        assert {p["id"] for p in app.inputs["policies"]} == policies
        assert sorted(p["precedence"] for p in app.inputs["policies"]) == list(range(1, len(policies) + 1))


def test_the_service_token_headers_are_a_secret_output(deploy: Deploy) -> None:
    result = deploy(stack="prod", **TUNNEL, accessServiceToken="true")
    assert "accessHeaders" in result.secret_outputs
    headers = result.outputs["accessHeaders"]
    assert set(headers) == {"CF-Access-Client-Id", "CF-Access-Client-Secret"}
    assert headers["CF-Access-Client-Id"].endswith(".access")
    (policy,) = result.of_type(ACCESS_POLICY)
    assert policy.inputs["decision"] == "non_identity"
    assert policy.inputs["includes"] == [{"serviceToken": {"tokenId": "tunnel-access-token-id"}}]
    assert result.named("tunnel-access").inputs["serviceAuth401Redirect"] is True


@pytest.mark.parametrize(
    ("plan", "expression"),
    [
        # Free zones' rules may test the path only (Cloudflare's plan table): the whole zone is counted.
        ({}, '(http.request.uri.path contains "/")'),
        ({"cloudflareZonePlan": "free"}, '(http.request.uri.path contains "/")'),
        ({"cloudflareZonePlan": "pro"}, f'(http.host eq "{TUNNEL["hostname"]}")'),
        ({"cloudflareZonePlan": "enterprise"}, f'(http.host eq "{TUNNEL["hostname"]}")'),
    ],
    ids=["default", "free", "pro", "enterprise"],
)
def test_an_edge_rate_limit_rule_only_when_configured_with_fields_the_plan_allows(
    plan: dict[str, str], expression: str, deploy: Deploy
) -> None:
    assert not deploy(stack="prod", **TUNNEL, **plan).of_type(RULESET)
    (ruleset,) = deploy(stack="prod", **TUNNEL, **plan, cloudflareRateLimit="50").of_type(RULESET)
    assert ruleset.inputs["phase"] == "http_ratelimit"
    assert ruleset.inputs["zoneId"] == TUNNEL["cloudflareZoneId"]
    (rule,) = ruleset.inputs["rules"]
    assert rule["expression"] == expression
    if "http.host" not in expression:
        assert "http.request.uri.path" in expression
    assert rule["action"] == "block"
    assert rule["ratelimit"] == {
        "characteristics": ["cf.colo.id", "ip.src"],
        "period": 10,
        "requestsPerPeriod": 50,
        "mitigationTimeout": 10,
    }


def test_clients_use_cloudflares_certificate_and_the_public_hostname(tunnel: OfflineRun) -> None:
    assert tunnel.outputs["endpoint"] == "https://llm.example.com/v1"
    assert tunnel.outputs["caCertificate"] is None, "a private CA in SSL_CERT_FILE would reject Cloudflare's"


def test_missing_tunnel_config_fails_before_any_resource_is_registered(deploy: Deploy) -> None:
    with pytest.raises(ProgramFailedError) as failure:
        deploy(exposure="tunnel")
    assert isinstance(failure.value.__cause__, SettingsError)
    assert failure.value.registered == []
    for key in ("cloudflareAccountId", "cloudflareZoneId", "hostname"):
        assert f"llmstack:{key} " in str(failure.value)


@pytest.mark.parametrize("config", [{}, LAN], ids=["local", "lan"])
def test_other_modes_build_no_tunnel(config: dict[str, Any], deploy: Deploy) -> None:
    result = deploy(**config)
    assert not [r for r in result.resources if r.type.startswith("cloudflare:") or r.name.startswith("tunnel")]
    assert {n.name for n in result.of_type(NETWORK)} == {
        "network-models",
        "network-gateway",
        "network-publish",
        "network-model-egress",
        *("network-monitoring", "network-monitoring-publish", "network-alert-egress"),
    }
    assert "set_real_ip_from" not in uploads(containers(result)["edge-files-carrier"])["/etc/nginx/nginx.conf"]


def test_access_service_token_headers_reach_every_clients_configs(deploy: Deploy) -> None:
    result = deploy(**TUNNEL, accessServiceToken="true", clients={"laptop": {}, "ci": {"apis": ["chat"]}})
    access = result.outputs["accessHeaders"]
    assert set(access) == {"CF-Access-Client-Id", "CF-Access-Client-Secret"}
    for name, client in result.outputs["clients"].items():
        assert client["headers"] == access, name
        continue_config = yaml.safe_load(client["continueConfig"])
        assert all(m["requestOptions"]["headers"] == access for m in continue_config["models"])
        assert all("caBundlePath" not in m["requestOptions"] for m in continue_config["models"])
        assert "SSL_CERT_FILE" not in client["openaiEnv"], "Cloudflare's public certificate: no private CA"
        assert access["CF-Access-Client-Secret"] in client["curl"]


def test_only_the_connector_and_the_model_pulls_have_a_way_out(tunnel: OfflineRun) -> None:
    outbound = nat_networks(tunnel)
    found = containers(tunnel)
    assert {name for name, c in found.items() if networks_of(c) & outbound} == {
        "tunnel-container",
        "ollama-pull-qwen2.5-0.5b",
    }
