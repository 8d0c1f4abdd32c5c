"""Parsing the `clients` map: one entry per API client, each validated field by field."""

from __future__ import annotations

import json
import re
from typing import Any

from components.settings_model import API_FAMILIES, ApiFamily, ClientSpec
from components.settings_rules import RawConfig

_CLIENT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_FIELDS = ("models", "apis", "rpmLimit", "admin")


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
    return tuple(_client(raw, name, value[name], served_models) for name in sorted(value))


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
