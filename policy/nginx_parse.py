"""A small nginx configuration parser: directives and blocks, quotes and comments as nginx reads them.

Enough for the checks (which directive sits in which block), not a validator: the live tests run
the rendered files in the real nginx (`nginx -t`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Directive:
    """One `name args…;` or `name args… { … }`."""

    name: str
    """The directive's name, e.g. `location`."""
    args: list[str]
    """Its arguments, quotes removed."""
    block: list[Directive] | None = field(default=None)
    """The directives inside its braces; None for a simple directive."""


class ParseError(ValueError):
    """The text is not a well-formed nginx configuration (unbalanced braces or quotes)."""


def parse(text: str) -> list[Directive]:
    """The top-level directives of `text`."""
    stack: list[list[Directive]] = [[]]
    words: list[str] = []
    for word, quoted in _tokens(text):
        if quoted or word not in ("{", "}", ";"):
            words.append(word)
        elif word == ";":
            if words:
                stack[-1].append(Directive(words[0], words[1:]))
            words = []
        elif word == "{":
            if not words:
                raise ParseError("a block without a name")
            inner: list[Directive] = []
            stack[-1].append(Directive(words[0], words[1:], inner))
            stack.append(inner)
            words = []
        else:
            if len(stack) == 1 or words:
                raise ParseError("unbalanced `}`")
            stack.pop()
    if len(stack) != 1 or words:
        raise ParseError("unterminated block or directive")
    return stack[0]


def _tokens(text: str) -> Iterator[tuple[str, bool]]:
    """(token, was quoted) pairs; `{`, `}` and `;` are tokens of their own unless quoted."""
    at, end = 0, len(text)
    while at < end:
        char = text[at]
        if char.isspace():
            at += 1
        elif char == "#":
            newline = text.find("\n", at)
            at = end if newline < 0 else newline
        elif char in "{};":
            yield char, False
            at += 1
        elif char in "'\"":
            at, word = _quoted(text, at)
            yield word, True
        else:
            start = at
            while at < end and not text[at].isspace() and text[at] not in "{};'\"":
                # `${name}` is a variable, not a block.
                at = text.index("}", at) + 1 if text.startswith("${", at) and "}" in text[at:] else at + 1
            yield text[start:at], False


def _quoted(text: str, at: int) -> tuple[int, str]:
    quote, at, word = text[at], at + 1, []
    while at < len(text):
        if text[at] == "\\" and at + 1 < len(text):
            word.append(text[at + 1])
            at += 2
        elif text[at] == quote:
            return at + 1, "".join(word)
        else:
            word.append(text[at])
            at += 1
    raise ParseError("unterminated quoted string")
