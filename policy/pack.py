"""The checklist as pulumi-policy `ResourceValidationPolicy` objects (the pack itself is in `__main__.py`)."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from policy.rules import RULES, Rule

PACK_NAME = "llmstack-security"

NOT_APPLICABLE_WITHOUT_MARKERS = (
    "pulumi-policy unwraps secret inputs before validation, so plaintext and secret values look alike "
    "here; `make audit STACK=<stack>` enforces this rule over the offline render, which keeps the markers"
)
"""Why a rule that needs secret markers does not run under the engine."""


def policies() -> list[Policy]:
    """One policy per checklist rule, mandatory or advisory as the rule says."""
    return [
        ResourceValidationPolicy(
            name=rule.name,
            display_name=rule.title,
            description=rule.description,
            validate=validator(rule),
            enforcement_level=EnforcementLevel.MANDATORY if rule.mandatory else EnforcementLevel.ADVISORY,
        )
        for rule in RULES
    ]


def validator(rule: Rule) -> ResourceValidation:
    """The validate callback for `rule`: each message becomes a violation of the analysed resource.

    Inputs that are unknown during preview raise `UnknownValueError` when a check reads them; the
    SDK turns that into a "can't run during preview" notice and the check runs again on `up`.
    """

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if rule.needs_secret_markers:
            args.not_applicable(NOT_APPLICABLE_WITHOUT_MARKERS)
            return
        for message in rule.check(args.resource_type, args.props):
            report_violation(message, args.urn)

    return validate
