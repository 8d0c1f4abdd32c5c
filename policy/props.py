"""Reading resource inputs the same way under the policy engine and in the offline audit.

Inputs arrive in wire form: camelCase keys, numbers as floats. Both callers hand the rules plain
dicts and lists: the offline audit wraps secret values in `Secret`, element by element as the
program marked them; the pack (`pack.py`) turns the values the engine does not know yet (first
preview: image IDs, generated keys) into `Unknown`. Readers here look at one value at a time and
raise `UnknownInputError` only when the value a rule needs is unknown, so a rule still judges
the known values beside it (`each`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

Props = Mapping[str, Any]
"""A resource's inputs, keyed by wire (camelCase) name."""

T = TypeVar("T")


@dataclass(frozen=True)
class Secret:
    """An input the program marked secret (offline audit only)."""

    value: Any
    """The revealed value."""


@dataclass(frozen=True)
class Unknown:
    """An input the engine does not know yet (a preview before the resource it comes from exists)."""

    path: tuple[str, ...]
    """Where it sits in the inputs, e.g. ("uploads", "2", "content")."""
    sentinel: str = ""
    """The engine's marker for it (kept so the pack can defer the rule the SDK's way)."""


class UnknownInputError(Exception):
    """A rule needs a value that is unknown during preview; it runs again on `up`."""

    def __init__(self, unknown: Unknown) -> None:
        super().__init__(f"{'.'.join(unknown.path)} is not known during preview")
        self.unknown = unknown


def value(item: Any) -> Any:
    """`item` with a `Secret` wrapper removed; raises `UnknownInputError` when it is unknown."""
    while isinstance(item, Secret):
        item = item.value
    if isinstance(item, Unknown):
        raise UnknownInputError(item)
    return item


def field(props: Props, key: str) -> Any:
    """One input (not its contents: elements are read when needed), or None when it is absent."""
    return value(props.get(key))


def text(props: Props, key: str) -> str:
    """A string input, or "" when it is absent or not a string."""
    found = field(props, key)
    return found if isinstance(found, str) else ""


def known_text(props: Props, key: str) -> str:
    """A string input, or "" when it is absent, not a string or not known yet."""
    try:
        return text(props, key)
    except UnknownInputError:
        return ""


def entries(item: Any) -> list[Any]:
    """The elements of a list input, each as it is (maybe secret or unknown); [] when not a list."""
    found = value(item)
    return list(found) if _is_sequence(found) else []


def strings(item: Any) -> list[str]:
    """The string elements of a list input; raises when one of them is unknown."""
    return [element for element in map(value, entries(item)) if isinstance(element, str)]


def mapping(item: Any) -> dict[str, Any]:
    """An object input (its values as they are); {} when it is absent or not an object."""
    found = value(item)
    return dict(found) if isinstance(found, Mapping) else {}


def each(items: Iterable[T], check: Callable[[T], list[str]]) -> list[str]:
    """The problems `check` finds in every item it can judge.

    An item that needs an unknown value is skipped; the rule is deferred (the first such error is
    raised) only when the known items show no problem, so a known violation blocks a preview.
    """
    problems: list[str] = []
    pending: UnknownInputError | None = None
    for item in items:
        try:
            problems += check(item)
        except UnknownInputError as error:
            pending = pending or error
    if pending is not None and not problems:
        raise pending
    return problems


def plain(item: Any) -> Any:
    """`item` with every `Secret` unwrapped, deep (unknown values stay `Unknown`)."""
    if isinstance(item, Secret):
        return plain(item.value)
    if isinstance(item, Mapping):
        return {key: plain(element) for key, element in item.items()}
    if _is_sequence(item):
        return [plain(element) for element in item]
    return item


def plaintext_items(item: Any) -> list[Any]:
    """The elements of a list input that are not secret; [] when the whole list is secret."""
    if isinstance(item, Secret) or not _is_sequence(item):
        return []
    return [element for element in item if not isinstance(element, Secret)]


def _is_sequence(item: Any) -> bool:
    return isinstance(item, Sequence) and not isinstance(item, str | bytes)
