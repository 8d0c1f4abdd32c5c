"""The security checklist (policy/): each rule, the repo's stacks, weakened stacks, the pack, the audit."""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from offline.engine import SECRET_SIG, SIG_KEY, OfflineRun, reveal
from offline.render import read_stack_config
from policy.audit import checklist, evaluate, main, mandatory_failures, report
from policy.pack import NOT_APPLICABLE_WITHOUT_MARKERS, policies
from policy.props import Props, Secret, plain
from policy.rules import RULES, RULES_BY_NAME
from tests.support import LAN, PROJECT_DIR, STACK_FILES
from tools import policy_lock

CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
TUNNEL_CONFIG = "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig"
DIGEST = "sha256:" + "ab" * 32
API_KEY = "sk-" + "Q" * 40
Deploy = Callable[..., OfflineRun]

NGINX_CONF = """
http {
    log_format json escape=json '{"path":"$uri"}';
    server {
        listen 8443 ssl http2;
        ssl_protocols TLSv1.3;
        location = /healthz { return 200 '{"status": "ok"}'; }
        location ~ ^/v1/ {
%s
            proxy_pass http://litellm:4000;
        }
        location / { return 404; }
    }
}
"""
ALLOW_LIST = "            allow 192.168.1.0/24;\n            deny all;"


def long_running(**overrides: Any) -> dict[str, Any]:
    """A compliant long-running container in wire form (camelCase keys, numbers as floats)."""
    props: dict[str, Any] = {
        "name": "llmstack-dev-litellm",
        "image": "ghcr.io/berriai/litellm:main-v1.108.7",
        "memory": 2048.0,
        "restart": "unless-stopped",
        "healthcheck": {"tests": ["CMD", "true"], "interval": "15s", "retries": 3.0},
        "logDriver": "json-file",
        "logOpts": {"max-size": "10m", "max-file": "3"},
        "securityOpts": ["no-new-privileges:true"],
        "capabilities": {"drops": ["ALL"]},
        "envs": ["LITELLM_LOG=ERROR", Secret(f"LITELLM_MASTER_KEY={API_KEY}")],
        "uploads": [{"file": "/etc/litellm/config.yaml", "content": "master_key: os.environ/LITELLM_MASTER_KEY\n"}],
    }
    return {**props, **overrides}


def edge(conf: str = NGINX_CONF % "", ip: str | None = "127.0.0.1", **overrides: Any) -> dict[str, Any]:
    """A compliant nginx edge; its uploads are secret as a whole, as the program registers them."""
    port: dict[str, Any] = {"internal": 8443.0, "external": 8443.0, "protocol": "tcp"}
    if ip is not None:
        port["ip"] = ip
    uploads = [
        {"file": "/etc/nginx/nginx.conf", "content": conf},
        {"file": "/etc/nginx/tls/server.key", "content": "-----BEGIN EC PRIVATE KEY-----\nMHc=\n"},
    ]
    nginx = long_running(
        name="llmstack-dev-nginx",
        image="nginx:1.29.3",
        envs=["NGINX_ENTRYPOINT_QUIET_LOGS=1"],
        capabilities={"drops": ["ALL"], "adds": ["CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID"]},
        ports=[port],
        uploads=Secret(uploads),
    )
    return {**nginx, **overrides}


def one_shot(**overrides: Any) -> dict[str, Any]:
    """A compliant model pull: runs to completion, no restart, no healthcheck."""
    props: dict[str, Any] = {
        "name": "llmstack-dev-ollama-pull-small",
        "image": "ollama/ollama:0.12.6",
        "mustRun": False,
        "attach": True,
        "restart": "no",
        "memory": 256.0,
        "logDriver": "json-file",
        "logOpts": {"max-size": "10m", "max-file": "3"},
        "securityOpts": ["no-new-privileges:true"],
        "capabilities": {"drops": ["ALL"]},
    }
    return {**props, **overrides}


def tunnel(*services: str) -> dict[str, Any]:
    """Hand-built inputs of a ZeroTrustTunnelCloudflaredConfig (the program builds none yet)."""
    return {"accountId": "acc", "tunnelId": "tun", "config": {"ingresses": [{"service": s} for s in services]}}


