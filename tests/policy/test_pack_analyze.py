"""The pack as the engine drives it: pulumi-policy 1.21's own Analyze over engine-shaped requests.

Each request is what the Pulumi engine sends an analyzer (`MarshalProperties` with secrets and
unknowns kept): camelCase wire inputs in a protobuf Struct, numbers as doubles, secrets marked
value by value, values not known yet as the engine's unknown sentinel. The SDK's servicer then
strips the secret markers and wraps the inputs in its unknown-checking proxies, exactly as under
`pulumi preview`. The inputs come from the offline render (`Registration.wire`), so "the project's
stacks" are the stack files, and each violation is one change to a real resource.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from offline.engine import SECRET_SIG, SIG_KEY, OfflineRun, Registration, is_secret
from offline.render import read_stack_config
from policy.nginx_conf import CONF_LABEL
from policy.pack import PACK_NAME, policies
from policy.rules import RULES
from tests.support import ACME, LAN, STACK_FILES, TUNNEL, namespaced

Deploy = Callable[..., OfflineRun]
Wire = dict[str, Any]
LEGACY_TUNNEL_CONFIG = "cloudflare:index/tunnelConfig:TunnelConfig"


class Verdicts:
    """What the SDK answered for one resource: diagnostics by policy, deferrals, not-applicables."""

    def __init__(self, response: Any) -> None:
        level = analyzer_pb2.EnforcementLevel.Name
        self.blocking = {d.policyName for d in response.diagnostics if level(d.enforcementLevel) == "MANDATORY"}
        self.advice = {
            d.policyName
            for d in response.diagnostics
            if level(d.enforcementLevel) == "ADVISORY" and "during preview" not in d.message
        }
        self.deferred = {d.policyName for d in response.diagnostics if "can't run policy" in d.message}
        self.not_applicable = {n.policy_name for n in response.not_applicable}
        self.messages = [d.message for d in response.diagnostics]


@pytest.fixture(scope="module")
def servicer() -> Any:
    """The SDK's analyzer service with the pack's policies (what `PolicyPack` serves over gRPC)."""
    return _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", policies(), EnforcementLevel.MANDATORY)


def analyze(servicer: Any, resource_type: str, wire: Wire, name: str = "thing") -> Verdicts:
    properties = struct_pb2.Struct()
    json_format.ParseDict(wire, properties)
    request = analyzer_pb2.AnalyzeRequest(
        urn=f"urn:pulumi:dev::llmstack::{resource_type}::{name}", type=resource_type, name=name, properties=properties
    )
    return Verdicts(servicer.Analyze(request, None))


def secret(value: Any) -> Wire:
    return {SIG_KEY: SECRET_SIG, "value": value}


def first_preview(value: Any, key: str = "") -> Any:
    """Wire inputs as a first preview sends them: generated values (secrets, image IDs) unknown."""
    if is_secret(value):
        return secret(UNKNOWN_STRING_VALUE)
    if key == "image":
        return UNKNOWN_STRING_VALUE
    if isinstance(value, dict):
        return {k: first_preview(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [first_preview(v) for v in value]
    return value


@pytest.fixture(scope="module")
def stacks() -> dict[str, OfflineRun]:
    """Every stack file, rendered once."""
    from components.program import run
    from offline.engine import run_offline

    rendered = {}
    for stack_file in STACK_FILES:
        config, secret_keys = read_stack_config(stack_file, notify=lambda _: None)
        stack = stack_file.name.split(".")[1]
        rendered[stack] = run_offline(run, stack=stack, config=config, secret_keys=secret_keys)
    # No stack file uses tlsSource acme (it needs a real zone): its resources come from a rendered config.
    rendered["acme"] = run_offline(run, stack="acme", config=namespaced(ACME))
    return rendered


def changed(resource: Registration, change: Callable[[Wire], None]) -> Wire:
    wire = copy.deepcopy(resource.wire)
    change(wire)
    return wire


def _uploads(wire: Wire, edit: Callable[[str], str]) -> None:
    """Edit the nginx.conf a container carries: an upload (a carrier) or the label nginx carries it in."""
    for upload in wire.get("uploads") or []:
        if isinstance(upload.get("content"), str) and upload["file"].endswith("nginx.conf"):
            upload["content"] = edit(upload["content"])
    for label in wire.get("labels") or []:
        if label["label"] == CONF_LABEL:
            label["value"] = edit(label["value"])


def _set(key: str, value: Any) -> Callable[[Wire], None]:
    return lambda wire: wire.__setitem__(key, value)


def _append(key: str, value: Any) -> Callable[[Wire], None]:
    return lambda wire: wire.__setitem__(key, [*wire.get(key, []), value])


def _renamed_ollama_publishing(wire: Wire) -> None:
    wire["name"] = "llm-backend"
    wire["ports"] = [{"internal": 11434.0, "external": 11434.0, "ip": "127.0.0.1", "protocol": "tcp"}]


def _token_for_every_zone(wire: Wire) -> None:
    wire["policies"][0]["resources"] = '{"com.cloudflare.api.account.zone.*": "*"}'


def _tunnel_to_litellm(wire: Wire) -> None:
    wire["config"]["ingresses"][0]["service"] = "http://litellm:4000"


VIOLATIONS: dict[str, tuple[str, str, Callable[[Wire], None]]] = {
    # rule: (stack, resource, the change that breaks it)
    "no-privileged-containers": ("dev", "gateway-container", _set("privileged", True)),
    "capabilities-dropped": ("dev", "gateway-container", _set("capabilities", {"drops": ["NET_RAW"]})),
    "no-new-privileges": ("dev", "gateway-container", _set("securityOpts", [])),
    "memory-limit": ("dev", "gateway-container", lambda wire: wire.pop("memory")),
    "restart-policy": ("dev", "gateway-container", _set("restart", "no")),
    "healthcheck": ("dev", "gateway-container", lambda wire: wire.pop("healthcheck")),
    "log-rotation": ("dev", "gateway-container", _set("logDriver", "syslog")),
    "image-tag-pinned": ("dev", "ollama-image", _set("name", "ollama/ollama:latest")),
    "image-digest-pinned": ("dev", "ollama-image", _set("name", "ollama/ollama:0.12.6")),
    "internal-services-unpublished": ("dev", "ollama-container", _renamed_ollama_publishing),
    "no-wildcard-publish": ("dev", "edge-container", lambda wire: wire["ports"][0].__setitem__("ip", "0.0.0.0")),  # noqa: S104
    "tls-modern-or-intermediate": (
        "dev",
        "edge-container",
        lambda wire: _uploads(wire, lambda conf: conf.replace("ssl_protocols TLSv1.3;", "ssl_protocols TLSv1.2;")),
    ),
    "ollama-behind-mutual-tls": (
        "dev",
        "edge-container",
        lambda wire: _uploads(wire, lambda conf: conf.replace("http://litellm:4000", "http://ollama:11434")),
    ),
    "plaintext-secrets": ("dev", "gateway-container", _append("envs", "OPENAI_API_KEY=sk-" + "Q" * 40)),
    "tunnel-ingress-to-nginx": ("prod", "tunnel-config", _tunnel_to_litellm),
    "dns-token-zone-scoped": ("acme", "acme-dns-token", _token_for_every_zone),
    "no-host-paths": (
        "dev",
        "gateway-container",
        _append("volumes", {"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock"}),
    ),
    "no-host-namespaces": ("dev", "gateway-container", _set("pidMode", "host")),
    "own-network-namespace": ("prod", "gateway-container", _set("networkMode", "container:0123abcd")),
    "no-host-devices": ("dev", "ollama-container", _append("devices", {"hostPath": "/dev/kmsg"})),
    "default-confinement": ("dev", "gateway-container", _append("securityOpts", "seccomp=unconfined")),
    "no-shared-mount-propagation": (
        "dev",
        "gateway-container",
        _append(
            "mounts", {"target": "/data", "type": "bind", "source": "/srv", "bindOptions": {"propagation": "rshared"}}
        ),
    ),
    "no-privileged-ports": ("dev", "edge-container", lambda wire: wire["ports"][0].__setitem__("external", 443.0)),
    "non-root": ("dev", "edge-container", _set("user", "0:0")),
    "read-only-root": ("dev", "gateway-container", _set("readOnly", False)),
    "tmpfs-capped": ("dev", "gateway-container", _set("tmpfs", {"/tmp": "rw,exec"})),  # noqa: S108
    "no-docker-socket": (
        "dev",
        "ollama-container",
        _append("mounts", {"type": "volume", "target": "/run/docker.sock"}),
    ),
    "resource-ceilings": ("dev", "ollama-container", lambda wire: wire.pop("ulimits")),
}


STACK_VIOLATIONS: dict[str, tuple[str, str, Callable[[Wire], None]]] = {
    "publish-without-nat-out": ("dev", "network-publish", lambda wire: wire.pop("options")),
}
"""The rules over the whole stack: the engine sends every resource at once (AnalyzeStack)."""


def analyze_stack(servicer: Any, run: OfflineRun, changes: dict[str, Wire] | None = None) -> Verdicts:
    """What the SDK answers for the stack's resources sent together, some of them changed."""
    resources = []
    for resource in run.resources:
        properties = struct_pb2.Struct()
        json_format.ParseDict((changes or {}).get(resource.name, resource.wire), properties)
        resources.append(
            analyzer_pb2.AnalyzerResource(
                urn=f"urn:pulumi:dev::llmstack::{resource.type}::{resource.name}",
                type=resource.type,
                name=resource.name,
                properties=properties,
            )
        )
    return Verdicts(servicer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources), None))


