"""Each checklist rule (policy/rules.py): compliant inputs pass, violations fail, odd inputs never crash it."""

from __future__ import annotations

from typing import Any

import pytest

from policy.props import Props, Secret
from policy.rules import RULES, RULES_BY_NAME
from tests.policy.resources import (
    ALLOW_LIST,
    API_KEY,
    API_TOKEN,
    CONTAINER,
    DIGEST,
    NGINX_CONF,
    REMOTE_IMAGE,
    TUNNEL_CONFIG,
    dns_token,
    edge,
    long_running,
    one_shot,
    tunnel,
    violations,
)


@pytest.mark.parametrize("rule", [rule for rule in RULES if rule.mandatory], ids=lambda rule: rule.name)
@pytest.mark.parametrize(
    "props",
    [long_running(), edge(), one_shot(), edge(conf=NGINX_CONF % ALLOW_LIST, ip="0.0.0.0")],  # noqa: S104
    ids=["gateway", "edge", "one-shot", "lan-edge-on-0.0.0.0"],
)
def test_compliant_containers_pass_every_mandatory_rule(rule: Any, props: dict[str, Any]) -> None:
    assert rule.check(CONTAINER, props) == []


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
@pytest.mark.parametrize(
    "resource_type", [CONTAINER, REMOTE_IMAGE, TUNNEL_CONFIG, API_TOKEN, "random:index/randomId:RandomId"]
)
@pytest.mark.parametrize(
    "props",
    [
        {},
        {key: None for key in long_running() | edge() | tunnel()},
        {key: 7.0 for key in long_running() | edge() | tunnel()},
        {"capabilities": {"drops": None}, "healthcheck": {"tests": "CMD"}, "ports": [None, 3.0], "config": []},
        {"policies": [None, 3.0, {"effect": "allow", "permissionGroups": [None, 7.0], "resources": 7.0}]},
    ],
    ids=["empty", "all-null", "all-numbers", "wrong-shapes", "odd-token"],
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


def test_no_container_may_add_a_capability_beyond_the_empty_allow_list() -> None:
    """Nginx's four went with its root master (#22): the named allow-list is empty for every role."""
    nginx_caps = {"drops": ["ALL"], "adds": ["CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID"]}
    assert violations("capabilities-dropped", edge(capabilities=nginx_caps))
    assert violations("capabilities-dropped", edge(capabilities={"drops": ["all"], "adds": ["CAP_CHOWN"]}))
    assert violations("capabilities-dropped", long_running(capabilities=nginx_caps))
    (message,) = violations("capabilities-dropped", edge(capabilities={"drops": ["ALL"], "adds": ["NET_ADMIN"]}))
    assert "NET_ADMIN" in message


@pytest.mark.parametrize("user", [None, "", "0", "0:0", "root", "root:root", " 0:1000"])
def test_a_serving_container_as_root_fails_non_root(user: str | None) -> None:
    assert violations("non-root", long_running(user=user))
    assert violations("non-root", long_running(user="101:101")) == []


def test_root_is_allowed_only_for_a_confined_one_shot_job() -> None:
    assert violations("non-root", one_shot()) == []
    assert violations("non-root", one_shot(readOnly=False))
    assert violations("non-root", one_shot(capabilities={"drops": ["ALL"], "adds": ["CHOWN"]}))
    # A never-started carrier is not a job that runs: as root it fails like a serving container.
    assert violations("non-root", one_shot(attach=None, start=False))


def test_a_writable_root_fails_unless_the_container_never_starts() -> None:
    assert violations("read-only-root", long_running(readOnly=False))
    assert violations("read-only-root", long_running(readOnly=None))
    assert violations("read-only-root", one_shot(readOnly=False))
    carrier = one_shot(attach=None, start=False, readOnly=False, user="101:101")
    assert violations("read-only-root", carrier) == []


@pytest.mark.parametrize(
    "options", ["rw,size=64m", "rw,noexec,nosuid,nodev", "rw,noexec,nodev,size=1m", "rw,nosuid,nodev,size=1m"]
)
def test_a_tmpfs_without_size_or_hardening_fails(options: str) -> None:
    assert violations("tmpfs-capped", long_running(tmpfs={"/tmp": options}))  # noqa: S108


@pytest.mark.parametrize(
    "change",
    [
        {"volumes": [{"hostPath": "/var/run/docker.sock", "containerPath": "/sock"}]},
        {"volumes": [{"volumeName": "v", "containerPath": "/run/docker.sock"}]},
        {"mounts": [{"type": "bind", "source": "/run/docker.sock/", "target": "/x"}]},
        {"uploads": [{"file": "/var/run/docker.sock", "content": ""}]},
    ],
)
def test_the_docker_socket_in_any_form_fails(change: dict[str, Any]) -> None:
    assert violations("no-docker-socket", long_running(**change))


def test_missing_ceilings_fail() -> None:
    assert violations("resource-ceilings", long_running(ulimits=None))
    assert violations("resource-ceilings", long_running(ulimits=[{"name": "nofile", "soft": 1.0, "hard": 1.0}]))
    assert violations("resource-ceilings", long_running(cpuShares=None))
    assert violations("resource-ceilings", one_shot(attach=None, start=False, ulimits=None, cpuShares=None)) == []


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


def test_a_fragment_alone_is_judged_on_what_it_sets_not_on_what_its_nginx_conf_sets() -> None:
    """The pool egress's hosts file (pool/routes.conf) is included by an nginx.conf with ssl_protocols."""
    fragment = "upstream pool-host-gpu1 { server 10.0.0.11:11443; }"

    def carrier(text: str) -> dict[str, Any]:
        return edge(uploads=Secret([{"file": "/etc/nginx/pool/routes.conf", "content": text}]), ports=None)

    assert violations("tls-modern-or-intermediate", carrier(fragment)) == []
    assert violations("tls-modern-or-intermediate", carrier(fragment + "\nssl_protocols TLSv1 TLSv1.3;"))


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


def test_the_acme_volume_setup_alone_may_add_chown() -> None:
    chown = {"drops": ["ALL"], "adds": ["CAP_CHOWN"]}
    setup = one_shot(name="llmstack-prod-acme-volume-setup", image="goacme/lego:v4.9.1", capabilities=chown)
    assert violations("capabilities-dropped", setup) == []
    lego = long_running(name="llmstack-prod-acme", image="goacme/lego:v4.9.1", capabilities=chown)
    (message,) = violations("capabilities-dropped", lego)
    assert "CHOWN" in message
    (message,) = violations("capabilities-dropped", {**setup, "capabilities": {"drops": ["ALL"], "adds": ["SETUID"]}})
    assert "SETUID" in message


def test_a_dns_token_for_one_zone_and_dns_only_passes() -> None:
    assert violations("dns-token-zone-scoped", dns_token(), API_TOKEN) == []
    # A deny policy narrows a token: it is never a violation.
    deny = {"effect": "deny", "permissionGroups": [{"id": "all"}], "resources": '{"*": "*"}'}
    assert violations("dns-token-zone-scoped", dns_token(extra_policies=[deny]), API_TOKEN) == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"resources": '{"com.cloudflare.api.account.zone.*": "*"}'}, "zone.*"),
        ({"resources": '{"com.cloudflare.api.account.0123456789abcdef0123456789abcdef": "*"}'}, "account"),
        ({"resources": "{}"}, "names no zone"),
        ({"resources": "not json"}, "not a JSON object"),
        (
            {
                "permissionGroups": [
                    {"id": "4755a26eedb94da69e1066d98aa820be"},
                    {"id": "e086da7e2179491d91ee5f35b3ca210a"},
                ]
            },
            "e086da7e2179491d91ee5f35b3ca210a",
        ),
    ],
    ids=["every-zone", "whole-account", "no-resource", "bad-json", "extra-permission"],
)
def test_a_broader_dns_token_fails_naming_what_is_too_broad(change: dict[str, Any], named: str) -> None:
    (message,) = violations("dns-token-zone-scoped", dns_token(**change), API_TOKEN)
    assert named in message


