"""The keys file LiteLLM's auth hook reads: digests and permissions, never a key."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from components.settings.model import ApiFamily


@dataclass(frozen=True, kw_only=True)
class KeyDigest:
    """One accepted key, as its SHA-256 digest."""

    sha256: str
    """Hex digest of the key."""
    not_after: float | None = None
    """Epoch seconds after which the key stops working (a rotated-out key's grace window)."""


@dataclass(frozen=True, kw_only=True)
class ClientEntry:
    """One client as the auth hook sees it."""

    name: str
    """Client name (LiteLLM's key alias)."""
    models: tuple[str, ...] | None
    """Allowed client-facing model names; None: all."""
    apis: tuple[ApiFamily, ...]
    """Allowed API families."""
    rpm_limit: int | None
    """Requests per minute, enforced by LiteLLM."""
    admin: bool
    """Admin routes allowed."""
    keys: tuple[KeyDigest, ...]
    """Keys that authenticate as this client."""


def key_digest(key: str) -> str:
    """SHA-256 of a key: keys are 48 random characters, so no salt or slow hash is needed."""
    return hashlib.sha256(key.encode()).hexdigest()


def render_keys_file(entries: tuple[ClientEntry, ...], master: tuple[KeyDigest, ...]) -> str:
    """The exact keys-file text: the clients, and the master (admin) key's digest beside them."""
    clients = [
        {
            "name": entry.name,
            # LiteLLM reads an empty model list as "every model".
            "models": list(entry.models or ()),
            "apis": list(entry.apis),
            "rpm_limit": entry.rpm_limit,
            "admin": entry.admin,
            "keys": [{"sha256": key.sha256, "not_after": key.not_after} for key in entry.keys],
        }
        for entry in sorted(entries, key=lambda e: e.name)
    ]
    masters = [{"sha256": key.sha256, "not_after": key.not_after} for key in master]
    return json.dumps({"version": 1, "clients": clients, "master": masters}, indent=2, sort_keys=True) + "\n"
