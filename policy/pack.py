"""The checklist as pulumi-policy `ResourceValidationPolicy` objects (the pack itself is in `__main__.py`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from policy.egress import StackResource
from policy.props import Unknown, UnknownInputError
from policy.rules import RULES, Rule, StackCheck

PACK_NAME = "llmstack-security"

NOT_APPLICABLE_WITHOUT_MARKERS = (
    "pulumi-policy unwraps secret inputs before validation, so plaintext and secret values look alike "
    "here; `make audit STACK=<stack>` enforces this rule over the offline render, which keeps the markers"
)
"""Why a rule that needs secret markers does not run under the engine."""


def policies() -> list[Policy]:
    """One policy per checklist rule, mandatory or advisory as the rule says."""
    return [_policy(rule) for rule in RULES]


def _policy(rule: Rule) -> Policy:
    level = EnforcementLevel.MANDATORY if rule.mandatory else EnforcementLevel.ADVISORY
    if rule.check_stack is not None:
        return StackValidationPolicy(
            name=rule.name,
            description=rule.description,
            validate=stack_validator(rule.check_stack),
            enforcement_level=level,
        )
    return ResourceValidationPolicy(
        name=rule.name,
        display_name=rule.title,
        description=rule.description,
        validate=validator(rule),
        enforcement_level=level,
    )


def stack_validator(check: StackCheck) -> StackValidation:
    """The validate callback of a rule over the whole stack: each violation reported against its resource."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [StackResource(r.urn, r.resource_type, engine_props(r.props)) for r in args.resources]
        try:
            found = check(resources)
        except UnknownInputError as error:
            raise UnknownValueError(error.unknown.sentinel, list(error.unknown.path)) from error
        for urn, message in found:
            report_violation(message, urn)

    return validate


def validator(rule: Rule) -> ResourceValidation:
    """The validate callback for `rule`: each message becomes a violation of the analysed resource.

    A rule that needs a value unknown during preview, and finds no violation in the known ones,
    is deferred the SDK's way (`UnknownValueError`: a "can't run during preview" notice; it runs
    again on `up`).
    """

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if rule.needs_secret_markers:
            args.not_applicable(NOT_APPLICABLE_WITHOUT_MARKERS)
            return
        try:
            messages = rule.check(args.resource_type, engine_props(args.props))
        except UnknownInputError as error:
            raise UnknownValueError(error.unknown.sentinel, list(error.unknown.path)) from error
        for message in messages:
            report_violation(message, args.urn)

    return validate


def engine_props(props: Mapping[str, Any]) -> dict[str, Any]:
    """The SDK's read-only proxies as plain dicts and lists, each unknown value an `Unknown`.

    The proxies raise on reading an unknown value; reading element by element here keeps every
    known value readable, whatever is unknown beside it.
    """
    return {key: _copy(props, key, (key,)) for key in props}


def _copy(container: Any, key: Any, path: tuple[str, ...]) -> Any:
    try:
        item = container[key]
    except UnknownValueError as error:
        return Unknown(path=path, sentinel=error.unknown_type_sentinel)
    if isinstance(item, Mapping):
        return {name: _copy(item, name, (*path, str(name))) for name in item}
    if isinstance(item, Sequence) and not isinstance(item, str | bytes):
        return [_copy(item, index, (*path, str(index))) for index in range(len(item))]
    return item