def violations(rule: str, props: Props, resource_type: str = CONTAINER) -> list[str]:
    return RULES_BY_NAME[rule].check(resource_type, props)


def failing(run: OfflineRun) -> set[str]:
    return {result.rule.name for result in evaluate(run.resources) if not result.passed}


def weakened(run: OfflineRun, name: str, change: Callable[[dict[str, Any]], None]) -> OfflineRun:
    """The run with a deep copy of one resource's wire inputs (what the rules read) changed."""
    resource = run.named(name)
    wire = copy.deepcopy(resource.wire)
    change(wire)
    changed = dataclasses.replace(resource, wire=wire)
    return dataclasses.replace(run, resources=[changed if r is resource else r for r in run.resources])


def engine_view(props: dict[str, Any]) -> dict[str, Any]:
    """Inputs as a policy sees them under the engine: secrets unwrapped, the image an ID."""
    return {**plain(props), "image": DIGEST}


# --- every rule: compliant passes, missing or odd inputs do not crash it ---------------------------


@pytest.mark.parametrize("rule", [rule for rule in RULES if rule.mandatory], ids=lambda rule: rule.name)
@pytest.mark.parametrize(
    "props",
    [long_running(), edge(), one_shot(), edge(conf=NGINX_CONF % ALLOW_LIST, ip="0.0.0.0")],  # noqa: S104
    ids=["gateway", "edge", "one-shot", "lan-edge-on-0.0.0.0"],
)
def test_compliant_containers_pass_every_mandatory_rule(rule: Any, props: dict[str, Any]) -> None:
    assert rule.check(CONTAINER, props) == []


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
@pytest.mark.parametrize("resource_type", [CONTAINER, REMOTE_IMAGE, TUNNEL_CONFIG, "random:index/randomId:RandomId"])
@pytest.mark.parametrize(
    "props",
    [
        {},
        {key: None for key in long_running() | edge() | tunnel()},
        {key: 7.0 for key in long_running() | edge() | tunnel()},
        {"capabilities": {"drops": None}, "healthcheck": {"tests": "CMD"}, "ports": [None, 3.0], "config": []},
    ],
    ids=["empty", "all-null", "all-numbers", "wrong-shapes"],
)
def test_missing_or_odd_inputs_do_not_crash_a_rule(rule: Any, resource_type: str, props: Props) -> None:
    found = rule.check(resource_type, props)
    assert isinstance(found, list)
    assert all(isinstance(message, str) and message for message in found)


def test_rules_have_unique_kebab_case_names_and_a_title_and_description() -> None:
    names = [rule.name for rule in RULES]
    assert len(set(names)) == len(names)
    for rule in RULES:
        assert rule.name == rule.name.lower().replace(" ", "-")
        assert rule.name != "all", "pulumi-policy reserves the name all"
        assert rule.title
        assert rule.description


def test_only_the_digest_and_privileged_port_rules_are_advice() -> None:
    # httpsPort may be 443 (a LAN edge): CIS 5.7 is advice here, not a block.
    assert [rule.name for rule in RULES if not rule.mandatory] == ["image-digest-pinned", "no-privileged-ports"]


# --- one test per rule ---------------------------------------------------------------------------------


def test_privileged_container_fails() -> None:
    assert violations("no-privileged-containers", long_running(privileged=True))
    assert violations("no-privileged-containers", long_running(privileged=False)) == []


def test_capabilities_must_drop_all() -> None:
    assert violations("capabilities-dropped", long_running(capabilities={"drops": ["NET_RAW"]}))
    assert violations("capabilities-dropped", long_running(capabilities=None))


def test_only_nginx_may_add_its_named_capabilities() -> None:
    nginx_caps = {"drops": ["ALL"], "adds": ["CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID"]}
    assert violations("capabilities-dropped", edge(capabilities=nginx_caps)) == []
    assert violations("capabilities-dropped", edge(capabilities={"drops": ["all"], "adds": ["CAP_CHOWN"]})) == []
    assert violations("capabilities-dropped", long_running(capabilities=nginx_caps))
    (message,) = violations("capabilities-dropped", edge(capabilities={"drops": ["ALL"], "adds": ["NET_ADMIN"]}))
    assert "NET_ADMIN" in message


