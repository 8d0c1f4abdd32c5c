"""The narrowest Cloudflare token DNS-01 needs, created by the stack.

Imported only when the stack creates the token: `import pulumi_cloudflare` takes seconds.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_cloudflare as cloudflare

ZONE_READ = "c8fed203ed3043cba015a93ad1616f1f"
"""Cloudflare's permission group "Zone Read": lego looks the zone's id up by its name."""
DNS_WRITE = "4755a26eedb94da69e1066d98aa820be"
"""Cloudflare's permission group "DNS Write": lego adds and removes the _acme-challenge TXT record."""


def dns_edit_token(name: str, token_name: str, zone_id: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    """A token that may read one zone and edit its DNS records, nothing else (its value is secret).

    The provider's own token (`cloudflare:apiToken`) must be allowed to create tokens ("API Tokens
    Write"); if it is not, give a token with `--secret acmeDnsApiToken` instead.
    """
    token = cloudflare.ApiToken(
        name,
        name=token_name,
        policies=[
            cloudflare.ApiTokenPolicyArgs(
                effect="allow",
                permission_groups=[
                    cloudflare.ApiTokenPolicyPermissionGroupArgs(id=ZONE_READ),
                    cloudflare.ApiTokenPolicyPermissionGroupArgs(id=DNS_WRITE),
                ],
                resources=json.dumps({f"com.cloudflare.api.account.zone.{zone_id}": "*"}),
            )
        ],
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.Output.secret(token.value.apply(lambda value: value or ""))