def test_a_token_without_policies_fails() -> None:
    assert violations("dns-token-zone-scoped", {"name": "t", "policies": []}, API_TOKEN)


def test_the_pack_allows_exactly_the_permission_groups_the_program_asks_for() -> None:
    from components.acme_token import DNS_WRITE, ZONE_READ
    from policy.tokens import ALLOWED_PERMISSION_GROUPS

    assert set(ALLOWED_PERMISSION_GROUPS) == {ZONE_READ, DNS_WRITE}


def _prometheus(ip: str, **overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": "llmstack-dev-prometheus",
        "image": "prom/prometheus:v2.42.0",
        "ports": [{"internal": 9090.0, "external": 9090.0, "ip": ip}],
        "uploads": [{"file": "/etc/prometheus/prometheus.yml", "content": "scrape_configs: []\n"}],
    }
    return long_running(**{**props, **overrides})


def test_prometheus_publishes_on_the_hosts_loopback_only() -> None:
    assert violations("internal-services-unpublished", _prometheus("127.0.0.1")) == []
    assert violations("internal-services-unpublished", _prometheus("127.0.0.1", image=DIGEST)) == []
    for address in ("0.0.0.0", "192.168.50.10", "::"):  # noqa: S104
        (message,) = violations("internal-services-unpublished", _prometheus(address))
        assert "loopback" in message