def test_no_new_privileges_must_be_set() -> None:
    assert violations("no-new-privileges", long_running(securityOpts=[]))
    assert violations("no-new-privileges", long_running(securityOpts=["no-new-privileges:false"]))
    assert violations("no-new-privileges", long_running(securityOpts=["no-new-privileges"])) == []


def test_memory_limit_must_be_positive() -> None:
    assert violations("memory-limit", long_running(memory=0.0))
    assert violations("memory-limit", long_running(memory=None))
    assert violations("memory-limit", one_shot(memory=256.0)) == []


def test_the_memory_rule_says_pids_cannot_be_limited() -> None:
    assert "pids" in RULES_BY_NAME["memory-limit"].description


def test_long_running_containers_need_a_restart_policy() -> None:
    assert violations("restart-policy", long_running(restart="no"))
    assert violations("restart-policy", long_running(restart=None))
    assert violations("restart-policy", long_running(mustRun=False))
    assert violations("restart-policy", long_running(restart="on-failure")) == []


def test_one_shot_containers_are_exempt_from_restart_and_healthcheck() -> None:
    assert violations("restart-policy", one_shot()) == []
    assert violations("healthcheck", one_shot()) == []
    # Not attached: Pulumi does not wait for it, so it is a long-running container that may stop.
    assert violations("restart-policy", one_shot(attach=False))


def test_long_running_containers_need_a_healthcheck() -> None:
    assert violations("healthcheck", long_running(healthcheck=None))
    assert violations("healthcheck", long_running(healthcheck={"tests": ["NONE"]}))


def test_logs_must_be_rotated() -> None:
    assert violations("log-rotation", long_running(logDriver="syslog"))
    assert violations("log-rotation", long_running(logDriver=None))
    assert violations("log-rotation", long_running(logOpts={"max-size": "10m"}))
    assert violations("log-rotation", long_running(logDriver="local")) == []
    # `local` rotates by itself (20 MB x 5 files); json-file grows without bound unless told.
    assert violations("log-rotation", long_running(logDriver="local", logOpts=None)) == []
    assert violations("log-rotation", long_running(logDriver="json-file", logOpts=None))


@pytest.mark.parametrize(
    ("reference", "pinned"),
    [
        ("nginx:1.29.3", True),
        (f"nginx:1.29.3@{DIGEST}", True),
        (DIGEST, True),  # a container's image under the engine: RemoteImage.image_id
        ("nginx:latest", False),
        ("nginx", False),
        ("registry.local:5000/team/nginx", False),  # the colon is the registry's port
        (f"nginx@{DIGEST}", True),  # exact content, as the digest advice recommends
        ("nginx@sha256:abc", False),  # a malformed digest pins nothing
        ("", False),
    ],
)
def test_images_carry_a_tag_other_than_latest(reference: str, pinned: bool) -> None:
    assert (violations("image-tag-pinned", long_running(image=reference)) == []) is pinned
    if reference != DIGEST:
        assert (violations("image-tag-pinned", {"name": reference}, REMOTE_IMAGE) == []) is pinned


def test_a_digest_is_advised() -> None:
    assert violations("image-digest-pinned", {"name": "nginx:1.29.3"}, REMOTE_IMAGE)
    assert violations("image-digest-pinned", {"name": f"nginx:1.29.3@{DIGEST}"}, REMOTE_IMAGE) == []
    assert violations("image-digest-pinned", long_running(image=DIGEST)) == []
    assert RULES_BY_NAME["image-digest-pinned"].mandatory is False


@pytest.mark.parametrize(
    "props",
    [
        long_running(ports=[{"internal": 4000.0, "external": 4000.0, "ip": "127.0.0.1"}]),
        long_running(name="llmstack-dev-ollama", image=DIGEST, publishAllPorts=True),
        long_running(name="ollama-extra", image="ollama/ollama:0.12.6", networkMode="host"),
    ],
    ids=["litellm-by-name-on-loopback", "ollama-publish-all", "ollama-by-image-host-network"],
)
def test_ollama_and_litellm_never_publish(props: Props) -> None:
    assert violations("internal-services-unpublished", props)