def test_every_rule_has_an_engine_shaped_violation() -> None:
    assert set(VIOLATIONS) | set(STACK_VIOLATIONS) == {rule.name for rule in RULES}
    assert set(STACK_VIOLATIONS) == {rule.name for rule in RULES if rule.check_stack is not None}


@pytest.mark.parametrize("rule", [rule for rule in RULES if rule.check_stack is not None], ids=lambda rule: rule.name)
def test_a_violating_stack_fails_under_the_engine_and_the_unchanged_one_passes(
    rule: Any, servicer: Any, stacks: dict[str, OfflineRun]
) -> None:
    stack, name, change = STACK_VIOLATIONS[rule.name]
    run = stacks[stack]
    assert rule.name not in analyze_stack(servicer, run).blocking
    after = analyze_stack(servicer, run, {name: changed(run.named(name), change)})
    assert rule.name in after.blocking


@pytest.mark.parametrize("rule", [rule for rule in RULES if rule.check_stack is None], ids=lambda rule: rule.name)
def test_a_violating_resource_fails_under_the_engine_and_the_unchanged_one_passes(
    rule: Any, servicer: Any, stacks: dict[str, OfflineRun]
) -> None:
    stack, name, change = VIOLATIONS[rule.name]
    resource = stacks[stack].named(name)
    before = analyze(servicer, resource.type, resource.wire, name)
    after = analyze(servicer, resource.type, changed(resource, change), name)
    if rule.needs_secret_markers:
        # The SDK strips the markers: only the offline audit can judge this one (see test_pack.py).
        assert rule.name in after.not_applicable
        return
    if rule.name == "image-digest-pinned":  # the stacks pin tags only: the advice shows before and after
        assert rule.name in before.advice
        assert rule.name in after.advice
        return
    assert rule.name not in before.blocking | before.advice | before.deferred
    assert rule.name in (after.blocking if rule.mandatory else after.advice)