def test_a_container_named_like_prometheus_must_carry_its_config() -> None:
    # Under the engine a name is all that says prometheus: an Ollama named …-prometheus has no prometheus.yml.
    ollama = _prometheus("127.0.0.1", image=DIGEST, uploads=[])
    (message,) = violations("internal-services-unpublished", ollama)
    assert "no prometheus.yml" in message
    # A readable image wins over the name.
    assert violations("internal-services-unpublished", _prometheus("127.0.0.1", image="ollama/ollama:0.12.6"))


def test_the_nginx_exporter_is_not_the_edge_and_needs_no_healthcheck() -> None:
    exporter = long_running(
        name="llmstack-dev-nginx-exporter",
        image="nginx/nginx-prometheus-exporter:0.11.0",
        ports=[{"internal": 9113.0, "ip": "127.0.0.1"}],
        healthcheck=None,
    )
    (message,) = violations("internal-services-unpublished", exporter)
    assert "nginx-exporter" in message
    assert violations("healthcheck", exporter) == []
    assert violations("healthcheck", {**exporter, "image": DIGEST}) == []
    # Only that image: any other container without a healthcheck still fails.
    assert violations("healthcheck", long_running(healthcheck=None))


def test_a_network_namespace_is_the_containers_own_but_for_the_tunnel_watch() -> None:
    watch = long_running(name="llmstack-prod-cloudflared-watch", networkMode="container:0123abcd")
    assert violations("own-network-namespace", watch) == []
    assert violations("own-network-namespace", long_running(networkMode="none")) == []
    (host,) = violations("own-network-namespace", long_running(networkMode="host"))
    assert "host" in host
    (other,) = violations("own-network-namespace", long_running(networkMode="container:0123abcd"))
    assert "llmstack-dev-litellm" in other
    assert "tunnel watch" in other
    # The watch itself may not publish or join networks of its own.
    assert violations("own-network-namespace", {**watch, "ports": [{"internal": 9104.0}]})
    assert violations("own-network-namespace", {**watch, "networksAdvanced": [{"name": "x"}]})
    assert violations("own-network-namespace", {**watch, "networkMode": "host"})