def test_only_the_edge_publishes_whatever_a_container_is_called() -> None:
    # Under the engine a container's image is an ID: a renamed Ollama shows nothing of Ollama.
    renamed = long_running(name="llm-backend", image=DIGEST, ports=[{"internal": 11434.0, "ip": "127.0.0.1"}])
    (message,) = violations("internal-services-unpublished", renamed)
    assert "llm-backend" in message
    # A readable image wins over the name: an Ollama called …-nginx is still Ollama.
    disguised = long_running(name="x-nginx", image="ollama/ollama:0.12.6", ports=[{"internal": 11434.0}])
    assert violations("internal-services-unpublished", disguised)
    assert violations("internal-services-unpublished", edge(image=DIGEST)) == []
    # Under the engine a name is all that says nginx: an Ollama named …-nginx has no nginx.conf.
    named_like_the_edge = long_running(name="evil-nginx", image=DIGEST, ports=[{"internal": 11434.0}])
    (message,) = violations("internal-services-unpublished", named_like_the_edge)
    assert "carries no nginx configuration" in message


def test_nginx_may_publish_and_internal_services_on_internal_networks_pass() -> None:
    assert violations("internal-services-unpublished", edge()) == []
    assert violations("internal-services-unpublished", long_running(networkMode="container:ollama-id")) == []


@pytest.mark.parametrize("ip", ["0.0.0.0", "", None, "::", "[::]"], ids=repr)  # noqa: S104
def test_a_wildcard_bind_without_an_allow_list_fails(ip: str | None) -> None:
    (message,) = violations("no-wildcard-publish", edge(ip=ip))
    assert "port 8443" in message
    assert "allow" in message


@pytest.mark.parametrize(
    "allow_list",
    [
        "allow 0.0.0.0/0;\n        deny all;",
        "allow all;\n        deny all;",
        "allow 192.168.1.0/24;",
        "# allow 192.168.1.0/24;\n        # deny all;",
        "deny all;\n        allow 192.168.1.0/24;",
        "allow 192.168.1.0/24;\n        allow ::/0;\n        deny all;",
    ],
    ids=["allows-everyone", "allow-all", "no-deny", "commented-out", "deny-first", "allows-every-ipv6"],
)
def test_a_wildcard_bind_behind_a_fake_allow_list_fails(allow_list: str) -> None:
    assert violations("no-wildcard-publish", edge(conf=NGINX_CONF % allow_list, ip="0.0.0.0"))  # noqa: S104


def test_an_allow_list_counts_only_where_it_guards_the_proxying_location() -> None:
    guarded_health = "location = /healthz { allow 10.0.0.0/8; deny all; return"
    elsewhere = NGINX_CONF.replace("location = /healthz { return", guarded_health)
    (message,) = violations("no-wildcard-publish", edge(conf=elsewhere % "", ip="0.0.0.0"))  # noqa: S104
    assert "location ~ ^/v1/" in message
    # Server-level rules reach a location that has none of its own, as nginx inherits them...
    inherited = NGINX_CONF.replace("ssl_protocols TLSv1.3;", "ssl_protocols TLSv1.3; allow 10.0.0.0/8; deny all;")
    assert violations("no-wildcard-publish", edge(conf=inherited % "", ip="0.0.0.0")) == []  # noqa: S104
    # ...and a location's own rules replace them.
    assert violations("no-wildcard-publish", edge(conf=inherited % "allow all;", ip="0.0.0.0"))  # noqa: S104


def test_a_config_that_proxies_nothing_or_does_not_parse_guards_nothing() -> None:
    static = "http { server { listen 8443 ssl; ssl_protocols TLSv1.3; allow 10.0.0.0/8; deny all; } }"
    assert violations("no-wildcard-publish", edge(conf=static, ip="0.0.0.0"))  # noqa: S104
    broken = (NGINX_CONF % ALLOW_LIST).replace("location / {", "location / {{")
    assert violations("no-wildcard-publish", edge(conf=broken, ip="0.0.0.0"))  # noqa: S104
    assert violations("tls-modern-or-intermediate", edge(conf=broken))


