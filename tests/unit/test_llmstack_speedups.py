"""The LiteLLM lookup fix (components/shipped/litellm/llmstack_speedups.py), in-process with the real LiteLLM.

The replacement must answer exactly as LiteLLM's own code does, for names in the model map in any
letter case, with and without Ollama prefixes, for names not in it, and for models registered
after start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import version
from types import ModuleType

import litellm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litellm.llms.ollama.common_utils import OllamaModelInfo

from components.shipped.litellm.llmstack_contract import TESTED_LITELLM_VERSION
from tests.support import load_shipped

ORIGINAL: Callable[[str], bool] = OllamaModelInfo._is_static_ollama_model


def load_speedups() -> ModuleType:
    return load_shipped("llmstack_speedups")


@pytest.fixture(scope="module")
def replaced() -> Iterator[Callable[[str], bool]]:
    """LiteLLM with the fix applied, restored afterwards."""
    with pytest.MonkeyPatch.context() as restore:
        # Setting the current descriptor first makes leaving the block put it back.
        restore.setattr(OllamaModelInfo, "_is_static_ollama_model", OllamaModelInfo.__dict__["_is_static_ollama_model"])
        assert load_speedups().apply() is True
        yield OllamaModelInfo._is_static_ollama_model


def recase(name: str, flips: list[bool]) -> str:
    padded = (flips + [False] * len(name))[: len(name)]
    return "".join(c.upper() if flip else c.lower() for c, flip in zip(name, padded, strict=True))


MAP_KEYS = sorted(litellm.model_cost)
prefixes = st.sampled_from(["", "ollama/", "ollama_chat/", "OLLAMA/", "openai/"])
mapped = st.builds(lambda key, flips: recase(key, flips), st.sampled_from(MAP_KEYS), st.lists(st.booleans()))
unmapped = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.:-/", min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(prefix=prefixes, name=st.one_of(mapped, unmapped))
def test_the_replacement_answers_as_litellm_does(replaced: Callable[[str], bool], prefix: str, name: str) -> None:
    assert replaced(prefix + name) == ORIGINAL(prefix + name)


def test_both_answers_occur(replaced: Callable[[str], bool]) -> None:
    assert replaced("ollama_chat/" + next(k for k in MAP_KEYS if k.startswith("ollama/")).removeprefix("ollama/"))
    assert not replaced("ollama_chat/no-such-model:1b")


def test_a_model_registered_later_is_seen(replaced: Callable[[str], bool]) -> None:
    name = "ollama_chat/llmstack-registered-later:1b"
    assert not replaced(name)
    before = set(litellm.model_cost)
    litellm.register_model({name: {"litellm_provider": "ollama_chat", "mode": "chat"}})
    try:
        assert replaced(name) is True
        recased = "ollama_chat/LLMSTACK-Registered-Later:1B"
        assert replaced(recased) is ORIGINAL(recased) is True
    finally:
        for added in set(litellm.model_cost) - before:
            litellm.model_cost.pop(added)
        litellm.utils._invalidate_model_cost_lowercase_map()
    assert not replaced(name)


def test_another_litellm_version_is_left_alone() -> None:
    before = OllamaModelInfo.__dict__["_is_static_ollama_model"]
    assert load_speedups().apply(expected_version="0.0.0") is False
    assert OllamaModelInfo.__dict__["_is_static_ollama_model"] is before


def test_the_fix_targets_the_litellm_the_stack_pins_and_tests() -> None:
    assert version("litellm") == TESTED_LITELLM_VERSION
