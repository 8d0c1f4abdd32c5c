"""The policy pack (policy/pack.py) as pulumi-policy objects; PolicyPack itself is never built here."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from offline.engine import SECRET_SIG, SIG_KEY
from policy.egress import NETWORK
from policy.pack import NOT_APPLICABLE_WITHOUT_MARKERS, policies
from policy.rules import RULES
from tests.policy.resources import (
    API_KEY,
    CONTAINER,
    edge,
    engine_view,
    long_running,
    violations,
)
from tests.support import PROJECT_DIR
from tools import policy_lock


class ReportViolationSpy:
    """Test double for pulumi-policy's `report_violation` callback: records what a policy reports."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, str | None]] = []

    def __call__(self, message: str, urn: str | None = None) -> None:
        """Record one reported violation."""
        self.reports.append((message, urn))


def no_options() -> PolicyResourceOptions:
    """Resource options as the SDK passes them for a resource that sets none."""
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
    )


def validation_args(props: dict[str, Any], resource_type: str = CONTAINER) -> ResourceValidationArgs:
    """What the SDK passes a policy: inputs behind its unknown-checking proxy."""
    options = no_options()
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
        if rule.check_stack is not None:
            assert isinstance(policy, StackValidationPolicy)
            assert policy.validate is not None
        else:
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
        if not rule.needs_secret_markers and rule.check_stack is None:
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


def test_a_stack_policy_reports_each_violation_against_its_resources_urn() -> None:
    (policy,) = [p for p in policies() if p.name == "publish-without-nat-out"]
    assert isinstance(policy, StackValidationPolicy)
    options = no_options()
    network_urn = f"urn:pulumi:dev::llmstack::{NETWORK}::publish"
    edge_urn = "urn:pulumi:dev::llmstack::docker:index/container:Container::edge"
    nginx = {**engine_view(edge()), "networksAdvanced": [{"name": "llmstack-dev-publish"}]}
    resources = [
        PolicyResource(NETWORK, {"name": "llmstack-dev-publish"}, network_urn, "publish", options, None, None, [], {}),
        PolicyResource(CONTAINER, unknown_checking_proxy(nginx), edge_urn, "edge", options, None, None, [], {}),
    ]
    spy = ReportViolationSpy()
    policy.validate(StackValidationArgs(resources, None), spy)
    assert [urn for _, urn in spy.reports] == [edge_urn]
    assert "masquerades" in spy.reports[0][0]