def test_an_nginx_whose_config_is_not_uploaded_fails_the_tls_rule() -> None:
    from_volume = edge(uploads=[], volumes=[{"volumeName": "nginx-conf", "containerPath": "/etc/nginx"}])
    (message,) = violations("tls-modern-or-intermediate", from_volume)
    assert "cannot be checked" in message


def test_a_wildcard_bind_behind_an_nginx_allow_list_passes() -> None:
    assert violations("no-wildcard-publish", edge(conf=NGINX_CONF % ALLOW_LIST, ip="0.0.0.0")) == []  # noqa: S104
    assert violations("no-wildcard-publish", edge(ip="192.168.1.50")) == []


def test_host_networking_and_publish_all_count_as_wildcard() -> None:
    assert violations("no-wildcard-publish", long_running(networkMode="host"))
    assert violations("no-wildcard-publish", long_running(publishAllPorts=True))


@pytest.mark.parametrize(
    ("protocols", "accepted"),
    [
        ("TLSv1.3", True),
        ("TLSv1.2 TLSv1.3", True),
        ("TLSv1.3   TLSv1.2", True),
        ("TLSv1.2", False),
        ("TLSv1.1 TLSv1.2 TLSv1.3", False),
        ("TLSv1 TLSv1.1 TLSv1.2 TLSv1.3", False),
    ],
)
def test_tls_is_modern_or_intermediate_only(protocols: str, accepted: bool) -> None:
    conf = NGINX_CONF.replace("ssl_protocols TLSv1.3;", f"ssl_protocols {protocols};") % ""
    assert (violations("tls-modern-or-intermediate", edge(conf=conf)) == []) is accepted


def test_tls_protocols_must_be_explicit_and_comments_do_not_count() -> None:
    conf = NGINX_CONF.replace("ssl_protocols TLSv1.3;", "# ssl_protocols TLSv1.3;") % ""
    assert violations("tls-modern-or-intermediate", edge(conf=conf))


def test_containers_without_an_nginx_config_are_not_judged_on_tls() -> None:
    assert violations("tls-modern-or-intermediate", long_running()) == []


def test_a_plaintext_api_key_in_envs_fails_without_echoing_it() -> None:
    (message,) = violations("plaintext-secrets", long_running(envs=[f"LITELLM_MASTER_KEY={API_KEY}"]))
    assert "LITELLM_MASTER_KEY" in message
    assert API_KEY not in message


def test_secret_envs_and_uploads_may_hold_secrets() -> None:
    assert violations("plaintext-secrets", long_running(envs=Secret([f"KEY={API_KEY}"]))) == []
    assert violations("plaintext-secrets", edge()) == []  # the private key upload is secret
    key_upload = {"file": "/k.pem", "content": Secret("-----BEGIN PRIVATE KEY-----\n")}
    assert violations("plaintext-secrets", long_running(uploads=[key_upload])) == []


@pytest.mark.parametrize(
    "content",
    [
        "-----BEGIN EC PRIVATE KEY-----\nMHc=\n",
        "dsn: postgres://db?user=app&password=hunter2\n",
        f"general_settings:\n  master_key: {API_KEY}\n",
        "api_key: abc123\n",
    ],
    ids=["private-key", "password=", "master_key-value", "api_key-value"],
)
def test_secret_looking_plaintext_uploads_fail(content: str) -> None:
    uploads = [{"file": "/etc/app/conf", "content": content}]
    assert violations("plaintext-secrets", long_running(uploads=uploads))


def test_credential_named_plaintext_env_fails() -> None:
    assert violations("plaintext-secrets", long_running(envs=["DB_PASSWORD=hunter2"]))
    assert violations("plaintext-secrets", long_running(envs=["DB_PASSWORD="])) == []


def test_the_secret_rule_needs_the_markers_only_the_audit_has() -> None:
    assert [rule.name for rule in RULES if rule.needs_secret_markers] == ["plaintext-secrets"]


@pytest.mark.parametrize(
    "services",
    [
        ("https://llmstack-dev-nginx:8443", "http_status:404"),
        ("http://nginx:8443",),
        (),
    ],
)
def test_a_tunnel_reaching_nginx_only_passes(services: tuple[str, ...]) -> None:
    assert violations("tunnel-ingress-to-nginx", tunnel(*services), TUNNEL_CONFIG) == []