def test_the_legacy_tunnel_config_type_fails_under_the_engine_too(servicer: Any, stacks: dict[str, OfflineRun]) -> None:
    resource = stacks["prod"].named("tunnel-config")
    assert analyze(servicer, LEGACY_TUNNEL_CONFIG, resource.wire).blocking == set()
    verdict = analyze(servicer, LEGACY_TUNNEL_CONFIG, changed(resource, _tunnel_to_litellm))
    assert "tunnel-ingress-to-nginx" in verdict.blocking


@pytest.mark.parametrize("stack", [*(p.name.split(".")[1] for p in STACK_FILES), "acme"])
def test_every_stack_passes_every_mandatory_policy_under_the_engine(
    stack: str, servicer: Any, stacks: dict[str, OfflineRun]
) -> None:
    run = stacks[stack]
    assert len(run.of_type("docker:index/container:Container")) >= 3
    for resource in run.resources:
        verdict = analyze(servicer, resource.type, resource.wire, resource.name)
        assert verdict.blocking == set(), (resource.name, verdict.messages)
        assert verdict.deferred == set(), (resource.name, verdict.messages)
    whole = analyze_stack(servicer, run)
    assert (whole.blocking, whole.deferred) == (set(), set()), whole.messages


def test_a_first_preview_blocks_known_violations_despite_unknown_neighbours(servicer: Any, deploy: Deploy) -> None:
    edge = deploy(**{**LAN, "listenAddress": "0.0.0.0"}).named("edge-container")  # noqa: S104
    preview = first_preview(edge.wire)
    # The files' digest follows the TLS key, unknown on a first preview; the nginx.conf label is known.
    unknown_envs = [e for e in preview["envs"] if e == secret(UNKNOWN_STRING_VALUE)]
    assert unknown_envs, "the files' digest must be unknown for this to mean anything"
    assert preview["image"] == UNKNOWN_STRING_VALUE

    compliant = analyze(servicer, edge.type, preview)
    assert compliant.blocking == set()
    # Only the rules that need the image itself wait for `up`.
    assert compliant.deferred == {"image-tag-pinned", "image-digest-pinned"}

    def weaken(wire: Wire) -> None:
        _uploads(wire, lambda conf: conf.replace("ssl_protocols TLSv1.3;", "ssl_protocols TLSv1.2;"))
        _uploads(wire, lambda conf: conf.replace("deny all;", "allow all;"))

    weakened = analyze(servicer, edge.type, first_preview(changed(edge, weaken)))
    assert weakened.blocking == {"tls-modern-or-intermediate", "no-wildcard-publish"}


def test_a_first_preview_of_a_tunnel_stack_blocks_nothing_and_defers_only_image_rules(
    servicer: Any, deploy: Deploy
) -> None:
    run = deploy(**TUNNEL)
    for resource in run.resources:
        verdict = analyze(servicer, resource.type, first_preview(resource.wire), resource.name)
        assert verdict.blocking == set(), (resource.name, verdict.messages)
        assert verdict.deferred <= {"image-tag-pinned", "image-digest-pinned"}, (resource.name, verdict.messages)


def test_an_ollama_renamed_under_the_engine_still_may_not_publish(servicer: Any, deploy: Deploy) -> None:
    ollama = deploy().named("ollama-container")
    assert ollama.wire["image"].startswith("sha256:"), "the render must give the engine's image ID"
    verdict = analyze(servicer, ollama.type, first_preview(changed(ollama, _renamed_ollama_publishing)))
    assert "internal-services-unpublished" in verdict.blocking
