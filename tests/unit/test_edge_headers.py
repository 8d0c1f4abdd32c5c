"""The edge's header lists, checked against LiteLLM itself rather than against the code under test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import litellm
from fastapi.params import Security
from fastapi.security import APIKeyHeader
from litellm.proxy.auth.user_api_key_auth import user_api_key_auth

from components.render.nginx import FOREIGN_KEY_HEADERS, INTERNAL_RESPONSE_HEADERS
from tests.support import load_shipped

KEY_HEADER = load_shipped("llmstack_requests").KEY_HEADER

_HEADER_LITERAL = re.compile(r"""["'](x-litellm-[a-z0-9-]*[a-z0-9])["']""")


def litellm_key_headers() -> set[str]:
    """The headers LiteLLM's auth reads a key from: the APIKeyHeader dependencies of its entry point."""
    names = set()
    for parameter in inspect.signature(user_api_key_auth).parameters.values():
        if isinstance(parameter.default, Security) and isinstance(parameter.default.dependency, APIKeyHeader):
            names.add(parameter.default.dependency.model.name.lower())
    return names


def test_the_edge_forwards_no_key_header_but_its_own() -> None:
    # The edge sets x-litellm-api-key to the key it counted and clears Authorization; any other
    # header LiteLLM takes a key from must be cleared too, or it is a bucket the edge never saw.
    key_headers = litellm_key_headers()
    assert {"authorization", KEY_HEADER} <= key_headers, "the introspection still finds LiteLLM's headers"
    assert key_headers - {"authorization", KEY_HEADER} == {name.lower() for name in FOREIGN_KEY_HEADERS}


def test_every_x_litellm_header_litellm_names_is_dropped_at_the_edge() -> None:
    source = Path(litellm.__file__).parent
    named = {match for path in source.rglob("*.py") for match in _HEADER_LITERAL.findall(path.read_text())}
    assert len(named) > 50, "the scan still finds LiteLLM's header names"
    assert sorted(named - set(INTERNAL_RESPONSE_HEADERS)) == []