@pytest.mark.parametrize(
    "service",
    ["http://litellm:4000", "http://llmstack-dev-ollama:11434", "tcp://nginx:22", "hello_world", "http_status:abc"],
)
def test_a_tunnel_around_nginx_fails(service: str) -> None:
    found = violations("tunnel-ingress-to-nginx", tunnel(service, "http_status:404"), TUNNEL_CONFIG)
    assert len(found) == 1
    assert service in found[0]


def test_the_legacy_tunnel_config_type_is_checked_too() -> None:
    legacy = "cloudflare:index/tunnelConfig:TunnelConfig"  # still served by pulumi-cloudflare 6.23.1
    assert violations("tunnel-ingress-to-nginx", tunnel("http://litellm:4000"), legacy)
    assert violations("tunnel-ingress-to-nginx", tunnel("https://llmstack-prod-nginx:8443"), legacy) == []


# --- the repo's stacks and weakened ones --------------------------------------------------------------


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_every_stack_file_passes_every_mandatory_rule(stack_file: Path, deploy: Deploy) -> None:
    config, _ = read_stack_config(stack_file, notify=lambda _: None)
    plain = {k.removeprefix("llmstack:"): v for k, v in config.items()}
    result = deploy(stack=stack_file.name.split(".")[1], **plain)
    assert mandatory_failures(evaluate(result.resources)) == []
    assert len(result.of_type(CONTAINER)) >= 3, "the rules must have had containers to judge"


def test_lan_mode_on_every_address_passes_thanks_to_its_allow_list(deploy: Deploy) -> None:
    result = deploy(**{**LAN, "listenAddress": "0.0.0.0"})  # noqa: S104
    assert result.named("edge-container").inputs["ports"][0]["ip"] == "0.0.0.0"  # noqa: S104
    assert failing(result) == {"image-digest-pinned"}


def test_a_weakened_stack_fails_exactly_the_rules_it_breaks(deploy: Deploy) -> None:
    stack = deploy()
    assert failing(stack) == {"image-digest-pinned"}

    def drop_healthcheck(inputs: dict[str, Any]) -> None:
        del inputs["healthcheck"]

    def make_privileged(inputs: dict[str, Any]) -> None:
        inputs["privileged"] = True

    def publish_everywhere(inputs: dict[str, Any]) -> None:  # dev: the edge's ports are plain
        inputs["ports"][0]["ip"] = "0.0.0.0"  # noqa: S104

    weak = weakened(stack, "gateway-container", drop_healthcheck)
    weak = weakened(weak, "ollama-container", make_privileged)
    weak = weakened(weak, "edge-container", publish_everywhere)
    results = {result.rule.name: result for result in evaluate(weak.resources)}
    assert {name for name, result in results.items() if not result.passed} == {
        "healthcheck",
        "no-privileged-containers",
        "no-wildcard-publish",
        "image-digest-pinned",
    }
    assert [f.resource for f in results["healthcheck"].failures] == ["gateway-container"]
    assert [f.resource for f in results["no-privileged-containers"].failures] == ["ollama-container"]
    assert [f.resource for f in results["no-wildcard-publish"].failures] == ["edge-container"]


def test_revealing_the_master_key_in_envs_fails_only_the_secret_rule(deploy: Deploy) -> None:
    stack = deploy()

    def reveal_envs(inputs: dict[str, Any]) -> None:
        assert any(SIG_KEY in env for env in inputs["envs"]), "the render must mark the key secret to mean anything"
        inputs["envs"] = reveal(inputs["envs"])

    assert failing(weakened(stack, "gateway-container", reveal_envs)) == {"plaintext-secrets", "image-digest-pinned"}


def secret_holding(stack: OfflineRun, name: str, key: str) -> bool:
    """Whether the program's own deserialised inputs mark the whole list secret (what hid elements before)."""
    return bool(stack.named(name).inputs[key].get(SIG_KEY) == SECRET_SIG)


