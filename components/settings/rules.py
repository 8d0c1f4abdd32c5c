"""Parsing rules for raw config strings: each names the key, the bad value and what is allowed."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from typing import TypeVar

import pulumi

from components.settings.keys import (
    DECLARED_KEYS,
    KNOWN_KEY_NAMES,
    NAMESPACE,
)
from components.settings.model import ImageRef, ModelKind, ModelSpec
from components.shipped.litellm.llmstack_contract import TESTED_LITELLM_VERSION

_DEFAULTS = {k.name: k.default for k in DECLARED_KEYS}
_REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]{1,5})?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_OLLAMA_TAG = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_DefaultValue = str | int | bool | tuple[str, ...]


def _is_default(raw: str, default: _DefaultValue) -> bool:
    """Whether `raw` is `default` as the Pulumi CLI passes it (JSON for lists, `true`/`false`)."""
    if isinstance(default, tuple):
        try:
            return bool(json.loads(raw) == list(default))
        except ValueError:
            return False
    if isinstance(default, bool):
        return raw.strip().lower() == str(default).lower()
    return raw.strip() == str(default)


EPOCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
_DOCKER_HOST = re.compile(r"^(unix|tcp|ssh|npipe)://\S+$")
_MALICIOUS_LITELLM = ("1.82.7", "1.82.8")

T = TypeVar("T", bound=str)


class SettingsError(pulumi.RunError, ValueError):
    """Stack config that cannot be deployed; the message lists every problem.

    A `RunError`: the Pulumi CLI prints its message alone, without a Python traceback.
    """


class ConfigErrors:
    """Collects every config problem so one run reports them all."""

    def __init__(self) -> None:
        self._problems: list[str] = []

    def add(self, key: str, value: str, allowed: str) -> None:
        """Record that `key` has a bad `value` and say what is allowed."""
        self._problems.append(f"{NAMESPACE}:{key} = {value!r} is not valid: expected {allowed}")

    def raise_if_any(self) -> None:
        """Raise one `SettingsError` naming every recorded problem."""
        if self._problems:
            raise SettingsError("invalid stack config:\n  " + "\n  ".join(self._problems))


class RawConfig:
    """Typed access to raw config strings, applying the declared defaults."""

    def __init__(self, values: Mapping[str, str], errors: ConfigErrors) -> None:
        self._values = values
        self.errors = errors

    def reject_unknown_keys(self) -> None:
        """Unknown keys are errors: a typo must not silently fall back to a default."""
        for key in sorted(set(self._values) - KNOWN_KEY_NAMES):
            self.errors.add(key, self._values[key], f"one of the known keys: {', '.join(sorted(KNOWN_KEY_NAMES))}")

    def raw_value(self, key: str) -> str | None:
        """The raw string as the stack set it, or None when unset or set to its declared default.

        The Pulumi CLI passes every `Pulumi.yaml` default as if the stack had set it, so a value
        equal to the default says nothing about the user's choice (tests/engine/test_config_errors.py).
        """
        value = self._values.get(key)
        if value is None or (key in _DEFAULTS and _is_default(value, _DEFAULTS[key])):
            return None
        return value

    def text(self, key: str) -> str:
        """The raw string, or the declared default."""
        value = self._values.get(key)
        return str(_DEFAULTS[key]) if value is None else value.strip()

    def choice(self, key: str, allowed: Sequence[T]) -> T:
        """One of `allowed`."""
        value = self.text(key)
        for option in allowed:
            if value == option:
                return option
        self.errors.add(key, value, " or ".join(allowed))
        return allowed[0]

    def integer(self, key: str, low: int, high: int) -> int:
        """A whole number in [low, high]."""
        value = self.text(key)
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            self.errors.add(key, value, f"a whole number from {low} to {high}")
            fallback = _DEFAULTS[key]
            return fallback if isinstance(fallback, int) else low
        return number

    def boolean(self, key: str) -> bool:
        """A boolean: true or false."""
        value = self.text(key).lower()
        if value not in ("true", "false"):
            self.errors.add(key, value, "true or false")
        return value == "true"

    def string_list(self, key: str) -> tuple[str, ...]:
        """A list of strings (YAML list in the stack file, JSON from the engine)."""
        value = self._values.get(key)
        if value is None:
            default = _DEFAULTS[key]
            return default if isinstance(default, tuple) else ()
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
            self.errors.add(key, value, f"a list of strings (set items with `pulumi config set --path '{key}[0]' …`)")
            return ()
        return tuple(item.strip() for item in parsed)

    def cidr_list(self, key: str) -> tuple[str, ...]:
        """A list of networks in CIDR notation, without host bits."""
        networks = []
        for item in self.string_list(key):
            try:
                networks.append(str(ipaddress.ip_network(item, strict=True)))
            except ValueError:
                self.errors.add(key, item, "a network in CIDR notation without host bits, e.g. 192.168.1.0/24")
        return tuple(networks)

    def ip_address(self, key: str, value: str, *, loopback_only: bool) -> str:
        """An IP address; a loopback one where the exposure mode demands it."""
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            self.errors.add(key, value, "an IP address")
            return value
        if loopback_only and not address.is_loopback:
            self.errors.add(
                key,
                value,
                "a loopback address (127.0.0.0/8 or ::1) in local mode; use exposure: lan to publish elsewhere",
            )
        return str(address)

    def hostname(self, key: str) -> str:
        """A DNS name or IP address, or empty for the mode's default."""
        value = self.text(key).lower()
        if value and not _HOSTNAME.match(value):
            try:
                ipaddress.ip_address(value)
            except ValueError:
                self.errors.add(key, value, "a DNS name or IP address")
        return value

    def image(self, key: str) -> ImageRef:
        """A pinned image reference: repository:tag[@sha256:digest], never latest."""
        value = self.text(key)
        reference, _, digest = value.partition("@")
        repository, colon, tag = reference.rpartition(":")
        if not colon or "/" in tag or not _REPOSITORY.match(repository):
            repository, tag = reference, ""
        problems = [
            not _REPOSITORY.match(repository),
            not _TAG.match(tag) or tag == "latest",
            bool(digest) and not _DIGEST.match(digest),
        ]
        if any(problems):
            self.errors.add(key, value, "repository:tag with a pinned tag (not latest), optionally @sha256:<64 hex>")
        return ImageRef(repository=repository, tag=tag, digest=digest or None)

    def litellm_image(self, key: str) -> ImageRef:
        """The LiteLLM image, whose tag must carry the tested version."""
        image = self.image(key)
        version = re.search(r"(?<![0-9.])[0-9]+\.[0-9]+\.[0-9]+(?![0-9])", image.tag)
        if version is None or version.group(0) != TESTED_LITELLM_VERSION:
            found = version.group(0) if version else "no version"
            reason = " (a known-malicious release)" if found in _MALICIOUS_LITELLM else ""
            self.errors.add(
                key,
                image.reference,
                f"a tag carrying the tested LiteLLM version {TESTED_LITELLM_VERSION}, found {found}{reason}",
            )
        return image

    def model(self, entry: str, key: str = "models", kind: ModelKind = "chat") -> ModelSpec:
        """One 'client-name=ollama-tag' entry of `key`."""
        name, equals, tag = (part.strip() for part in entry.partition("="))
        if not equals or not _MODEL_NAME.match(name) or not _OLLAMA_TAG.match(tag):
            self.errors.add(
                key,
                entry,
                "'client-name=ollama-tag', e.g. 'qwen2.5-0.5b=qwen2.5:0.5b' (name: lowercase letters, digits, . _ -)",
            )
        return ModelSpec(name=name, tag=tag, kind=kind)

    def epoch(self, key: str) -> str:
        """A rotation epoch: a short label such as 2026-11 (it becomes part of resource names)."""
        value = self.text(key)
        if not EPOCH.match(value):
            self.errors.add(key, value, "a label of letters, digits, . _ - (at most 32), e.g. 2026-11")
        return value

    def docker_host(self, key: str) -> str:
        """Empty, or a Docker engine URL."""
        value = self.text(key)
        if value and not _DOCKER_HOST.match(value):
            self.errors.add(key, value, "empty or a Docker host URL: unix://, tcp://, ssh:// or npipe://")
        return value
