"""Parsing the `clients` map: one entry per API client, each validated field by field."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from components.settings.model import API_FAMILIES, ApiFamily, ClientSpec
from components.settings.rules import EPOCH, RawConfig

_CLIENT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_FIELDS = ("models", "apis", "rpmLimit", "admin", "epoch", "previousEpoch", "previousValidUntil")


def parse_clients(raw: RawConfig, served_models: tuple[str, ...]) -> tuple[ClientSpec, ...]:
    """The `clients` map as `ClientSpec`s in name order; every bad field is reported."""
    text = raw.raw_value("clients")
    if text is None:
        return ()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raw.errors.add("clients", text, "a map of client name to {models, apis, rpmLimit, admin}")
        return ()
    clients = tuple(_client(raw, name, value[name], served_models) for name in sorted(value))
    _check_key_labels(raw, clients)
    return clients


def _check_key_labels(raw: RawConfig, clients: tuple[ClientSpec, ...]) -> None:
    """Two keys may not share a resource name: `vs` at epoch `code-1` and `vs-code` at `1` would.

    The engine refuses a duplicate resource name only after resources were created; refuse it here.
    """
    owners: dict[str, str] = {}
    for client in clients:
        for field, epoch in (("epoch", client.epoch), ("previousEpoch", client.previous_epoch)):
            if epoch is None:
                continue
            label = client.key_label(epoch)
            if label in owners:
                raw.errors.add(
                    f"clients.{client.name}.{field}",
                    epoch,
                    f"an epoch that does not give the key the name '{label}' of {owners[label]} (change either)",
                )
            owners.setdefault(label, f"clients.{client.name}.{field}")


def _client(raw: RawConfig, name: str, spec: Any, served_models: tuple[str, ...]) -> ClientSpec:
    key = f"clients.{name}"
    if not _CLIENT_NAME.match(name):
        raw.errors.add(key, name, "a client name of lowercase letters, digits and -, at most 40 characters")
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raw.errors.add(key, json.dumps(spec), "a map with any of: " + ", ".join(_FIELDS))
        spec = {}
    for field in sorted(set(spec) - set(_FIELDS)):
        raw.errors.add(f"{key}.{field}", json.dumps(spec[field]), "one of the fields " + ", ".join(_FIELDS))
    return ClientSpec(
        name=name,
        models=_models(raw, key, spec.get("models"), served_models),
        apis=_apis(raw, key, spec.get("apis")),
        rpm_limit=_rpm(raw, key, spec.get("rpmLimit")),
        admin=_admin(raw, key, spec.get("admin", False)),
        **_epochs(raw, key, spec),
    )


def _models(raw: RawConfig, key: str, value: Any, served: tuple[str, ...]) -> tuple[str, ...] | None:
    if value is None or value == "*" or value == ["*"]:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(m, str) for m in value):
        raw.errors.add(f"{key}.models", json.dumps(value), "a non-empty list of served model names, or '*'")
        return ()
    for model in value:
        if model not in served:
            raw.errors.add(f"{key}.models", model, "one of the served models: " + ", ".join(served))
    return tuple(dict.fromkeys(value))


def _apis(raw: RawConfig, key: str, value: Any) -> tuple[ApiFamily, ...]:
    if value is None:
        return API_FAMILIES
    if not isinstance(value, list) or not value or not set(value) <= set(API_FAMILIES):
        raw.errors.add(f"{key}.apis", json.dumps(value), "a non-empty list of: " + ", ".join(API_FAMILIES))
        return ()
    return tuple(family for family in API_FAMILIES if family in value)


def _rpm(raw: RawConfig, key: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
        raw.errors.add(f"{key}.rpmLimit", json.dumps(value), "a whole number of requests per minute, 1 to 1000000")
        return None
    return value


def _admin(raw: RawConfig, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raw.errors.add(f"{key}.admin", json.dumps(value), "true or false")
        return False
    return value


def _epochs(raw: RawConfig, key: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The key generation, and the previous one kept for a grace window."""
    epoch = str(spec.get("epoch", "0"))
    previous = spec.get("previousEpoch")
    until_text = spec.get("previousValidUntil")
    for field, value in (("epoch", epoch), ("previousEpoch", previous)):
        if value is not None and not EPOCH.match(str(value)):
            raw.errors.add(f"{key}.{field}", str(value), "a label of letters, digits, . _ - (at most 32), e.g. 2026-11")
    if previous is not None and str(previous) == epoch:
        raw.errors.add(f"{key}.previousEpoch", str(previous), "a generation other than the current epoch")
    if (previous is None) != (until_text is None):
        raw.errors.add(f"{key}.previousValidUntil", str(until_text), "set together with previousEpoch")
    until = None
    if until_text is not None:
        try:
            parsed = datetime.datetime.fromisoformat(str(until_text).replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raw.errors.add(
                f"{key}.previousValidUntil", str(until_text), "an ISO 8601 time with a zone, e.g. 2026-12-01T00:00:00Z"
            )
        else:
            until = parsed.timestamp()
    return {
        "epoch": epoch,
        "previous_epoch": None if previous is None else str(previous),
        "previous_valid_until": until,
    }