def test_the_audit_finds_a_plaintext_secret_planted_beside_secret_elements(deploy: Deploy) -> None:
    stack = deploy()
    assert secret_holding(stack, "gateway-container", "envs")
    assert secret_holding(stack, "edge-container", "uploads")

    def plant_env(inputs: dict[str, Any]) -> None:
        inputs["envs"].append(f"OPENAI_API_KEY={API_KEY}")

    def plant_upload(inputs: dict[str, Any]) -> None:
        inputs["uploads"].append({"file": "/etc/nginx/db.ini", "content": "dsn=pg://db?password=hunter2\n"})

    for name, plant, planted in [
        ("gateway-container", plant_env, "OPENAI_API_KEY"),
        ("edge-container", plant_upload, "/etc/nginx/db.ini"),
    ]:
        results = {r.rule.name: r for r in evaluate(weakened(stack, name, plant).resources)}
        (failure,) = results["plaintext-secrets"].failures
        assert (failure.resource, planted in failure.message) == (name, True)


def test_downgrading_tls_inside_the_secret_uploads_fails_only_the_tls_rule(deploy: Deploy) -> None:
    stack = deploy()

    def allow_tls12_only(inputs: dict[str, Any]) -> None:
        for upload in inputs["uploads"]:
            if isinstance(upload.get("content"), str):
                upload["content"] = upload["content"].replace("ssl_protocols TLSv1.3;", "ssl_protocols TLSv1.2;")

    assert failing(weakened(stack, "edge-container", allow_tls12_only)) == {
        "tls-modern-or-intermediate",
        "image-digest-pinned",
    }


# --- the policy pack (pulumi-policy objects; PolicyPack itself is never built here) --------------------


