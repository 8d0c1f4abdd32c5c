"""Cloudflare API tokens the stack creates: the narrowest that DNS-01 needs, in named zones only."""

from __future__ import annotations

import json
import re

from policy.props import Props, entries, field, mapping, value

TOKEN_TYPE = "cloudflare:index/apiToken:ApiToken"  # noqa: S105 - a resource type, not a secret
ALLOWED_PERMISSION_GROUPS = {
    "c8fed203ed3043cba015a93ad1616f1f": "Zone Read",
    "4755a26eedb94da69e1066d98aa820be": "DNS Write",
}
"""What lego's DNS-01 step needs (find the zone, add and remove its TXT record), and nothing more.

Kept here as well as in components/acme_token.py: the pack imports no Pulumi provider (a test holds
the two equal)."""

_ZONE_RESOURCE = re.compile(r"^com\.cloudflare\.api\.account\.zone\.[0-9a-f]{32}$")


def dns_token_scope(resource_type: str, props: Props) -> list[str]:
    """Every allow policy of a created token names single zones and only Zone Read and DNS Write.

    A token the program creates sits in the stack's state and in the ACME container: scoped to one
    zone's DNS, a leak lets an attacker edit that zone's records, not the account.
    """
    if resource_type != TOKEN_TYPE:
        return []
    policies = entries(field(props, "policies"))
    if not policies:
        return ["policies is empty: the token's scope is unknown"]
    problems = []
    for policy in map(mapping, policies):
        if value(policy.get("effect")) != "allow":
            continue
        problems += _permission_problems(policy) + _resource_problems(value(policy.get("resources")))
    return problems


def _permission_problems(policy: dict[str, object]) -> list[str]:
    ids = [str(value(mapping(group).get("id")) or "") for group in entries(policy.get("permissionGroups"))]
    extra = sorted(set(ids) - set(ALLOWED_PERMISSION_GROUPS))
    if not extra:
        return []
    allowed = ", ".join(f"{name} ({key})" for key, name in ALLOWED_PERMISSION_GROUPS.items())
    return [f"permission groups {extra} beyond what DNS-01 needs ({allowed})"]


def _resource_problems(resources: object) -> list[str]:
    try:
        scope = json.loads(resources) if isinstance(resources, str) else resources
    except ValueError:
        return [f"resources {resources!r} is not a JSON object of zones"]
    if not isinstance(scope, dict) or not scope:
        return [f"resources {resources!r} names no zone: the token would reach every zone of the account"]
    broad = sorted(key for key in scope if not _ZONE_RESOURCE.match(str(key)))
    if broad:
        return [f"resources {broad} are not single zones (com.cloudflare.api.account.zone.<zone id>)"]
    return []
