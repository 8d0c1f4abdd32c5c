"""Reading resource inputs the same way under the policy engine and in the offline audit.

Inputs arrive in wire form: camelCase keys, numbers as floats. Under `pulumi preview` the
policy SDK hands them over as read-only `Mapping`/`Sequence` proxies that raise on unknown
values, so nothing here assumes `dict` or `list`. The offline audit wraps secret inputs in
`Secret`; the policy SDK strips secret markers before a rule runs (see `rules.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Props = Mapping[str, Any]
"""A resource's inputs, keyed by wire (camelCase) name."""


@dataclass(frozen=True)
class Secret:
    """An input the program marked secret (offline audit only)."""

    value: Any
    """The revealed value."""


def plain(value: Any) -> Any:
    """`value` with every `Secret` unwrapped and proxies copied into dicts and lists."""
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if _is_sequence(value):
        return [plain(item) for item in value]
    return value


def field(props: Props, key: str) -> Any:
    """The plain value of one input, or None when it is absent."""
    return plain(props.get(key))


def text(props: Props, key: str) -> str:
    """A string input, or "" when it is absent or not a string."""
    value = field(props, key)
    return value if isinstance(value, str) else ""


def entries(value: Any) -> list[Any]:
    """The items of a list input; [] when it is absent or not a list."""
    value = plain(value)
    return value if isinstance(value, list) else []


def strings(value: Any) -> list[str]:
    """The string items of a list input."""
    return [item for item in entries(value) if isinstance(item, str)]


def mapping(value: Any) -> dict[str, Any]:
    """An object input; {} when it is absent or not an object."""
    value = plain(value)
    return value if isinstance(value, dict) else {}


def plaintext_items(value: Any) -> list[Any]:
    """The items of a list input that are not secret; [] when the whole list is secret."""
    if isinstance(value, Secret) or not _is_sequence(value):
        return []
    return [item for item in value if not isinstance(item, Secret)]


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)