class ReportViolationSpy:
    """Test double for pulumi-policy's `report_violation` callback: records what a policy reports."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, str | None]] = []

    def __call__(self, message: str, urn: str | None = None) -> None:
        """Record one reported violation."""
        self.reports.append((message, urn))


def validation_args(props: dict[str, Any], resource_type: str = CONTAINER) -> ResourceValidationArgs:
    """What the SDK passes a policy: inputs behind its unknown-checking proxy."""
    options = PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
    )
    urn = f"urn:pulumi:dev::llmstack::{resource_type}::thing"
    return ResourceValidationArgs(resource_type, unknown_checking_proxy(props), urn, "thing", options, None)


def pack_policy(name: str) -> ResourceValidationPolicy:
    (policy,) = [p for p in policies() if p.name == name]
    assert isinstance(policy, ResourceValidationPolicy)
    return policy


def test_the_pack_wraps_every_rule_with_its_enforcement_level() -> None:
    built = policies()
    assert [p.name for p in built] == [rule.name for rule in RULES]
    for policy, rule in zip(built, RULES, strict=True):
        assert isinstance(policy, ResourceValidationPolicy)
        assert policy.has_validation()
        assert policy.description == rule.description
        expected = EnforcementLevel.MANDATORY if rule.mandatory else EnforcementLevel.ADVISORY
        assert policy.enforcement_level == expected


def test_a_policy_reports_each_violation_against_the_resource() -> None:
    spy = ReportViolationSpy()
    args = validation_args(long_running(privileged=True))
    pack_policy("no-privileged-containers").validate(args, spy)
    assert spy.reports == [(violations("no-privileged-containers", long_running(privileged=True))[0], args.urn)]


def test_a_policy_reports_nothing_for_a_compliant_resource() -> None:
    spy = ReportViolationSpy()
    for rule in RULES:
        if not rule.needs_secret_markers:
            pack_policy(rule.name).validate(validation_args(engine_view(edge())), spy)
    assert spy.reports == []


def test_an_unknown_input_defers_only_the_rules_that_read_it() -> None:
    # During preview the SDK turns UnknownValueError into "can't run during preview".
    args = validation_args(long_running(name="llmstack-dev-ollama-pull-x", image=UNKNOWN_STRING_VALUE))
    with pytest.raises(UnknownValueError):
        pack_policy("image-tag-pinned").validate(args, ReportViolationSpy())
    spy = ReportViolationSpy()
    for name in ("capabilities-dropped", "internal-services-unpublished", "memory-limit"):
        pack_policy(name).validate(args, spy)
    assert spy.reports == []


def test_the_policy_sdk_strips_secret_markers_before_a_policy_runs() -> None:
    wire = {"envs": {SIG_KEY: SECRET_SIG, "value": [f"KEY={API_KEY}"]}}
    assert deserialize_properties(wire) == {"envs": [f"KEY={API_KEY}"]}


def test_so_the_secret_rule_is_not_applicable_under_the_engine() -> None:
    spy = ReportViolationSpy()
    with pytest.raises(_NotApplicableError) as raised:
        pack_policy("plaintext-secrets").validate(validation_args(long_running(envs=[f"K={API_KEY}"])), spy)
    assert raised.value.reason == NOT_APPLICABLE_WITHOUT_MARKERS
    assert spy.reports == []


def test_the_rules_import_nothing_from_pulumi() -> None:
    script = "import sys, policy.rules; print(sorted(m for m in sys.modules if m.split('.')[0].startswith('pulumi')))"
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_pack_lock_is_the_dev_locks_pins_and_hashes_for_what_the_pack_needs() -> None:
    # The pack runs the rules with exactly what the tests ran them with, hash-checked.
    assert "name: python" in (PROJECT_DIR / "policy" / "PulumiPolicy.yaml").read_text()
    assert policy_lock.main(["--check"]) == 0
    pack_lock = policy_lock.blocks((PROJECT_DIR / "policy" / "requirements.txt").read_text())
    dev_lock = policy_lock.blocks((PROJECT_DIR / "requirements-dev.txt").read_text())
    assert {"pulumi", "pulumi-policy", "protobuf", "grpcio"} <= set(pack_lock)
    assert all(len(lines) > 1 and lines == dev_lock[name] for name, lines in pack_lock.items())


# --- the offline audit --------------------------------------------------------------------------------


def test_the_audit_prints_one_line_per_rule_and_passes_the_dev_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "dev"]) == 0
    lines = capsys.readouterr().out.splitlines()
    verdicts = [line for line in lines if line.startswith(("PASS ", "FAIL "))]
    assert [line.split()[1] for line in verdicts] == [rule.name for rule in RULES]
    assert all(line.startswith("PASS") for line in verdicts if "advisory" not in line)


def test_the_audit_names_the_resource_at_fault_and_exits_1(deploy: Deploy) -> None:
    def make_privileged(inputs: dict[str, Any]) -> None:
        inputs["privileged"] = True

    printed: list[str] = []
    assert report("dev", weakened(deploy(), "gateway-container", make_privileged), write=printed.append) == 1
    at = printed.index(next(line for line in printed if " no-privileged-containers " in line))
    assert printed[at].startswith("FAIL")
    assert printed[at + 1].strip().startswith("gateway-container: privileged is true")


def test_advice_alone_does_not_fail_the_audit(deploy: Deploy) -> None:
    results = evaluate(deploy().resources)
    assert [line for line in checklist(results) if line.startswith("FAIL")] != []
    assert mandatory_failures(results) == []


def test_the_audit_of_an_unknown_stack_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "no-such-stack"]) == 2
    assert "Pulumi.no-such-stack.yaml" in capsys.readouterr().err


def test_make_audit_command_runs_from_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "policy.audit", "--stack", "dev"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "audit: 0 mandatory rule(s) failed" in done.stdout


@pytest.mark.parametrize(
    "request_",
    [
        {"driver": "cdi", "deviceIds": ["vendor.com/dev=all"], "capabilities": [["gpu"]]},
        {"driver": "nvidia", "deviceIds": ["0"], "capabilities": [["gpu", "video"]]},
        {"deviceIds": ["0"], "capabilities": [["gpu"]]},
    ],
    ids=["cdi", "extra-capability", "no-driver"],
)
def test_device_requests_other_than_an_nvidia_gpu_fail(request_: dict[str, Any]) -> None:
    assert violations("no-host-devices", long_running(deviceRequests=[request_]))


def test_an_nvidia_gpu_device_request_passes() -> None:
    gpu = {"driver": "nvidia", "deviceIds": ["0", "1"], "capabilities": [["gpu"]]}
    assert violations("no-host-devices", long_running(deviceRequests=[gpu])) == []
